// Exports from a recorded database: FTRL rows field by field against method.md §4, the state each row pairs with, chat JSONL, Parquet, filters, and the score report.
import { readFileSync, statSync } from "node:fs";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { buildReport, chatTools, exportRecords, ftrlParquet, ftrlRows, readTranscript, toolCodes, type ExportFormat, type ExportProgress, type ExportStats } from "../../src/export/index.ts";
import { Records } from "../../src/store/index.ts";
import { parseOpenAIMessage, parseResponse, scoreStep } from "../../src/score/index.ts";
import { ASSISTANT_META_KEY, ChatMessage, FtrlRow, size, type AssistantTurnMeta, type Environment, type UnsolvedSet } from "../../src/schema/index.ts";
import { EXAMPLES, tempDir } from "../run/helpers.ts";
import { Q_BIRTH_YEAR } from "../run/scripted.ts";
import { ENV, readParquet, recordRollouts, sameRows } from "./helpers.ts";
import { memoryIo } from "../helpers/io.ts";

const tmp = tempDir("envforge-export-");
const db = `${tmp.dir}/rollouts.db`;
let environments: Environment[];
const FIELDS = ["messages", "tools", "codes", "unsolved_set", "solve_rate", "data_source", "split", "answer"];

beforeAll(async () => {
  environments = await recordRollouts(db);
});
afterAll(() => tmp.cleanup());

async function exported(format: ExportFormat, filter: { model?: string; minScore?: number; envId?: string } = {}): Promise<{ lines: unknown[]; stats: ExportStats; file: string }> {
  const file = `${tmp.dir}/out-${format}-${JSON.stringify(filter).replace(/\W/g, "")}.${format === "parquet" ? "parquet" : "jsonl"}`;
  const records = Records.open(db);
  try {
    const stats = await exportRecords({ records, environments, format, out: file, ...filter });
    const lines = format === "parquet" ? [] : readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown);
    return { lines, stats, file };
  } finally {
    records.close();
  }
}

const rowsOf = (lines: unknown[]): FtrlRow[] => lines.map((l) => FtrlRow.parse(l));
const pendingCount = (u: UnsolvedSet): number => Object.values(u).reduce((n, l) => n + l.length, 0);

