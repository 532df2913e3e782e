// The reward API over real HTTP: its answers equal what the score layer computes, state from episodes, errors and checks.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { compileEnvironment, formatCallError } from "../../src/runtime/index.ts";
import { parseOpenAIMessage, parseResponse, scoreStep } from "../../src/score/index.ts";
import { EnvironmentRegistry, openInProcessEpisode, rewardRoutes, startHttpServer, type HttpServer, type RewardResult } from "../../src/serve/index.ts";
import { Environment, type ParsedResponse, type StepState } from "../../src/schema/index.ts";
import { COUNTER, EXAMPLE, tempDir, type TempDir } from "./fixtures.ts";

const FILMS = Environment.parse(JSON.parse(readFileSync(EXAMPLE, "utf8")));
const TASK = FILMS.tasks[0]!;
let tmp: TempDir;
let recorder: Recorder;
let registry: EnvironmentRegistry;
let server: HttpServer;
let guarded: HttpServer;
const TOKEN = "s3cret-token";
const ADMIN = "adm1n-token";

beforeAll(async () => {
  tmp = tempDir("envforge-reward-");
  recorder = Recorder.open(tmp.db);
  registry = new EnvironmentRegistry([{ env: COUNTER }, { env: FILMS }]);
  // The reward API is the control plane: on its own listener, or on the main one to the admin token only.
  server = await startHttpServer({ registry, recorder, port: 0, routes: rewardRoutes(), maxBodyBytes: 64 * 1024, admin: { port: 0 } });
  guarded = await startHttpServer({ registry, recorder, port: 0, routes: rewardRoutes(), token: TOKEN, adminToken: ADMIN });
});
afterAll(async () => {
  await server.close();
  await guarded.close();
  recorder.close();
  tmp.cleanup();
});

