// Measured difficulty against a scripted OpenAI-compatible server whose success rate per task is known: the sidecar's
// figures, the pass band in run, export and serve's catalog, and a curriculum that follows the model's rates.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { Recorder } from "../../src/store/index.ts";
import { llmFactory, parsePassBand, readCalibration, runCurriculum, withinBand } from "../../src/run/index.ts";
import { Calibration, type Environment, type Task } from "../../src/schema/index.ts";
import { memoryIo } from "../helpers/io.ts";
import { spawnHttpServer } from "../serve/fixtures.ts";
import { environmentsIn, EXAMPLES, SHIPPED, tempDir } from "./helpers.ts";
import { startFakeOpenAI, type ChatRequest, type FakeOpenAI, type ScriptedReply } from "./openai-server.ts";
import { turnOf } from "./scripted.ts";

const N = 4;
const tmp = tempDir("envforge-calibrate-");
const dir = join(tmp.dir, "envs");
let environments: Environment[];
let server: FakeOpenAI;
/** Successes out of every N conversations, per question; the test changes it to make the model "learn". */
const successes = new Map<string, number>();
const started = new Map<string, number>();
let byQuestion: Map<string, Task>;

/** Plays the gold plan (one call per turn, then the answer) on a success, or gives up at once on a failure. */
function script(req: ChatRequest): ScriptedReply {
  const question = req.messages[0]!.content!;
  const task = byQuestion.get(question)!;
  const turn = turnOf(req);
  if (turn === 0) {
    const k = started.get(question) ?? 0;
    started.set(question, k + 1);
    if (k % N >= (successes.get(question) ?? 0)) return { content: "I cannot find out." };
  }
  const step = task.gold_plan[turn];
  if (!step) return { content: `The answer is ${task.answer}.` };
  return { content: null, tool_calls: [{ name: step.tool, arguments: step.arguments }] };
}

