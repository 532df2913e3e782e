// Under load: 2,000 REST episodes open at once on one `envforge serve --http` child, 3 calls each; every answer a client got is in the store.
import { Agent, request } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { COUNTER, spawnHttpServer, tempDir, type ServeChild, type TempDir } from "./fixtures.ts";

const EPISODES = 2000;
const CALLS = 3;
let tmp: TempDir;
let server: ServeChild;
let agent: Agent;

beforeAll(async () => {
  tmp = tempDir("envforge-rest-load-");
  // 2,000 from one client is far under --max-episodes (32,768 by default). The idle timeout must outlast a slow run.
  server = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db, "--idle-timeout", "900"]);
  // Many connections, not one per episode, so the test needs no more file descriptors than a default limit allows.
  agent = new Agent({ keepAlive: true, maxSockets: 256 });
});
afterAll(() => {
  agent.destroy();
  server.child.kill("SIGKILL");
  tmp.cleanup();
});

function send(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), { method, agent, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

it("answers every request of 2,000 concurrent REST episodes and stores every answer it gave", async () => {
  const ids = Array.from({ length: EPISODES }, (_, e) => `load-${e}`);
  // All episodes are open before any call, so all 2,000 are live at once.
  const opens = await Promise.all(ids.map((episode) => send("POST", "/v1/episodes", { env: COUNTER.id, task: "code-alpha", episode })));
  expect(opens.filter((r) => r.status !== 201)).toEqual([]);
  const outputs = await Promise.all(
    ids.map(async (id, e) => {
      const got: string[] = [];
      for (let i = 1; i <= CALLS; i++) {
        const r = await send("POST", `/v1/episodes/${id}/calls`, { tool: "add", arguments: { n: e + i } });
        expect(r.status, JSON.stringify(r.json)).toBe(200);
        got.push(r.json.output as string);
      }
      return got;
    }),
  );
  const ends = await Promise.all(ids.map((id) => send("DELETE", `/v1/episodes/${id}`)));
  expect(ends.filter((r) => r.status !== 200)).toEqual([]);
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.once("exit", r));

  const records = Records.open(tmp.db);
  try {
    expect(records.counts()).toMatchObject({ episodes: EPISODES, calls: EPISODES * CALLS, byStatus: { closed: EPISODES } });
    ids.forEach((id, e) => {
      const stored = records.listCalls(id);
      expect(stored.map((c) => c.output)).toEqual(outputs[e]);
      // Each episode's own counter: the state of one never leaked into another under load.
      expect(stored.map((c) => JSON.parse(c.output).count)).toEqual([e + 1, 2 * e + 3, 3 * e + 6]);
    });
  } finally {
    records.close();
  }
}, 600_000);