describe("ftrl export", () => {
  it("writes one row for the question and one per tool-calling turn, with exactly the fields of method.md §4", async () => {
    const { lines, stats } = await exported("ftrl");
    // 4 oracle episodes of 2 turns, the native episode of 2 tool turns, the raw episode of 2: 3 rows each.
    expect(stats).toMatchObject({ episodes: 6, exported: 6, rows: 18 });
    for (const line of lines) {
      expect(Object.keys(line as object).sort()).toEqual([...FIELDS].sort());
      const row = line as FtrlRow;
      for (const f of ["tools", "codes", "unsolved_set", "data_source", "split", "answer"] as const) expect(typeof row[f]).toBe("string");
      expect(typeof row.solve_rate).toBe("number");
      for (const m of row.messages) {
        ChatMessage.parse(m);
        expect(Object.keys(m).every((k) => ["role", "content", "tool_calls", "tool_call_id"].includes(k))).toBe(true);
      }
    }
  });

  it("fills every field of the native rollout's rows as the reference sampler would", async () => {
    const rows = rowsOf((await exported("ftrl", { model: "native-model" })).lines);
    expect(rows).toHaveLength(3);
    const env = environments.find((e) => e.id === ENV)!;
    for (const row of rows) {
      expect(JSON.parse(row.tools)).toEqual(chatTools(env));
      expect(JSON.parse(row.tools).map((t: { function: { name: string } }) => t.function.name)).toEqual(["get_film", "get_person"]);
      const codes = JSON.parse(row.codes) as Record<string, string>;
      expect(codes).toEqual(toolCodes(env));
      expect(codes.get_film).toContain("function findBy(");
      expect(codes.get_film).toContain("function get_film(args, state)");
      expect(row).toMatchObject({ data_source: `envforge/${ENV}/director-birth-year`, split: "train", answer: "1961" });
    }
    expect(rows.map((r) => JSON.parse(r.unsolved_set))).toEqual([
      { get_film: ["Elena Vastrova"], get_person: ["1961"] },
      { get_film: [], get_person: ["1961"] },
      { get_film: [], get_person: [] },
    ]);
    expect(rows.map((r) => r.solve_rate)).toEqual([0, 0.5, 1]);
    // Always a float in the file, so no file of rows reads back as integers.
    const text = readFileSync((await exported("ftrl", { model: "native-model" })).file, "utf8");
    expect(text.match(/"solve_rate":[^,}]*/g)).toEqual(['"solve_rate":0.0', '"solve_rate":0.5', '"solve_rate":1.0']);
    expect(rows[0]!.messages).toEqual([{ role: "user", content: Q_BIRTH_YEAR }]);
    const last = rows[2]!.messages;
    expect(last.map((m) => [m.role, m.role === "tool" ? m.tool_call_id : null])).toEqual([
      ["user", null],
      ["assistant", null],
      ["tool", "call_a"],
      ["tool", "call_b"],
      ["assistant", null],
      ["tool", "call_c"],
      ["tool", "call_d"],
    ]);
    expect(last[1]).toEqual({ role: "assistant", content: null, tool_calls: [
      // The reference's text: json.dumps(..., ensure_ascii=False), not JSON.stringify's.
      { id: "call_a", type: "function", function: { name: "get_film", arguments: '{"title": "Crimson Harbor"}' } },
      { id: "call_b", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } },
    ] });
    expect(last[3]!.content).toMatch(/^an error occured when call get_weather: /);
    expect(last[5]!.content).toMatch(/^an error occured when call get_person: the arguments are not a JSON object/);
    // Each row extends the one before it.
    expect(rows[2]!.messages.slice(0, rows[1]!.messages.length)).toEqual(rows[1]!.messages);
  });

  it("pairs each prompt with the state after its tool results, so the next response's per-step reward is the one the episode earned", async () => {
    const byId = new Map(environments.map((e) => [e.id, e]));
    const records = Records.open(db);
    try {
      for (const ep of records.listEpisodes({ limit: 100 }).episodes) {
        const read = readTranscript(records, ep, byId);
        if (!read.ok) throw new Error(`${ep.id}: ${read.problem}`);
        const rows = ftrlRows(read.transcript);
        const calls = records.listCalls(ep.id);
        const metas = calls.map((c) => (c.assistantMeta as Record<string, AssistantTurnMeta>)[ASSISTANT_META_KEY]!);
        const final = (ep.finalMeta as Record<string, AssistantTurnMeta>)[ASSISTANT_META_KEY]!;
        const needed = pendingCount(read.transcript.task.unsolved_set);
        expect(rows).toHaveLength(final.turn + 1);
        rows.forEach((row, k) => {
          // Independent of the exporter: what the server saw solved in the turns this prompt holds.
          const pending = needed - calls.filter((c, i) => metas[i]!.turn < k && c.solvedFtrl !== null).length;
          expect(pendingCount(JSON.parse(row.unsolved_set)), `${ep.id} row ${k}`).toBe(pending);
          expect(row.solve_rate).toBe(1 - pending / needed);
          expect(row.messages.filter((m) => m.role === "assistant")).toHaveLength(k);
          const state = { unsolved_set: JSON.parse(row.unsolved_set) as UnsolvedSet, solve_rate: row.solve_rate, answer: row.answer };
          if (k < final.turn) {
            // A call with broken arguments counts on the server but is not among the parsed calls of its turn.
            const turnCalls = calls.filter((c, i) => metas[i]!.turn === k && c.errorKind !== "invalid_arguments");
            const meta = metas.find((m) => m.turn === k)!;
            const step = scoreStep(state, meta.raw !== undefined ? parseResponse(meta.raw) : parseOpenAIMessage(meta.message), turnCalls.map((c) => c.output));
            const q = turnCalls.filter((c) => c.solvedFtrl !== null).length;
            expect(step.rewards.f1, `${ep.id} turn ${k}`).toBe((2 * q) / (turnCalls.length + 1));
          } else {
            const step = scoreStep(state, final.raw ?? parseOpenAIMessage(final.message), []);
            expect(step.rule).toBe("final_answer");
            expect(step.rewards.f1).toBe(1 / (1 + pending));
          }
        });
      }
    } finally {
      records.close();
    }
  });

  it("keeps the gold plan and the answer out of the messages", async () => {
    const rows = rowsOf((await exported("ftrl")).lines);
    for (const row of rows) {
      const text = JSON.stringify(row.messages);
      expect(text).not.toContain("gold_plan");
      expect(text).not.toContain("unsolved_set");
      expect(text).not.toContain("depends_on");
      expect(row.messages[0]!.role).toBe("user");
    }
    // The question row carries nothing but the question.
    expect(rows.filter((r) => r.messages.length === 1).every((r) => r.messages[0]!.content === environments[0]!.tasks.find((t) => `envforge/${ENV}/${t.id}` === r.data_source)!.question)).toBe(true);
  });

  it("filters by model, environment and minimum score", async () => {
    expect((await exported("ftrl", { model: "oracle" })).stats).toMatchObject({ exported: 4, rows: 12 });
    const best = await exported("ftrl", { minScore: 1 });
    expect(best.stats).toMatchObject({ exported: 5, skipped: { filtered: 1 } });
    expect(rowsOf(best.lines).some((r) => JSON.stringify(r.messages).includes("get_weather"))).toBe(false);
    expect((await exported("ftrl", { envId: "no-such-env" })).stats).toMatchObject({ episodes: 0, rows: 0 });
  });
});

