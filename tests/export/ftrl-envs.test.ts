// FTRL rows back into environments: a Python environment's exported rows (JSON Lines and Parquet) imported as environments without gold plans, served, and its tools giving the original outputs; bad rows named by line, nothing written.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { environmentsFromRows, splitToolCodes, toolCodes, transcripts, type RowRead } from "../../src/export/index.ts";
import { parseEnvironmentText } from "../../src/load/index.ts";
import { OraclePolicy, oracleFactory, randomFactory, type PolicyFactory } from "../../src/run/index.ts";
import { Environment, type EnvironmentInput } from "../../src/schema/index.ts";
import { Records } from "../../src/store/index.ts";
import { memoryIo } from "../helpers/io.ts";
import { runInMemory, tempDir } from "../run/helpers.ts";

/** Paper-style Python tools: `norm` shared by two tools, `RATES` used by one, `UNUSED` by none. */
const INPUT: EnvironmentInput = {
  format: "envforge/environment@1",
  id: "py-rows",
  title: "Films in Python",
  domain: "films",
  scenario: "multi-hop",
  complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
  provenance: { generator: "test", version: "1", seed: 0 },
  tools: [
    { name: "get_film", description: "Look up a film by title.", input_schema: { type: "object", properties: { title: { type: "string" } }, required: ["title"] } },
    { name: "get_person", description: "Look up a person by name.", input_schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
    { name: "convert_price", description: "Convert a ticket price in USD.", input_schema: { type: "object", properties: { amount: { type: "number" }, to: { type: "string", enum: ["EUR", "GBP"] } }, required: ["amount", "to"] } },
  ],
  implementation: {
    language: "python",
    prelude: 'import json\n\ndef norm(s):\n    return s.strip().lower()\n\nRATES = {"EUR": 0.5, "GBP": 0.25}\n\nUNUSED = 1\n',
    tools: {
      get_film: `def get_film(title):
    films = [{"title": "Crimson Harbor", "director": "Elena Vastrova", "price_usd": 12}]
    for f in films:
        if norm(f["title"]) == norm(title):
            return json.dumps(f)
    raise ValueError('No film titled "%s" was found.' % title)
`,
      get_person: `def get_person(name):
    people = {"elena vastrova": {"name": "Elena Vastrova", "born": 1961}}
    if norm(name) not in people:
        raise KeyError(name)
    return json.dumps(people[norm(name)], ensure_ascii=False)
`,
      convert_price: `def convert_price(amount, to):
    return {"amount": amount * RATES[to], "currency": to}
`,
    },
  },
  tasks: [
    {
      id: "director-birth-year",
      question: "In what year was the director of Crimson Harbor born?",
      unsolved_set: { get_film: ["Elena Vastrova"], get_person: ["1961"] },
      answer: "1961",
      gold_plan: [
        { id: "s1", tool: "get_film", arguments: { title: "Crimson Harbor" }, yields: "Elena Vastrova" },
        { id: "s2", tool: "get_person", arguments: { name: "Elena Vastrova" }, depends_on: ["s1"], yields: "1961" },
      ],
    },
    {
      id: "price-in-euros",
      question: "What does a 12 USD ticket cost in EUR?",
      unsolved_set: { convert_price: ["6"] },
      answer: "6",
      gold_plan: [{ id: "s1", tool: "convert_price", arguments: { amount: 12, to: "EUR" }, yields: "6" }],
    },
  ],
};
const ENV = Environment.parse(INPUT);

const tmp = tempDir("envforge-ftrl-envs-");
const db = join(tmp.dir, "rollouts.db");
const envDir = join(tmp.dir, "envs");

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const m = memoryIo({ cwd: tmp.dir });
  const code = await main(argv, m.io);
  return { code, out: m.out(), err: m.err() };
}

function readEnv(file: string): Environment {
  const parsed = parseEnvironmentText(readFileSync(file, "utf8"), file);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.env;
}

/** The tool outputs of every recorded episode, in order. */
function outputsIn(file: string, env: Environment): string[][] {
  const records = Records.open(file);
  try {
    const stats = { episodes: 0, exported: 0, rows: 0, bytes: 0, skipped: {} };
    return [...transcripts(records, [env], {}, stats)].map((t) => t.turns.flatMap((turn) => turn.toolMessages.map((m) => m.content ?? "")));
  } finally {
    records.close();
  }
}

beforeAll(async () => {
  mkdirSync(envDir);
  writeFileSync(join(envDir, "py-rows.json"), JSON.stringify(INPUT));
  await runInMemory(db, { environments: [ENV], policy: oracleFactory(), n: 1 });
  await runInMemory(db, { environments: [ENV], policy: randomFactory(3), n: 4 });
  for (const [format, out] of [["ftrl", "rows.jsonl"], ["parquet", "rows.parquet"]]) {
    const r = await run(["export", "--format", format!, "--db", db, "--dir", envDir, "--out", out!]);
    if (r.code !== 0) throw new Error(r.err);
  }
}, 180_000);
afterAll(() => tmp.cleanup());

