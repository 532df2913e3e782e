// The REST and ORS faces over one episode service, on real HTTP: state carries across calls and faces, rewards equal the score layer's, planes stay apart.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { scoreStep } from "../../src/score/index.ts";
import { EnvironmentRegistry, openInProcessEpisode, rewardRoutes, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { splitOf, orsTasks, ORS_SUITE } from "../../src/serve/ors.ts";
import { Viewer, viewerRoute } from "../../src/view/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { COUNTER, EXAMPLE, tempDir, type TempDir } from "./fixtures.ts";
import { OrsClient, OrsError, parseSse } from "./ors-client.ts";

const FILMS = Environment.parse(JSON.parse(readFileSync(EXAMPLE, "utf8")));
const TOKEN = "agent-token";
const ADMIN = "admin-token";
let tmp: TempDir;
let recorder: Recorder;
let records: Records;
let registry: EnvironmentRegistry;
let server: HttpServer;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  tmp = tempDir("envforge-faces-");
  recorder = Recorder.open(tmp.db);
  records = new Records(recorder.db);
  registry = new EnvironmentRegistry([{ env: COUNTER }, { env: FILMS }], { timeoutMs: 5000 });
  const viewer = new Viewer({ records, environments: [COUNTER, FILMS] });
  server = await startHttpServer({ registry, recorder, port: 0, token: TOKEN, adminToken: ADMIN, admin: { port: 0 }, routes: [...rewardRoutes(), viewerRoute(viewer)] });
});
afterAll(async () => {
  await server.close();
  recorder.close();
  tmp.cleanup();
});

