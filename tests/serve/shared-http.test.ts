// Two HTTP servers on one shared store: what the REST and ORS faces answer for an episode another process ran, ended or is ending.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { COUNTER, tempDir, type TempDir } from "./fixtures.ts";
import { OrsClient } from "./ors-client.ts";

let tmp: TempDir;
const servers: HttpServer[] = [];
const recorders: Recorder[] = [];
beforeEach(() => {
  tmp = tempDir("envforge-shared-http-");
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const r of recorders.splice(0)) r.close();
  tmp.cleanup();
});

/** One server process: its own recorder (its own owner name) on the shared file. */
async function replica(name: string): Promise<HttpServer> {
  const recorder = Recorder.open(tmp.db);
  Object.defineProperty(recorder, "owner", { value: `test-host:${name}:0` });
  recorders.push(recorder);
  const server = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }], { timeoutMs: 300 }), recorder, port: 0, shared: { leaseMs: 2_000 } });
  servers.push(server);
  return server;
}

async function rest(server: HttpServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.origin}${path}`, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("REST and ORS on a shared store", () => {
  it("answer 410 and episode_finished, not a server error, for a call to an episode another process ended", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    expect((await rest(a, "POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "rest-ended" })).status).toBe(201);
    expect((await rest(a, "POST", "/v1/episodes/rest-ended/calls", { tool: "add", arguments: { n: 2 } })).json).toMatchObject({ output: `{"count": 2}` });
    expect((await rest(b, "POST", "/v1/episodes/rest-ended/answer", { answer: "K-7731-QZ" })).status).toBe(200);
    // A still holds the episode; its call finds the end when it takes the lease.
    const late = await rest(a, "POST", "/v1/episodes/rest-ended/calls", { tool: "add", arguments: { n: 1 } });
    expect(late.status).toBe(410);
    expect(late.json.error).toMatch(/has ended \(submitted\)/);

    const orsA = new OrsClient(a.origin);
    const orsB = new OrsClient(b.origin);
    const sid = await orsA.open(COUNTER.id, { task_spec: { env: COUNTER.id, task: "code-alpha" } });
    expect((await orsA.call(COUNTER.id, sid, "add", { n: 1 })).ok).toBe(true);
    await orsB.close(sid);
    expect(await orsA.call(COUNTER.id, sid, "add", { n: 1 })).toMatchObject({ ok: false, reason: "episode_finished" });
  });

  it("ends and scores from the record an episode closed through a process that never ran its calls", async () => {
    const [a, b] = [await replica("a"), await replica("b")];
    await rest(a, "POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode: "closed-elsewhere" });
    await rest(a, "POST", "/v1/episodes/closed-elsewhere/calls", { tool: "add", arguments: { n: 3 } });
    await rest(a, "POST", "/v1/episodes/closed-elsewhere/calls", { tool: "lookup_code", arguments: { name: "alpha" } });
    const closed = await rest(b, "DELETE", "/v1/episodes/closed-elsewhere");
    expect(closed.status).toBe(200);
    expect(closed.json).toMatchObject({ status: "closed", calls: { made: 2 } });
    const records = Records.open(tmp.db);
    const row = records.getEpisode("closed-elsewhere")!;
    expect(row.status).toBe("closed");
    expect(row.callCount).toBe(2);
    expect(row.score?.ftrl.calls).toBe(2);
    records.close();
  });
});