beforeAll(async () => {
  mkdirSync(dir);
  copyFileSync(join(EXAMPLES, "films-director-birth.json"), join(dir, "films.json"));
  const sh = join(SHIPPED, "single-hop");
  copyFileSync(join(sh, readdirSync(sh).find((f) => f.startsWith("retail-sh-write0"))!), join(dir, "retail.json"));
  environments = await environmentsIn(dir);
  byQuestion = new Map(environments.flatMap((e) => e.tasks.map((t) => [t.question, t] as const)));
  // Five tasks at pass rates 0, 1/4, 2/4, 3/4 and 1.
  environments.flatMap((e) => e.tasks).forEach((t, i) => successes.set(t.question, i));
  server = await startFakeOpenAI(script);
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const keys = () => environments.flatMap((e) => e.tasks.map((t) => `${e.id}/${t.id}`));
const llm = () => ["--policy", "llm", "--base-url", server.baseUrl, "--model", "scripted-model"];

describe("envforge calibrate", () => {
  it("writes per-task pass@1, pass@n, mean solve rate and state_match beside the suite, never into the environment files", async () => {
    const before = readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8"));
    const m = memoryIo({ cwd: tmp.dir });
    const code = await main(["calibrate", ...llm(), "--n", String(N), "--dir", dir, "--db", join(tmp.dir, "cal.db"), "--concurrency", "3"], m.io);
    expect(m.err()).toBe("");
    expect(code).toBe(0);
    const file = join(dir, "calibration.json");
    const cal = Calibration.parse(JSON.parse(readFileSync(file, "utf8")));
    const figures = cal.models["scripted-model"]!;
    expect(figures.n).toBe(N);
    const rates = keys().map((k) => figures.tasks[k]!.pass_at_1);
    expect(rates).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(keys().map((k) => figures.tasks[k]!.pass_at_n)).toEqual([0, 1, 1, 1, 1]);
    // A failed rollout solves nothing, a successful one everything.
    expect(keys().map((k) => figures.tasks[k]!.mean_solve_rate)).toEqual(rates);
    // Only the write tasks have a state figure; a give-up leaves the state untouched, so it is 0 there.
    const films = keys().filter((k) => k.startsWith("example-"));
    for (const k of films) expect(figures.tasks[k]!.state_match).toBeNull();
    for (const k of keys().filter((x) => !films.includes(x))) expect(figures.tasks[k]!.state_match).toBe(figures.tasks[k]!.pass_at_1);
    expect(m.out()).toMatch(/scripted-model: 5 tasks x 4 rollouts; mean pass@1 0\.500, pass@4 0\.800/);
    // The environment files are untouched, and loading the folder ignores the sidecar.
    expect(readdirSync(dir).filter((f) => f !== "calibration.json").map((f) => readFileSync(join(dir, f), "utf8"))).toEqual(before);
    expect((await environmentsIn(dir)).length).toBe(2);
  });

  it("run --pass-band runs only the tasks inside the band", async () => {
    const m = memoryIo({ cwd: tmp.dir });
    const code = await main(["run", "--policy", "oracle", "--dir", dir, "--db", join(tmp.dir, "band.db"), "--pass-band", "0.2,0.8", "--json"], m.io);
    expect(code).toBe(0);
    const ran = m.out().trim().split("\n").map((l) => JSON.parse(l) as { env: string; task: string });
    expect(ran.map((r) => `${r.env}/${r.task}`).sort()).toEqual(keys().slice(1, 4).sort());
    expect(m.err()).toContain("3 tasks kept, 2 outside the band, 0 not calibrated");
  });

  it("export --pass-band keeps only those tasks' episodes", async () => {
    const m = memoryIo({ cwd: tmp.dir });
    const out = join(tmp.dir, "rows.jsonl");
    expect(await main(["export", "--format", "chat", "--out", out, "--dir", dir, "--db", join(tmp.dir, "cal.db"), "--pass-band", "0.7,1"], m.io)).toBe(0);
    const sources = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.stringify(JSON.parse(l)));
    // The 0.75 and 1 tasks: 4 episodes each that gave an answer.
    expect(sources.length).toBe(8);
    const questions = environments.flatMap((e) => e.tasks.map((t) => JSON.stringify(t.question)));
    for (const q of questions.slice(0, 3)) expect(sources.some((s) => s.includes(q))).toBe(false);
    for (const q of questions.slice(3)) expect(sources.filter((s) => s.includes(q)).length).toBe(4);
  });

  it("serve --pass-band lists only the band's tasks in the catalog", async () => {
    const { child, url } = await spawnHttpServer(["--dir", dir, "--db", join(tmp.dir, "serve.db"), "--pass-band", "0,0.3"]);
    try {
      const client = new Client({ name: "band-test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const listed = (await client.callTool({ name: "list_environments", arguments: {} })) as { content: { text: string }[] };
      const text = listed.content[0]!.text;
      expect(text).toContain(keys()[0]!.split("/")[1]);
      expect(text).toContain(keys()[1]!.split("/")[1]);
      for (const k of keys().slice(2)) expect(text).not.toContain(`"${k.split("/")[1]}"`);
      await client.close();
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("rejects malformed bands and files", async () => {
    expect(() => parsePassBand("0.8,0.2")).toThrow(/LO,HI/);
    expect(() => parsePassBand("0.2")).toThrow(/LO,HI/);
    expect(() => parsePassBand("-1,0.5")).toThrow(/LO,HI/);
    expect(parsePassBand(" 0.2 , 0.8 ")).toEqual([0.2, 0.8]);
    const m = memoryIo({ cwd: tmp.dir });
    expect(await main(["run", "--policy", "oracle", "--dir", EXAMPLES, "--db", join(tmp.dir, "x.db"), "--pass-band", "0.2,0.8"], m.io)).toBe(2);
    expect(m.err()).toMatch(/holds no calibration; run envforge calibrate first/);
    expect(existsSync(join(EXAMPLES, "calibration.json"))).toBe(false);
  });
});

describe("run --curriculum", () => {
  it("samples the tasks nearest the target and moves as the model's rates change", async () => {
    const cal = readCalibration(join(dir, "calibration.json")).models["scripted-model"]!;
    const [, b, c] = environments.flatMap((e) => e.tasks);
    // The model has learnt task c (now always solved) and b is now at one half.
    successes.set(c!.question, N);
    successes.set(b!.question, 2);
    const recorder = Recorder.open(join(tmp.dir, "curriculum.db"));
    try {
      const { rounds } = await runCurriculum({
        environments,
        policy: llmFactory({ baseUrl: server.baseUrl, model: "scripted-model", backoffMs: 1 }, "native"),
        target: { kind: "memory", recorder },
        n: N,
        targetRate: 0.5,
        rounds: 3,
        batch: 1,
        prior: cal,
      });
      const [, kb, kc] = keys();
      // Round 0 takes c (calibrated at 0.5) and finds it solved every time; then b, whose new rate (0.5) keeps it.
      expect(rounds.map((r) => r.tasks.map((t) => [t.key, t.estimate, t.rate]))).toEqual([[[kc, 0.5, 1]], [[kb, 0.25, 0.5]], [[kb, 0.5, 0.5]]]);
    } finally {
      recorder.close();
    }
  });

  it("withinBand leaves uncalibrated tasks out and counts them", () => {
    const cut = withinBand(environments, { n: 1, tasks: { [keys()[0]!]: { rollouts: 1, successes: 0, pass_at_1: 0, pass_at_n: 0, mean_solve_rate: 0, state_match: null } } }, [0, 1]);
    expect(cut).toMatchObject({ kept: 1, outside: 0, uncalibrated: 4 });
    expect(cut.environments.map((e) => e.tasks.length)).toEqual([1]);
  });
});