async function rest(method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${server.origin}${path}`, { method, headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

const hermes = (name: string, args: object) => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;

describe("REST episodes", () => {
  it("opens an episode, runs calls and whole responses against its current state, and scores each step as the score layer does", async () => {
    const opened = await rest("POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "rest-1" });
    expect(opened.status).toBe(201);
    expect(opened.json).toMatchObject({ episode: "rest-1", env: COUNTER.id, task: "code-alpha", prompt: expect.stringContaining("vault named alpha") });
    expect(opened.json.tools.map((t: { name: string }) => t.name)).toEqual(["add", "lookup_code", "fail", "spin", "submit_answer"]);

    const first = await rest("POST", "/v1/episodes/rest-1/calls", { tool: "add", arguments: { n: 2 } });
    expect(JSON.parse(first.json.output)).toEqual({ count: 2 });
    expect(first.json).toMatchObject({ is_error: false, reward: 0, done: false, step: { rule: "tool_calls", calls: 1, solved: 0 } });
    // The response runs against the episode's state: the counter goes on from 2, not from the initial 0.
    const response = `Adding.\n${hermes("add", { n: 3 })}\n${hermes("lookup_code", { name: "alpha" })}<|im_end|>`;
    const second = await rest("POST", "/v1/episodes/rest-1/responses", { response });
    expect(second.status).toBe(200);
    expect(second.json.calls.map((c: { output: string }) => JSON.parse(c.output))).toEqual([{ count: 5 }, { name: "alpha", code: "K-7731-QZ" }]);
    const state = { unsolved_set: COUNTER.tasks[0]!.unsolved_set, solve_rate: 0, answer: "K-7731-QZ" };
    expect(second.json.step).toEqual(scoreStep(state, second.json.parsed, second.json.calls.map((c: { output: string }) => c.output), { errors: [false, false] }));
    expect(second.json).toMatchObject({ reward: 2 / 3, done: false });

    const progress = await rest("GET", "/v1/episodes/rest-1");
    expect(progress.json).toMatchObject({ episode: "rest-1", status: "running", calls: { made: 3, limit: 100 }, sub_answers: { needed: 1, solved: 1, pending: 0 }, score: null });

    const answered = await rest("POST", "/v1/episodes/rest-1/answer", { answer: "K-7731-QZ" });
    expect(answered.json).toMatchObject({ status: "submitted", done: true, reward: 1, step: { rule: "final_answer" }, score: { ftrl: { solve_rate: 1, solve_precision: 1 / 3, answer_correct: true } } });
    expect(records.getEpisode("rest-1")).toMatchObject({ status: "submitted", callCount: 3, finalAnswer: "K-7731-QZ", meta: expect.objectContaining({ face: "rest" }) });
    expect(records.listCalls("rest-1").map((c) => c.tool)).toEqual(["add", "add", "lookup_code"]);

    const after = await rest("POST", "/v1/episodes/rest-1/calls", { tool: "add", arguments: { n: 1 } });
    expect([after.status, after.json.error]).toEqual([410, expect.stringMatching(/has ended; open a new episode/)]);
    expect((await rest("GET", "/v1/episodes/rest-1")).json).toMatchObject({ status: "submitted", calls: { made: 3 } });
  });

  it('fails a response\'s call whose "arguments" is a JSON string of a non-object ("[1]"), counted and recorded, not run with {}', async () => {
    await rest("POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "rest-list" });
    const response = `<tool_call>\n{"name": "add", "arguments": "[1]"}\n</tool_call>${hermes("add", { n: 1 })}`;
    const r = await rest("POST", "/v1/episodes/rest-list/responses", { response });
    expect(r.json.calls.map((c: { is_error: boolean; output: string }) => [c.is_error, c.output])).toEqual([
      [true, "an error occured when call add: the arguments are not a JSON object: [1]"],
      [false, '{"count": 1}'],
    ]);
    expect(r.json.step).toMatchObject({ calls: 2, solved: 0 });
    expect(records.listCalls("rest-list").map((c) => [c.tool, c.errorKind])).toEqual([["add", "invalid_arguments"], ["add", null]]);
  });

  it("ends an episode at a response without tool calls, with that response as its answer", async () => {
    await rest("POST", "/v1/episodes", { env: FILMS.id, task: "director-birth-year", episode: "rest-2" });
    const msg = { content: null, tool_calls: [{ id: "a", type: "function", function: { name: "get_film", arguments: JSON.stringify({ title: "Crimson Harbor" }) } }] };
    expect((await rest("POST", "/v1/episodes/rest-2/responses", { response: msg })).json).toMatchObject({ reward: 1, done: false });
    const final = await rest("POST", "/v1/episodes/rest-2/responses", { response: "I could not finish." });
    expect(final.json).toMatchObject({ done: true, status: "submitted", step: { rule: "none" }, calls: [] });
    expect(records.getEpisode("rest-2")).toMatchObject({ status: "submitted", finalAnswer: "I could not finish." });
    expect((await rest("POST", "/v1/episodes/rest-2/responses", { response: "again" })).status).toBe(410);
  });

  it("answers bad input with clear errors and keeps serving", async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ["POST", "/v1/episodes", { env: "nope", task: "t" }, 404, /unknown environment "nope"/],
      ["POST", "/v1/episodes", { env: COUNTER.id }, 400, /has 2 tasks/],
      ["POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "rest-1" }, 409, /already in the database/],
      ["POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "bad id!" }, 400, /invalid episode id/],
      ["POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", extra: 1 }, 400, /extra/],
      ["POST", "/v1/episodes/never/calls", { tool: "add", arguments: {} }, 404, /no episode "never"/],
      ["GET", "/v1/episodes/never", undefined, 404, /no episode "never"/],
      ["DELETE", "/v1/episodes/rest-1", undefined, 410, /has ended/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const res = await rest(method, path, body);
      expect([res.status, res.json?.error], `${method} ${path}`).toEqual([status, expect.stringMatching(message)]);
    }
    await rest("POST", "/v1/episodes", { env: COUNTER.id, task: "code-beta", episode: "rest-3" });
    expect((await rest("POST", "/v1/episodes/rest-3/calls", { tool: 7 })).status).toBe(400);
    expect((await rest("POST", "/v1/episodes/rest-3/responses", { response: 7 })).status).toBe(400);
    expect((await rest("POST", "/v1/episodes", { env: COUNTER.id }, {})).status).toBe(401);
    const deleted = await rest("DELETE", "/v1/episodes/rest-3");
    expect([deleted.status, deleted.json.status]).toEqual([200, "closed"]);
    expect(records.getEpisode("rest-3")?.status).toBe("closed");
  });

  it("serializes calls that two faces send to one episode at once, in arrival order", async () => {
    await rest("POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "rest-4" });
    const ors = new OrsClient(server.origin, auth);
    const counts = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        if (i % 2 === 0) return JSON.parse((await rest("POST", "/v1/episodes/rest-4/calls", { tool: "add", arguments: { n: 1 } })).json.output).count as number;
        const r = await ors.call(ORS_SUITE, "rest-4", "add", { n: 1 });
        return JSON.parse(r.ok ? r.output.blocks[0]!.text! : "null").count as number;
      }),
    );
    expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const calls = records.listCalls("rest-4");
    expect(calls.map((c) => JSON.parse(c.output).count)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await rest("DELETE", "/v1/episodes/rest-4");
  });
});

describe("ORS", () => {
  const ors = () => new OrsClient(server.origin, auth);

  it("maps the folder onto ORS environments, a deterministic train/test split and tasks", async () => {
    expect(await ors().listEnvironments()).toEqual([ORS_SUITE, COUNTER.id, FILMS.id]);
    expect(await ors().splits(ORS_SUITE)).toEqual([{ name: "train", type: "train" }, { name: "test", type: "test" }]);
    const train = (await ors().tasks(ORS_SUITE, "train")).tasks;
    const test = (await ors().tasks(ORS_SUITE, "test")).tasks;
    const all = [...COUNTER.tasks.map((t) => ({ env: COUNTER.id, task: t.id })), ...FILMS.tasks.map((t) => ({ env: FILMS.id, task: t.id }))];
    expect([...train, ...test].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(all.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
    for (const t of train) expect(splitOf(t.env as string, t.task as string)).toBe("train");
    expect((await ors().tasks(COUNTER.id, "train")).tasks).toEqual(orsTasks(registry, COUNTER.id, "train"));
    await expect(ors().tasks(ORS_SUITE, "validation")).rejects.toThrow(/Invalid split/);
    await expect(ors().splits("nope")).rejects.toThrow(/unknown environment "nope"/);
  });

  it("runs a whole task: session, prompt, task tools, calls answered in SSE with reward and finished", async () => {
    const c = ors();
    const sid = await c.open(ORS_SUITE, { task_spec: { env: FILMS.id, task: "director-birth-year" } });
    expect((await c.prompt(ORS_SUITE, sid))[0]!.text).toContain("Crimson Harbor");
    expect((await c.taskTools(ORS_SUITE, sid)).tools.map((t) => t.name)).toEqual(["get_film", "get_person", "submit_answer"]);
    const film = await c.call(ORS_SUITE, sid, "get_film", { title: "Crimson Harbor" });
    expect(film).toMatchObject({ ok: true, output: { reward: 1, finished: false, metadata: { is_error: false, step: { solved: 1 } } } });
    const wrong = await c.call(FILMS.id, sid, "get_person", { name: "Nobody" });
    expect(wrong).toMatchObject({ ok: true, output: { reward: 0, finished: false, metadata: { is_error: true } } });
    const done = await c.call(ORS_SUITE, sid, "submit_answer", { answer: "1961" });
    expect(done).toMatchObject({ ok: true, output: { reward: 1 / 2, finished: true } });
    expect(await c.call(ORS_SUITE, sid, "get_film", { title: "x" })).toMatchObject({ ok: false, reason: "episode_finished" });
    expect(records.getEpisode(sid)).toMatchObject({ status: "submitted", callCount: 2, meta: expect.objectContaining({ face: "ors" }) });
    await c.close(sid);
  });

  it("answers sessionless calls, unknown sessions and mismatched environments with FastAPI-shaped errors", async () => {
    const c = ors();
    await expect(c.json("POST", `/${ORS_SUITE}/call`, { name: "add", input: {} })).rejects.toMatchObject({ status: 400, detail: expect.stringMatching(/X-Session-ID header is required/) });
    await expect(c.call(ORS_SUITE, "no-such-session", "add", {})).rejects.toMatchObject({ status: 404 });
    const sid = await c.open(COUNTER.id, { split: splitOf(COUNTER.id, "code-alpha"), index: orsTasks(registry, COUNTER.id, splitOf(COUNTER.id, "code-alpha")).findIndex((t) => t.task === "code-alpha") });
    await expect(c.call(FILMS.id, sid, "add", { n: 1 })).rejects.toMatchObject({ status: 400, detail: expect.stringMatching(/is an episode of test-counter/) });
    await expect(c.json("POST", "/create", { env_name: COUNTER.id, task_spec: { env: COUNTER.id, task: "code-alpha" } }, sid)).rejects.toMatchObject({ detail: "Session already exists" });
    expect(parseSse(await (await fetch(`${server.origin}/${ORS_SUITE}/call`, { method: "POST", headers: { ...auth, "content-type": "application/json", "x-session-id": sid }, body: JSON.stringify({ name: "add", input: {}, task_id: "never-issued" }) })).text())).toEqual([["error", "unknown task_id"]]);
    await c.close(sid);
    expect(records.getEpisode(sid)?.status).toBe("closed");
  });
});

describe("one episode through REST, then MCP, then ORS", () => {
  it("keeps one record and one score, equal to the same calls in process", async () => {
    const opened = await rest("POST", "/v1/episodes", { env: FILMS.id, task: "director-birth-year", episode: "across-1" });
    expect(opened.status).toBe(201);
    await rest("POST", "/v1/episodes/across-1/calls", { tool: "get_film", arguments: { title: "Crimson Harbor" } });

    const client = new Client({ name: "across", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?episode=across-1`), { requestInit: { headers: auth } }));
    const person = await client.callTool({ name: "get_person", arguments: { name: "Elena Vastrova" } });
    expect(JSON.stringify(person)).toContain("1961");
    await client.close();
    // The MCP session joined the episode; closing it does not end it.
    expect(server.service.find("across-1")?.status).toBe("running");

    const done = await new OrsClient(server.origin, auth).call(ORS_SUITE, "across-1", "submit_answer", { answer: "1961" });
    expect(done).toMatchObject({ ok: true, output: { finished: true } });

    const ip = await openInProcessEpisode({ registry, recorder, envId: FILMS.id, taskId: "director-birth-year", episodeId: "across-in-process" });
    const local = new Client({ name: "local", version: "1" });
    await local.connect(ip.transport);
    await local.callTool({ name: "get_film", arguments: { title: "Crimson Harbor" } });
    await local.callTool({ name: "get_person", arguments: { name: "Elena Vastrova" } });
    await local.callTool({ name: "submit_answer", arguments: { answer: "1961" } });
    await local.close();
    await ip.close();

    const row = records.getEpisode("across-1")!;
    expect(records.listEpisodes({}).episodes.filter((e) => e.id === "across-1")).toHaveLength(1);
    expect(row).toMatchObject({ status: "submitted", callCount: 2, finalAnswer: "1961" });
    expect(row.score).toEqual(records.getEpisode("across-in-process")!.score);
    expect(records.listCalls("across-1").map((c) => c.tool)).toEqual(["get_film", "get_person"]);
  });
});