describe("envforge import --from ftrl-rows", { timeout: 120_000 }, () => {
  it("rebuilds the environment from its rows: same tools, tasks without gold plans, shared helpers once in the prelude", async () => {
    const r = await run(["import", "--from", "ftrl-rows", "rows.jsonl", "--out", "imported"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wrote .*py-rows\.json \(2 tasks, 3 tools; static checks only: the dynamic gate needs a gold plan/);
    const env = readEnv(join(tmp.dir, "imported/py-rows.json"));
    expect(env.tools).toEqual(ENV.tools);
    expect(env.tasks).toEqual(ENV.tasks.map((t) => ({ id: t.id, question: t.question, unsolved_set: t.unsolved_set, answer: t.answer, gold_plan: [] })));
    expect(env.implementation.language).toBe("python");
    // json and norm are in two tools' codes; RATES only in convert_price's; UNUSED in none.
    expect(env.implementation.prelude).toBe("import json\n\ndef norm(s):\n    return s.strip().lower()\n");
    expect(env.implementation.tools.convert_price).toContain("RATES = ");
    expect(env.implementation.tools.get_film).not.toContain("def norm");
    expect(JSON.stringify(env)).not.toContain("UNUSED");
    // Exported again, the rows' codes are what they were.
    expect(toolCodes(env)).toEqual(toolCodes(ENV));
  });

  it("reads the Parquet export to the same environment", async () => {
    const r = await run(["import", "--from", "ftrl-rows", "rows.parquet", "--out", "from-parquet"]);
    expect(r.code).toBe(0);
    const fromParquet = readFileSync(join(tmp.dir, "from-parquet/py-rows.json"), "utf8");
    expect(fromParquet.replace('"file": "rows.parquet"', '"file": "rows.jsonl"')).toBe(readFileSync(join(tmp.dir, "imported/py-rows.json"), "utf8"));
  });

  it("serves the imported environment: the original gold calls give the original outputs and solve every sub-answer", async () => {
    const env = readEnv(join(tmp.dir, "imported/py-rows.json"));
    const byId = new Map(ENV.tasks.map((t) => [t.id, t]));
    // The original task's oracle, playing against the imported environment over MCP.
    const original: PolicyFactory = { label: "oracle", create: ({ task }) => new OraclePolicy(byId.get(task.id)!) };
    const served = join(tmp.dir, "served.db");
    const summary = await runInMemory(served, { environments: [env], policy: original, n: 1 });
    const fresh = join(tmp.dir, "fresh.db");
    await runInMemory(fresh, { environments: [ENV], policy: oracleFactory(), n: 1 });
    const outputs = outputsIn(served, env);
    expect(outputs.flat()).toHaveLength(3);
    expect(outputs).toEqual(outputsIn(fresh, ENV));
    expect(summary.results.map((e) => e.score?.ftrl.solve_rate)).toEqual([1, 1]);
  });

  it("validates statically; the dynamic gate says it needs a gold plan; the oracle refuses", async () => {
    const file = join(tmp.dir, "imported/py-rows.json");
    expect((await run(["validate", "--static", file])).code).toBe(0);
    const dynamic = await run(["validate", file]);
    expect(dynamic.code).toBe(1);
    expect(dynamic.err + dynamic.out).toContain("task director-birth-year has no gold plan (as in imported FTRL rows), so the dynamic gate cannot run on it");
    expect(() => new OraclePolicy(readEnv(file).tasks[0]!)).toThrow("task director-birth-year has no gold plan, so the oracle has nothing to play");
  });

  it("groups rows from elsewhere by data_source and question, one environment per toolset", async () => {
    const rows = readFileSync(join(tmp.dir, "rows.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const foreign = rows.map((r) => ({ ...r, data_source: "ftrl_train", extra: 1 }));
    writeFileSync(join(tmp.dir, "foreign.jsonl"), foreign.map((r) => JSON.stringify(r)).join("\n"));
    const r = await run(["import", "--from", "ftrl-rows", "foreign.jsonl", "--out", "foreign"]);
    expect(r.code).toBe(0);
    const [written] = /wrote (\S+)/.exec(r.out)!.slice(1);
    const env = readEnv(written!);
    expect(env.id).toMatch(/^ftrl-ftrl_train-[0-9a-f]{8}$/);
    expect(env.tasks.map((t) => [t.id, t.question, t.answer])).toEqual([
      ["t1", ENV.tasks[0]!.question, "1961"],
      ["t2", ENV.tasks[1]!.question, "6"],
    ]);
  });

  it("rebuilds the same tasks from any order and any subset of the rows that keeps each task's first row", async () => {
    const lines = readFileSync(join(tmp.dir, "rows.jsonl"), "utf8").trim().split("\n").map((l, i) => ({ where: `line ${i + 1}`, value: JSON.parse(l) as { solve_rate: number } }));
    const first = lines.filter((r) => r.value.solve_rate === 0);
    const later = lines.filter((r) => r.value.solve_rate !== 0);
    const tasksOf = async (rows: RowRead[]) => {
      const { environments, problems } = await environmentsFromRows(rows, "rows.jsonl");
      expect(problems).toEqual([]);
      return environments.map((e) => ({ ...e, provenance: null, tasks: [...e.tasks].sort((a, b) => a.id.localeCompare(b.id)) }));
    };
    const whole = await tasksOf(lines);
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(later), fc.integer({ min: 0, max: 1000 }), async (some, at) => {
        const rows = [...some];
        for (const r of first) rows.splice(at % (rows.length + 1), 0, r);
        expect(await tasksOf(rows)).toEqual(whole);
      }),
      { numRuns: 50 },
    );
  });

  it("names every bad row by its line and writes nothing", async () => {
    const rows = readFileSync(join(tmp.dir, "rows.jsonl"), "utf8").trim().split("\n");
    const good = JSON.parse(rows[0]!) as Record<string, unknown>;
    const js = { ...good, codes: JSON.stringify({ get_film: "(args) => 1", get_person: "(args) => 2", convert_price: "(args) => 3" }) };
    const noQuestion = { ...good, messages: [{ role: "system", content: "be brief" }] };
    const badSet = { ...good, unsolved_set: "{\"get_film\": \"Elena\"}" };
    writeFileSync(join(tmp.dir, "bad.jsonl"), [rows[0], "{not json", JSON.stringify(js), JSON.stringify(noQuestion), JSON.stringify(badSet)].join("\n"));
    const r = await run(["import", "--from", "ftrl-rows", "bad.jsonl", "--out", "bad-out"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.jsonl: line 2: not JSON/);
    expect(r.err).toContain('line 3: the code of "get_film" defines no Python function named get_film');
    expect(r.err).toContain("line 4: no user message with text, so no question");
    expect(r.err).toMatch(/line 5: unsolved_set: get_film: /);
    expect(existsSync(join(tmp.dir, "bad-out"))).toBe(false);
  });

  it("refuses a task whose rows never show every sub-answer pending", async () => {
    const rows = readFileSync(join(tmp.dir, "rows.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { solve_rate: number; data_source: string });
    const later = rows.filter((r) => r.data_source.endsWith("/director-birth-year") && r.solve_rate === 0.5);
    expect(later.length).toBeGreaterThan(0);
    writeFileSync(join(tmp.dir, "later.jsonl"), later.map((r) => JSON.stringify(r)).join("\n"));
    const r = await run(["import", "--from", "ftrl-rows", "later.jsonl", "--out", "later-out"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("line 1: solve_rate 0.5 with 1 pending means 2 sub-answers in all, but the task's rows show 1 (its row at solve_rate 0, which holds every sub-answer, is missing)");
    expect(existsSync(join(tmp.dir, "later-out"))).toBe(false);
  });
});

describe("splitToolCodes", () => {
  it("undoes toolCodes: the rebuilt environment exports the same definitions, with each shared helper once in the prelude", () => {
    const helpers = ["A", "B", "C", "D"].map((n, i) => `def h${n}(x):\n    return x + ${i}`);
    fc.assert(
      fc.property(fc.array(fc.subarray([0, 1, 2, 3]), { minLength: 1, maxLength: 4 }), (uses) => {
        const names = uses.map((_, i) => `tool_${i}`);
        const env = {
          ...ENV,
          tools: names.map((name) => ({ name, description: "t", input_schema: { type: "object" as const } })),
          implementation: {
            language: "python" as const,
            prelude: `${helpers.join("\n\n")}\n`,
            tools: Object.fromEntries(names.map((name, i) => [name, `def ${name}(x):\n    return ${["x", ...uses[i]!.map((h) => `h${"ABCD"[h]}(x)`)].join(" + ")}\n`])),
          },
        } as Environment;
        const codes = toolCodes(env);
        const split = splitToolCodes(codes);
        // The same definitions (a tool's own helpers now come after the shared ones).
        const definitions = (c: Record<string, string>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.split(/\n+(?=def )/).map((d) => d.trim()).sort()]));
        expect(definitions(toolCodes({ ...env, implementation: { language: "python", ...split } }))).toEqual(definitions(codes));
        const shared = [0, 1, 2, 3].filter((h) => uses.filter((u) => u.includes(h)).length >= 2);
        // Rows do not say how helpers no tool shares were ordered, so the prelude is compared as a set.
        expect(split.prelude.split("\n\n").filter(Boolean).map((d) => d.trim()).sort()).toEqual(shared.map((h) => helpers[h]).sort());
      }),
    );
  });
});