async function post(body: unknown, headers: Record<string, string> = {}, target = server): Promise<{ status: number; json: any }> {
  const res = await fetch(`${target.adminOrigin ?? target.origin}/v1/reward`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** The library's answer, computed without the server: a fresh sandbox, then scoreStep. */
async function expected(env: Environment, parsed: ParsedResponse, state: StepState, mode: "ftrl" | "strict" = "ftrl") {
  const sandbox = (await compileEnvironment(env)).openEpisode();
  const outputs: string[] = [];
  const errors: boolean[] = [];
  for (const call of parsed.tool_calls) {
    const r = await sandbox.call(call.name, call.arguments);
    outputs.push(r.ok ? r.text : formatCallError(call.name, r.error));
    errors.push(!r.ok);
  }
  sandbox.close();
  return { outputs, errors, score: scoreStep(state, parsed, outputs, { mode, errors }) };
}

const initial: StepState = { unsolved_set: TASK.unsolved_set, solve_rate: 0, answer: TASK.answer };
const hermes = (name: string, args: object) => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;

describe("POST /v1/reward", () => {
  it('fails a call whose "arguments" is a JSON string of a non-object ("[1]") rather than running it with {}, and counts it', async () => {
    // get_film with {} would answer "title is required"; the reference's executor fails on the list itself.
    const raw = `<tool_call>\n{"name": "get_film", "arguments": "[1]"}\n</tool_call>${hermes("get_film", { title: "Crimson Harbor" })}`;
    const { status, json } = await post({ env: FILMS.id, task: TASK.id, response: raw });
    expect(status).toBe(200);
    const result = json as RewardResult;
    expect(result.calls.map((c) => [c.is_error, c.output.slice(0, 80)])).toEqual([
      [true, "an error occured when call get_film: the arguments are not a JSON object: [1]"],
      [false, expect.stringContaining("Elena Vastrova")],
    ]);
    expect(result.score).toMatchObject({ calls: 2, solved: 1, rewards: { f1: 2 / 3 } });
  });

  it("runs raw-text calls in a fresh sandbox and returns scoreStep's result with the executed calls", async () => {
    const raw = `Let me look it up.\n${hermes("get_film", { title: "Crimson Harbor" })}<|im_end|>`;
    const { status, json } = await post({ env: FILMS.id, task: TASK.id, response: raw });
    expect(status).toBe(200);
    const want = await expected(FILMS, parseResponse(raw), initial);
    const result = json as RewardResult;
    expect(result.score).toEqual(want.score);
    expect(result.calls.map((c) => c.output)).toEqual(want.outputs);
    expect(result.calls[0]!.output).toContain("Elena Vastrova");
    expect(result.score.rewards.f1).toBe(1);
    expect(result.state).toEqual({ unsolved_set: TASK.unsolved_set, solve_rate: 0 });
  });

  it("takes an OpenAI message with parallel calls, a given state and strict mode", async () => {
    const message = {
      content: null,
      tool_calls: [
        { id: "a", type: "function", function: { name: "get_film", arguments: JSON.stringify({ title: "Crimson Harbor" }) } },
        { id: "b", type: "function", function: { name: "get_person", arguments: { name: "Elena Vastrova" } } },
        { id: "c", type: "function", function: { name: "get_person", arguments: JSON.stringify({ name: "Nobody Atall" }) } },
      ],
    };
    const state = { unsolved_set: { get_film: [], get_person: ["1961"] }, solve_rate: 0.5 };
    const { status, json } = await post({ env: FILMS.id, task: TASK.id, state, response: message, mode: "strict" });
    expect(status).toBe(200);
    const want = await expected(FILMS, parseOpenAIMessage(message), { ...state, answer: TASK.answer }, "strict");
    expect(json.score).toEqual(want.score);
    expect(json.score).toMatchObject({ mode: "strict", calls: 3, solved: 1, unsolved_after: 0 });
    expect(json.calls.map((c: { is_error: boolean }) => c.is_error)).toEqual(want.errors);
  });

  it("scores a final answer and an empty reply by the no-call rules", async () => {
    const answer = await post({ env: FILMS.id, task: TASK.id, response: "The director was born in 1961." });
    expect(answer.json.score).toMatchObject({ rule: "final_answer", final_answer_valid: true });
    expect(answer.json.score.rewards.f1).toBe(1 / 3);
    expect(answer.json.calls).toEqual([]);
    const empty = await post({ env: FILMS.id, task: TASK.id, response: { content: "", tool_calls: [] } });
    expect(empty.json.score).toMatchObject({ rule: "empty", rewards: { f1: -0.5 } });
  });

  it("returns what the library computes for any response text", async () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom("1961", "Elena Vastrova", "<tool_call>", "</tool_call>", "<|im_end|>"),
      fc.record({ title: fc.constantFrom("Crimson Harbor", "Nope") }).map((a) => hermes("get_film", a)),
      fc.record({ name: fc.constantFrom("Elena Vastrova", "x") }).map((a) => hermes("get_person", a)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 4 }), async (parts) => {
        const raw = parts.join("\n");
        const { json } = await post({ env: FILMS.id, task: TASK.id, response: raw });
        expect(json.score).toEqual((await expected(FILMS, parseResponse(raw), initial)).score);
      }),
      { numRuns: 30 },
    );
  });

  it("takes the state of a recorded episode, and runs calls from the initial state (not the episode's)", async () => {
    const ip = await openInProcessEpisode({ registry, recorder, envId: FILMS.id, taskId: TASK.id, episodeId: "reward-films-1" });
    const client = new Client({ name: "t", version: "1" });
    await client.connect(ip.transport);
    await client.callTool({ name: "get_film", arguments: { title: "Crimson Harbor" } });
    const raw = hermes("get_film", { title: "Crimson Harbor" }) + hermes("get_person", { name: "Elena Vastrova" });
    const { status, json } = await post({ episode: "reward-films-1", response: raw });
    expect(status).toBe(200);
    expect(json).toMatchObject({ env: FILMS.id, task: TASK.id, episode: "reward-films-1" });
    expect(json.state).toEqual({ unsolved_set: { get_film: [], get_person: ["1961"] }, solve_rate: 0.5 });
    expect(json.score).toMatchObject({ calls: 2, solved: 1, unsolved_after: 0, rewards: { f1: 2 / 3 } });

    const counter = await openInProcessEpisode({ registry, recorder, envId: COUNTER.id, taskId: "code-alpha", episodeId: "reward-counter-1" });
    const cc = new Client({ name: "t", version: "1" });
    await cc.connect(counter.transport);
    await cc.callTool({ name: "add", arguments: { n: 5 } });
    const added = await post({ episode: "reward-counter-1", response: hermes("add", { n: 1 }) });
    expect(JSON.parse(added.json.calls[0].output)).toEqual({ count: 1 });

    await client.close();
    await ip.close();
    await cc.close();
    await counter.close();
  });

  it("answers bad requests with clear 4xx JSON errors", async () => {
    const cases: [unknown, number, RegExp][] = [
      ["{not json", 400, /not valid JSON/],
      [{ env: FILMS.id, task: TASK.id }, 400, /response/],
      [{ env: FILMS.id, task: TASK.id, response: "x", mode: "loose" }, 400, /mode/],
      [{ env: FILMS.id, task: TASK.id, response: "x", extra: 1 }, 400, /extra/],
      [{ response: "x" }, 400, /env is required/],
      [{ env: FILMS.id, response: "x" }, 400, /has 2 tasks/],
      [{ env: "nope", task: "t", response: "x" }, 404, /unknown environment "nope"/],
      [{ env: FILMS.id, task: "nope", response: "x" }, 404, /no task "nope"/],
      [{ episode: "never-recorded", response: "x" }, 404, /no episode "never-recorded"/],
      [{ episode: "reward-films-1", env: COUNTER.id, response: "x" }, 400, /is of example-films-director-birth\/director-birth-year, not test-counter/],
      [{ episode: "reward-films-1", state: { unsolved_set: {}, solve_rate: 0 }, response: "x" }, 400, /either state or episode/],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error).toMatch(message);
    }
    const big = await post({ env: FILMS.id, task: TASK.id, response: "x".repeat(70 * 1024) });
    expect(big.status).toBe(413);
    const text = await fetch(`${server.adminOrigin}/v1/reward`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(text.status).toBe(415);
    const get = await fetch(`${server.adminOrigin}/v1/reward`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as any).error).toMatch(/use POST/);
  });

  it("applies the same Origin checks as /mcp, and answers the admin token only, never the agent's", async () => {
    const body = { env: FILMS.id, task: TASK.id, response: "x" };
    expect((await post(body, { origin: "https://evil.example" })).status).toBe(403);
    const agentPlane = await fetch(`${server.origin}/v1/reward`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect([agentPlane.status, ((await agentPlane.json()) as any).error]).toEqual([403, expect.stringMatching(/control plane, served on the admin listener http:\/\/127\.0\.0\.1:\d+/)]);
    expect((await post(body, {}, guarded)).status).toBe(403);
    expect((await post(body, { authorization: "Bearer wrong" }, guarded)).status).toBe(403);
    expect((await post(body, { authorization: `Bearer ${TOKEN}` }, guarded)).status).toBe(403);
    expect((await post(body, { "x-api-key": TOKEN }, guarded)).status).toBe(403);
    expect((await post(body, { authorization: `Bearer ${ADMIN}` }, guarded)).status).toBe(200);
    await expect(startHttpServer({ registry, recorder, port: 0, token: "same", adminToken: "same" })).rejects.toThrow(/must differ/);
  });
});

