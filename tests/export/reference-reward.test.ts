// A Python environment's exported rows scored by a Python statement of the FTRL reward that execs the rows' own codes: identical to ours on every row, in ftrl and verl layout; over a Python-deployed suite, every row but those a write before the call changes (pinned).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRequests, buildWrite, planRequest, uniformComplexity, writeSuiteRequests } from "../../src/construct/index.ts";
import { exportRecords, ftrlRows, transcripts } from "../../src/export/index.ts";
import { toolCodes } from "../../src/export/codes.ts";
import { OraclePolicy, oracleFactory, randomFactory, type AssistantTurn, type Policy, type PolicyFactory, type TurnRequest } from "../../src/run/index.ts";
import { compileEnvironment, formatCallError } from "../../src/runtime/index.ts";
import { scoreStep } from "../../src/score/index.ts";
import { Environment, type ChatMessage, type FtrlRow, type UnsolvedSet } from "../../src/schema/index.ts";
import { Records } from "../../src/store/index.ts";
import { runInMemory, tempDir } from "../run/helpers.ts";
import { readParquet } from "./helpers.ts";

/** Paper-style Python tools: def name(**params), records inline, a shared helper in the prelude. */
const PY_FILMS = Environment.parse({
  format: "envforge/environment@1",
  id: "py-films",
  title: "Films in Python",
  domain: "films",
  scenario: "multi-hop",
  complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 1 },
  provenance: { generator: "test", version: "1", seed: 0 },
  tools: [
    { name: "get_film", description: "Look up a film by title.", input_schema: { type: "object", properties: { title: { type: "string" } }, required: ["title"] } },
    { name: "get_person", description: "Look up a person by name.", input_schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } },
    { name: "get_rating", description: "A film's rating.", input_schema: { type: "object", properties: { title: { type: "string" } }, required: ["title"] } },
  ],
  implementation: {
    language: "python",
    prelude: "def norm(s):\n    return s.strip().lower()\n\nUNUSED = 1\n",
    tools: {
      get_film: `def get_film(title):
    films = [{"title": "Crimson Harbor", "director": "Elena Vastrova", "year": 1994}, {"title": "Salt Meridian", "director": "Tomas Okonkwo-Reyes", "year": 2003}]
    for f in films:
        if norm(f["title"]) == norm(title):
            return f
    raise ValueError('No film titled "%s" was found.' % title)
`,
      get_person: `def get_person(name):
    people = {"elena vastrova": {"name": "Elena Vastrova", "born": 1961, "height_m": 1.70}, "tomas okonkwo-reyes": {"name": "Tomas Okonkwo-Reyes", "born": 1958, "height_m": 1.8}}
    if norm(name) not in people:
        raise KeyError(name)
    return people[norm(name)]
`,
      get_rating: `def get_rating(title):
    return "%s is rated %.1f out of 10." % (title, 7.25)
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
  ],
});

const tmp = tempDir("envforge-pyreward-");
const db = join(tmp.dir, "rollouts.db");
const REWARD_PY = join(import.meta.dirname, "ftrl_reward.py");

beforeAll(async () => {
  await runInMemory(db, { environments: [PY_FILMS], policy: oracleFactory(), n: 2 });
  await runInMemory(db, { environments: [PY_FILMS], policy: randomFactory(5), n: 8 });
}, 180_000);
afterAll(() => tmp.cleanup());

/** The assistant turn as Qwen2.5 text: its content, then one <tool_call> block per call, arguments as exported. */
function hermesText(message: ChatMessage): string {
  if (message.role !== "assistant") throw new Error("not an assistant message");
  const calls = (message.tool_calls ?? []).map((tc) => `<tool_call>\n{"name": ${JSON.stringify(tc.function.name)}, "arguments": ${tc.function.arguments}}\n</tool_call>`);
  return [message.content ?? "", ...calls].filter(Boolean).join("\n");
}

function pythonScores(items: unknown[]): { score: number; outputs?: string[] }[] {
  const r = spawnSync("python3", [REWARD_PY], { input: items.map((i) => JSON.stringify(i)).join("\n"), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { score: number; outputs?: string[] }[];
}

/** Every exported ftrl row of the recorded episodes, with the response that followed it, our reward for it and the tool outputs we showed; plus the no-call rules on each row's state. */
function referenceItems(dbPath: string, env: Environment, episodes: number): { items: { kind: "ftrl"; row: FtrlRow; response: string }[]; ours: number[]; outputs: string[][]; agents: string[] } {
  const records = Records.open(dbPath);
  const items: { kind: "ftrl"; row: FtrlRow; response: string }[] = [];
  const ours: number[] = [];
  const outputs: string[][] = [];
  const agents: string[] = [];
  try {
    const stats = { episodes: 0, exported: 0, rows: 0, bytes: 0, skipped: {} };
    for (const t of transcripts(records, [env], {}, stats)) {
      const rows = ftrlRows(t);
      rows.forEach((row, i) => {
        const turn = t.turns[i];
        const next = turn ? turn.meta.message : t.final?.message;
        if (!next) return;
        const response = turn ? hermesText(rows[i + 1]!.messages[row.messages.length]!) : (next.content ?? "");
        const seen = turn ? turn.toolMessages.map((m) => m.content ?? "") : [];
        const state = { unsolved_set: JSON.parse(row.unsolved_set) as UnsolvedSet, solve_rate: row.solve_rate, answer: row.answer };
        items.push({ kind: "ftrl", row, response });
        ours.push(scoreStep(state, response, seen).rewards.f1);
        outputs.push(seen);
        agents.push(t.agent);
        // And the no-call rules on the same state: an answer, nothing, a broken call, plain text.
        for (const text of ["The answer is 1961.", "  <|im_end|>", "<tool_call>{broken</tool_call>", "I do not know."]) {
          items.push({ kind: "ftrl", row, response: text });
          ours.push(scoreStep(state, text, []).rewards.f1);
          outputs.push([]);
          agents.push(t.agent);
        }
      });
    }
    expect(stats.episodes).toBe(episodes);
  } finally {
    records.close();
  }
  return { items, ours, outputs, agents };
}

describe("the reference's reward on exported Python rows", { timeout: 120_000 }, () => {
  it("execs each row's codes, gets our tool outputs, and gives our per-step reward on every row", () => {
    const { items, ours, outputs } = referenceItems(db, PY_FILMS, 10);
    const theirs = pythonScores(items);
    expect(items.length).toBeGreaterThan(20);
    expect(theirs.map((r) => r.outputs)).toEqual(outputs);
    expect(theirs.map((r) => r.score)).toEqual(ours);
    // Every rule is exercised: calls that solve, calls that do not, final answers at several pending counts, -0.5, -0.3, 0.5.
    expect(new Set(ours)).toEqual(new Set([1, 0, 1 / 3, 0.5, -0.5, -0.3]));
  });

  it("writes verl's columns, which stock verl's compute_score signature scores the same", async () => {
    const out = join(tmp.dir, "verl.parquet");
    const records = Records.open(db);
    let rows: FtrlRow[] = [];
    try {
      await exportRecords({ records, environments: [PY_FILMS], format: "verl", out });
      const stats = { episodes: 0, exported: 0, rows: 0, bytes: 0, skipped: {} };
      rows = [...transcripts(records, [PY_FILMS], {}, stats)].flatMap((t) => ftrlRows(t));
    } finally {
      records.close();
    }
    const verl = await readParquet(readFileSync(out));
    expect(verl).toHaveLength(rows.length);
    expect(Object.keys(verl[0]!).sort()).toEqual(["ability", "data_source", "extra_info", "prompt", "reward_model"]);
    verl.forEach((v, i) => {
      const row = rows[i]!;
      expect(v).toMatchObject({ data_source: row.data_source, ability: "tool-use", reward_model: { style: "rule", ground_truth: row.answer } });
      expect(v.extra_info).toMatchObject({ index: BigInt(i), split: "train", unsolved_set: row.unsolved_set, solve_rate: row.solve_rate, tools: row.tools, codes: row.codes, answer: row.answer });
    });
    const toJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === "bigint" ? Number(x) : x)));
    const responses = ["The answer is 1961.", "", "<tool_call>\n{\"name\": \"get_film\", \"arguments\": {\"title\": \"Crimson Harbor\"}}\n</tool_call>"];
    const items = verl.flatMap((v) => responses.map((response) => ({ kind: "verl", row: toJson(v), response })));
    const ftrl = rows.flatMap((row) => responses.map((response) => ({ kind: "ftrl", row, response })));
    expect(pythonScores(items).map((r) => r.score)).toEqual(pythonScores(ftrl).map((r) => r.score));
  });
});

describe("the reference's reward on a Python-deployed build", () => {
  const deployedDb = join(tmp.dir, "deployed.db");
  let env: Environment;
  beforeAll(async () => {
    const request = planRequest({ count: 1, seed: 7, scenario: "multi-hop", complexity: uniformComplexity(2), domain: "films", language: "python" }, 0);
    env = (await buildRequests([request])).environments[0]!.env;
    await runInMemory(deployedDb, { environments: [env], policy: oracleFactory(), n: 2 });
    await runInMemory(deployedDb, { environments: [env], policy: randomFactory(5), n: 6 });
  }, 600_000);

  it("execs each tool's exported code alone (no state passed) and gets our outputs and our reward on every row", () => {
    expect(env.implementation.language).toBe("python");
    const { items, ours, outputs } = referenceItems(deployedDb, env, env.tasks.length * 8);
    const theirs = pythonScores(items);
    expect(outputs.flat().length).toBeGreaterThan(10);
    expect(theirs.map((r) => r.outputs)).toEqual(outputs);
    expect(theirs.map((r) => r.score)).toEqual(ours);
    // Each tool's code holds its own engine and no other kind's.
    for (const { row } of items) {
      const codes = JSON.parse(row.codes) as Record<string, string>;
      for (const code of Object.values(codes)) expect(["def ef_lookup(", "def ef_compute(", "def ef_act(", "def ef_side("].filter((e) => code.includes(e))).toHaveLength(1);
    }
  }, 300_000);
});

/**
 * A scripted bad agent: first it cancels the booking a later step of the plan changes (where the
 * environment can cancel), then it plays the oracle's plan with every call made twice in its turn, and
 * before answering makes the episode's first call once more; so writes are undone, repeated, and
 * looked at again after they were made.
 */
class StutterPolicy implements Policy {
  private readonly oracle: OraclePolicy;
  private first: NonNullable<AssistantTurn["message"]["tool_calls"]>[number] | undefined;
  private late = false;
  private undo: { name: string; args: Record<string, unknown> } | undefined;

  constructor(env: Environment, task: Environment["tasks"][number]) {
    this.oracle = new OraclePolicy(task);
    const cancel = env.tools.find((t) => t.name.startsWith("cancel_"));
    const step = task.gold_plan.find((s) => s.tool !== cancel?.name && env.tools.find((t) => t.name === s.tool)?.annotations?.readOnlyHint === false && Object.keys(s.arguments).some((k) => k.endsWith("_id")));
    const key = step && Object.keys(step.arguments).find((k) => k.endsWith("_id"))!;
    if (cancel && step && key) this.undo = { name: cancel.name, args: { [key]: step.arguments[key] } };
  }

  async next(request: TurnRequest): Promise<AssistantTurn> {
    if (this.undo) {
      const { name, args } = this.undo;
      this.undo = undefined;
      return { message: { role: "assistant", content: null, tool_calls: [{ id: "call_undo", type: "function", function: { name, arguments: JSON.stringify(args) } }] } };
    }
    const turn = await this.oracle.next(request);
    const calls = turn.message.tool_calls ?? [];
    if (calls.length === 0 && this.first && !this.late) {
      this.late = true;
      return { message: { role: "assistant", content: null, tool_calls: [{ ...this.first, id: `${this.first.id}_late` }] } };
    }
    this.first ??= calls[0];
    return calls.length === 0 ? turn : { message: { ...turn.message, tool_calls: calls.flatMap((c) => [c, { ...c, id: `${c.id}_again` }]) } };
  }
}
const stutterFactory = (): PolicyFactory => ({ label: "stutter", create: ({ env, task }) => new StutterPolicy(env, task) });
/** Whether any of an environment's tools may change its state. */
const writes = (env: Environment): boolean => env.tools.some((t) => t.annotations?.readOnlyHint !== true);

describe("the reference's reward over a Python-deployed suite", () => {
  const suiteDb = join(tmp.dir, "suite.db");
  const exported = join(tmp.dir, "suite.jsonl");
  let envs: Environment[];
  beforeAll(async () => {
    // Look-ups, computations and distractors under kebab-case names; a booking tool; and two write environments.
    const planned = await buildRequests([
      planRequest({ count: 1, seed: 10, scenario: "parallel-multi-hop", complexity: uniformComplexity(2), language: "python" }, 0),
      planRequest({ count: 3, seed: 11, scenario: "single-hop", complexity: uniformComplexity(2), domain: "hotels", language: "python" }, 0),
    ]);
    const writes = writeSuiteRequests("python").filter((r) => r.index === 0 && ((r.domain === "retail" && r.scenario === "parallel-multi-hop") || (r.domain === "travel" && r.scenario === "multi-hop")));
    envs = [...planned.environments.map((b) => b.env), ...(await Promise.all(writes.map(async (r) => (await buildWrite(r)).env)))];
    for (const policy of [oracleFactory(), randomFactory(3), stutterFactory()]) await runInMemory(suiteDb, { environments: envs, policy, n: policy.label === "random" ? 2 : 1 });
    const records = Records.open(suiteDb);
    try {
      await exportRecords({ records, environments: envs, format: "ftrl", out: exported });
    } finally {
      records.close();
    }
  }, 600_000);

  /** Every row of every environment, with the reference's score and outputs, ours, and each call's output when run alone on a fresh state (as the reference runs it). */
  async function scored(env: Environment) {
    const episodes = envs.reduce((n, e) => n + e.tasks.length * 4, 0);
    const { items, ours, outputs, agents } = referenceItems(suiteDb, env, episodes);
    const theirs = pythonScores(items);
    const compiled = await compileEnvironment(env);
    const alone: string[][] = [];
    const called: string[][] = [];
    for (const { response } of items) {
      const calls = [...response.matchAll(/<tool_call>\n(.*)\n<\/tool_call>/g)].map((m) => JSON.parse(m[1]!) as { name: string; arguments: Record<string, unknown> });
      called.push(calls.map((c) => c.name));
      const outs: string[] = [];
      for (const c of calls) {
        const episode = compiled.openEpisode({});
        try {
          const r = await episode.call(c.name, c.arguments);
          outs.push(r.ok ? r.text : formatCallError(c.name, r.error));
        } finally {
          episode.close();
        }
      }
      alone.push(outs);
    }
    return { items, ours, outputs, theirs, alone, called, agents };
  }

  it("exports rows through export --format ftrl that are the rows the reference is given here", () => {
    const lines = readFileSync(exported, "utf8").trim().split("\n").map((l) => JSON.parse(l) as FtrlRow);
    const records = Records.open(suiteDb);
    try {
      const stats = { episodes: 0, exported: 0, rows: 0, bytes: 0, skipped: {} };
      expect(lines).toEqual([...transcripts(records, envs, {}, stats)].flatMap((t) => ftrlRows(t)));
    } finally {
      records.close();
    }
    expect(new Set(envs.map((e) => e.implementation.language))).toEqual(new Set(["python"]));
    for (const engine of ["def ef_lookup(", "def ef_compute(", "def ef_act(", "def ef_side(", "def ew_create("]) expect(envs.some((e) => e.implementation.prelude.includes(engine)), engine).toBe(true);
  });

  it("scores every row of the read-only environments as we do, outputs included, kebab-case tools too", async () => {
    const readOnly = envs.filter((e) => !writes(e));
    expect(readOnly.some((e) => e.tools.some((t) => t.name.includes("-")))).toBe(true);
    let rows = 0;
    for (const env of readOnly) {
      const { items, ours, outputs, theirs } = await scored(env);
      expect(theirs.map((r) => r.outputs), env.id).toEqual(outputs);
      expect(theirs.map((r) => r.score), env.id).toEqual(ours);
      rows += items.length;
    }
    expect(rows).toBeGreaterThan(50);
  }, 300_000);

  it("binds a kebab-case tool under its own name for the reference, and the same exported code runs in our sandbox", async () => {
    const env = envs.find((e) => e.tools.some((t) => t.name.includes("-")))!;
    const codes = toolCodes(env);
    const name = env.tools.find((t) => t.name.includes("-"))!.name;
    expect(codes[name]).toContain(`def ${name.replace(/-/g, "_")}(data=None, **params):`);
    expect(codes[name]).toContain(`globals()[${JSON.stringify(name)}] = ${name.replace(/-/g, "_")}`);
    expect(Object.entries(codes).filter(([n]) => !n.includes("-")).every(([, c]) => !c.includes("globals()"))).toBe(true);
    // Rows imported back (the codes as the tools' whole source) run here: the binding is skipped, the underscore name found.
    const step = env.tasks.flatMap((t) => t.gold_plan).find((s) => s.tool === name) ?? { tool: name, arguments: {} };
    const results: string[] = [];
    for (const implementation of [env.implementation, { language: "python" as const, prelude: "", tools: codes }]) {
      const episode = (await compileEnvironment({ ...env, implementation })).openEpisode({});
      try {
        const r = await episode.call(step.tool, step.arguments as Record<string, unknown>);
        results.push(r.ok ? r.text : formatCallError(name, r.error));
      } finally {
        episode.close();
      }
    }
    expect(results[1]).toBe(results[0]);
    const [reference] = pythonScores([{ kind: "ftrl", row: { codes: JSON.stringify(codes), unsolved_set: "{}", solve_rate: 0, split: "train", answer: "x" }, response: `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${JSON.stringify(step.arguments)}}\n</tool_call>` }]);
    expect(reference!.outputs).toEqual([results[0]]);
  }, 120_000);

  it("where tools change state, the reference runs each call on a fresh state: a row differs exactly where a write made before the call (earlier in the episode, or earlier in the same response) changes its output", async () => {
    const writeEnvs = envs.filter(writes);
    expect(writeEnvs).toHaveLength(3);
    let same = 0;
    let differ = 0;
    for (const env of writeEnvs) {
      const { items, ours, outputs, theirs, alone, called, agents } = await scored(env);
      expect(new Set(agents)).toEqual(new Set(["oracle", "random", "stutter"]));
      // The reference sees each call's output on the environment's initial state, and scores the row with those.
      expect(theirs.map((r) => r.outputs), env.id).toEqual(alone);
      items.forEach((item, i) => {
        const state = { unsolved_set: JSON.parse(item.row.unsolved_set) as UnsolvedSet, solve_rate: item.row.solve_rate, answer: item.row.answer };
        expect(theirs[i]!.score).toBe(scoreStep(state, item.response, alone[i]!).rewards.f1);
        if (JSON.stringify(alone[i]) === JSON.stringify(outputs[i])) {
          expect(theirs[i]!.score).toBe(ours[i]);
          same++;
          return;
        }
        // The oracle never looks at or changes what it changed before, so its rows always agree.
        expect(agents[i], `${env.id} row ${i}`).not.toBe("oracle");
        // Outputs differ only after a write: a state-changing tool was called earlier in the episode or in this response.
        const changing = new Set(env.tools.filter((t) => t.annotations?.readOnlyHint !== true).map((t) => t.name));
        const before = item.row.messages.flatMap((m) => (m.role === "assistant" ? (m.tool_calls ?? []).map((c) => c.function.name) : []));
        const inResponse = called[i]!;
        const firstDiffering = alone[i]!.findIndex((o, k) => o !== outputs[i]![k]);
        expect([...before, ...inResponse.slice(0, firstDiffering)].some((n) => changing.has(n)), `${env.id} row ${i}`).toBe(true);
        if (theirs[i]!.score !== ours[i]) differ++;
      });
    }
    // Both happen in this suite: most rows agree, and the repeated writes of the scripted agent make some differ.
    expect(same).toBeGreaterThan(50);
    expect(differ).toBeGreaterThan(0);
  }, 300_000);
});