describe("parquet export", () => {
  it("reads back equal to the ftrl rows", async () => {
    const rows = rowsOf((await exported("ftrl")).lines);
    const { file, stats } = await exported("parquet");
    expect(stats.rows).toBe(rows.length);
    const bytes = readFileSync(file);
    sameRows(await readParquet(bytes), rows);
    expect(Buffer.from(ftrlParquet(rows)).equals(bytes)).toBe(true);
  });
});

describe("chat export", () => {
  it("writes each answered conversation with its final answer and the tools as a list", async () => {
    const { lines, stats } = await exported("chat", { model: "native-model" });
    expect(stats.rows).toBe(1);
    const line = lines[0] as { messages: ChatMessage[]; tools: unknown[] };
    expect(Object.keys(line).sort()).toEqual(["messages", "tools"]);
    expect(line.tools).toEqual(chatTools(environments.find((e) => e.id === ENV)!));
    expect(line.messages).toHaveLength(8);
    expect(line.messages.at(-1)).toEqual({ role: "assistant", content: "The director of Crimson Harbor was born in 1961." });
    expect(line.messages[0]).toEqual({ role: "user", content: Q_BIRTH_YEAR });
    for (const m of line.messages) ChatMessage.parse(m);
  });
});

describe("score --db", () => {
  it("reports metrics with intervals and GRPO group statistics", async () => {
    const records = Records.open(db);
    const report = buildReport(records, environments);
    const pooled = buildReport(records, environments, { pool: true });
    records.close();
    expect(report.episodes).toEqual({ read: 6, scored: 6, excluded: {} });
    const byModel = Object.fromEntries(report.tables.model.map((r) => [r.key, r]));
    expect(byModel.oracle).toMatchObject({ episodes: 4, solve_f1: { mean: 1, half_width: 0 }, answer_accuracy: { mean: 1 } });
    // Four calls (the one with broken arguments counts), two solved.
    expect(byModel["native-model"]!.solve_f1).toMatchObject({ n: 1, half_width: null });
    expect(byModel["native-model"]!.solve_f1.mean).toBeCloseTo(2 / 3, 12);
    expect(byModel["native-model"]!.solve_precision.mean).toBe(0.5);
    expect(report.tables.scenario.map((r) => [r.key, r.model, r.episodes])).toEqual([["multi-hop", "native-model", 1], ["multi-hop", "oracle", 4], ["multi-hop", "raw-model", 1]]);
    expect(pooled.tables.scenario.map((r) => [r.key, r.model, r.episodes])).toEqual([["multi-hop", null, 6]]);
    expect(report.tables.complexity.map((r) => r.key)).toEqual(["level 0", "level 0", "level 0"]);
    const f1 = pooled.tables.environment[0]!.solve_f1;
    expect(f1.n).toBe(6);
    expect(f1.mean).toBeCloseTo((4 + 2 / 3 + 1) / 6, 12);
    expect(f1.low!).toBeLessThan(f1.mean);

    const oracleGroup = report.groups.find((g) => g.model === "oracle" && g.task === "director-birth-year")!;
    expect(oracleGroup).toMatchObject({ n: 2, rewards: [1, 1], mean: 1, std: 0, advantages: [0, 0], successes: 2, pass_at_1: 1, pass_at_n: 1 });
    const native = report.groups.find((g) => g.model === "native-model")!;
    expect(native).toMatchObject({ n: 1, successes: 1, pass_at_1: 1, pass_at_n: null });
    expect(native.rewards[0]).toBeCloseTo(2 / 3, 12);
    expect(native.advantages[0]).toBeCloseTo(2 / 3 / (1 + 1e-6), 12);
  });

  it("prints the same report as JSON and as tables from the CLI", async () => {
    const run = async (argv: string[]) => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = "";
      stdout.on("data", (d: Buffer) => (out += d.toString()));
      const code = await main(argv, { stdout, stderr, cwd: process.cwd(), stdin: new PassThrough(), env: {} });
      return { code, out };
    };
    const json = await run(["score", "--db", db, "--dir", EXAMPLES, "--json"]);
    expect(json.code).toBe(0);
    const records = Records.open(db);
    expect(JSON.parse(json.out)).toEqual(JSON.parse(JSON.stringify(buildReport(records, environments, { pool: false, includeEmpty: false }))));
    records.close();
    const text = await run(["score", "--db", db, "--dir", EXAMPLES]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/6 of 6 episodes scored \(ftrl reward\)/);
    expect(text.out).toMatch(/^oracle\s+4\s+1\.000 ± 0\.000/m);
    expect(text.out).toContain("example-films-director-birth / director-birth-year / oracle");
    const out = `${tmp.dir}/cli.jsonl`;
    const exp = await run(["export", "--db", db, "--dir", EXAMPLES, "--format", "ftrl", "--out", out, "--model", "raw-model"]);
    expect(exp.code).toBe(0);
    expect(exp.out).toContain(`wrote 3 rows (${size(statSync(out).size)}) from 1 of 6 episodes`);
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(3);
  });
});