describe("two planes", () => {
  /** Every string a task must never leak: its sub-answers, its answer, its gold plan's arguments. */
  const gold = (env: Environment, taskId: string): string[] => {
    const task = env.tasks.find((t) => t.id === taskId)!;
    return [...Object.values(task.unsolved_set).flat(), task.answer, ...task.gold_plan.map((s) => JSON.stringify(s.arguments)), JSON.stringify(task.gold_plan)];
  };

  it("returns no sub-answer, gold answer or gold plan on any agent-plane request", async () => {
    const seen: string[] = [];
    const keep = async (p: Promise<{ text: string }>) => seen.push((await p).text);
    await keep(rest("POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "gold-1" }));
    await keep(rest("GET", "/v1/episodes/gold-1"));
    await keep(rest("POST", "/v1/episodes/gold-1/calls", { tool: "add", arguments: { n: 1 } }));
    await keep(rest("POST", "/v1/episodes/gold-1/responses", { response: hermes("fail", { message: "x" }) }));
    await keep(rest("POST", "/v1/episodes/gold-1/answer", { answer: "no idea" }));
    await keep(rest("GET", "/v1/episodes/gold-1"));
    for (const path of ["/list_environments", `/${ORS_SUITE}/tools`, `/${COUNTER.id}/tools`, `/${ORS_SUITE}/splits`]) await keep(rest("GET", path));
    for (const split of ["train", "test"]) await keep(rest("POST", `/${ORS_SUITE}/tasks`, { split }));
    const c = new OrsClient(server.origin, auth);
    const sid = await c.open(ORS_SUITE, { task_spec: { env: COUNTER.id, task: "code-alpha" } });
    seen.push(JSON.stringify(await c.prompt(ORS_SUITE, sid)), JSON.stringify(await c.taskTools(ORS_SUITE, sid)), JSON.stringify(await c.call(ORS_SUITE, sid, "add", { n: 1 })));
    const mcp = new Client({ name: "gold", version: "1" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?env=${COUNTER.id}&task=code-alpha`), { requestInit: { headers: auth } }));
    seen.push(JSON.stringify(await mcp.listTools()), JSON.stringify(await mcp.listPrompts()), JSON.stringify(await mcp.getPrompt({ name: "code-alpha" })), JSON.stringify(await mcp.listResources()));
    for (const uri of ["envforge://task", "envforge://episode"]) seen.push(JSON.stringify(await mcp.readResource({ uri })));
    seen.push(mcp.getInstructions() ?? "");
    await mcp.close();
    // The control plane's paths, asked on the agent listener with the agent's token.
    for (const path of ["/api/episodes/gold-1", "/api/episodes/rest-1", "/episodes/rest-1", "/"]) {
      const res = await rest("GET", path);
      expect(res.status, path).toBe(403);
      seen.push(res.text);
    }
    const reward = await rest("POST", "/v1/reward", { env: COUNTER.id, task: "code-alpha", response: "" });
    expect(reward.status).toBe(403);
    seen.push(reward.text);
    const text = seen.join("\n");
    for (const g of gold(COUNTER, "code-alpha")) expect(text, g).not.toContain(g);
    await c.close(sid);
  });

  it("serves the control plane on its own listener to the admin token, and refuses the agent's", async () => {
    const admin = server.adminOrigin!;
    const withAgent = await fetch(`${admin}/api/episodes/rest-1`, { headers: auth });
    expect(withAgent.status).toBe(401);
    const withAdmin = await fetch(`${admin}/api/episodes/rest-1`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(withAdmin.status).toBe(200);
    expect(await withAdmin.text()).toContain("K-7731-QZ");
    const onMain = await fetch(`${server.origin}/v1/reward`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ env: COUNTER.id, task: "code-alpha", response: "" }) });
    expect(onMain.status).toBe(200);
    expect(((await onMain.json()) as { state: { unsolved_set: unknown } }).state.unsolved_set).toEqual({ lookup_code: ["K-7731-QZ"] });
    expect((await fetch(`${admin}/mcp`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    expect((await fetch(`${admin}/v1/episodes`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
  });
});