describe("GET /v1/episodes/:id", () => {
  it("returns the stored score of an ended episode, and 404 for an unknown one", async () => {
    const ip = await openInProcessEpisode({ registry, recorder, envId: FILMS.id, taskId: TASK.id, episodeId: "reward-films-2" });
    const client = new Client({ name: "t", version: "1" });
    await client.connect(ip.transport);
    await client.callTool({ name: "get_film", arguments: { title: "Crimson Harbor" } });
    await client.callTool({ name: "submit_answer", arguments: { answer: "1961" } });
    const res = await fetch(`${server.adminOrigin}/v1/episodes/reward-films-2`);
    expect(res.status).toBe(200);
    const json = (await res.json()) as any;
    const stored = new Records(recorder.db).getEpisode("reward-films-2")!;
    expect(json).toMatchObject({ id: "reward-films-2", env: FILMS.id, task: TASK.id, status: "submitted", calls: 1, final_answer: "1961" });
    expect(json.score).toEqual(stored.score);
    expect(json.score.ftrl).toMatchObject({ solved: 1, needed: 2, solve_rate: 0.5, answer_correct: true });
    await client.close();
    await ip.close();

    const missing = await fetch(`${server.adminOrigin}/v1/episodes/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error).toMatch(/no episode "nope"/);
    expect((await fetch(`${guarded.origin}/v1/episodes/reward-films-2`)).status).toBe(401);
  });
});