describe("a large export", () => {
  it("reports its progress row by row and the size it wrote", async () => {
    for (const format of ["ftrl", "parquet", "chat"] as const) {
      const file = `${tmp.dir}/progress.${format}`;
      const seen: ExportProgress[] = [];
      const records = Records.open(db);
      const stats = await exportRecords({ records, environments, format, out: file, onProgress: (p) => seen.push({ ...p }) }).finally(() => records.close());
      expect(stats.bytes, format).toBe(statSync(file).size);
      expect(seen.length, format).toBeGreaterThanOrEqual(stats.rows);
      for (const [i, p] of seen.entries()) {
        expect(p.total).toBe(6);
        if (i > 0) for (const k of ["episodes", "rows", "bytes"] as const) expect(p[k]).toBeGreaterThanOrEqual(seen[i - 1]![k]);
      }
      expect(seen.at(-1)).toEqual({ episodes: 6, total: 6, rows: stats.rows, bytes: stats.bytes });
    }
  });

  it("draws a bar on stderr with --progress and says the size on stdout", async () => {
    const m = memoryIo({ cwd: process.cwd() });
    const file = `${tmp.dir}/bar.jsonl`;
    const code = await main(["export", "--db", db, "--dir", EXAMPLES, "--format", "ftrl", "--out", file, "--progress"], m.io);
    expect(code).toBe(0);
    const bytes = statSync(file).size;
    expect(m.err()).toContain(`6/6 episodes | 18 rows | ${size(bytes)}`);
    expect(m.out()).toContain(`wrote 18 rows (${size(bytes)}) from 6 of 6 episodes`);
  });
});
