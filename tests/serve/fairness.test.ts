// Per-client limits on MCP sessions and on episodes opened by id: who a client is, the admission rule (fast-check), and one client's idle ones beside another's over real HTTP.
import { request } from "node:http";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admit, type FairnessLimits, type Holder } from "../../src/episode/index.ts";
import { clientOf } from "../../src/serve/fairness.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { COUNTER, spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

describe("clientOf", () => {
  it("is the remote address, IPv4-mapped folded to IPv4 and IPv6 cut to its /64", () => {
    expect(clientOf("127.0.0.1")).toBe("127.0.0.1");
    expect(clientOf("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(clientOf("2001:db8:aa:bb:1:2:3:4")).toBe("2001:db8:aa:bb::/64");
    expect(clientOf("2001:0db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientOf("2001:db8:aa:bb::9")).toBe(clientOf("2001:db8:aa:bb:ffff::1"));
    expect(clientOf("::1")).toBe("0:0:0:0::/64");
    expect(clientOf(undefined)).toBe("unknown");
  });
});

describe("admit", () => {
  const holder = fc.record({ client: fc.constantFrom("a", "b", "c", "d"), lastActive: fc.integer({ min: 0, max: 1000 }), inflight: fc.constantFrom(0, 0, 1) });
  const limits = fc.record({ maxSessions: fc.integer({ min: 1, max: 12 }), maxPerClient: fc.integer({ min: 1, max: 12 }), reclaimIdleMs: fc.integer({ min: 0, max: 1000 }) });

  it("keeps every limit, takes only long-idle sessions of a larger holder, and never leaves room unused", () => {
    fc.assert(
      fc.property(fc.array(holder, { maxLength: 14 }), fc.constantFrom("a", "b", "c", "e"), limits, (open, client, l: FairnessLimits) => {
        const now = 1000;
        const count = (c: string) => open.filter((h) => h.client === c).length;
        const a = admit(open, client, l, now);
        if (count(client) >= l.maxPerClient) return a.type === "refuse" && a.status === (l.maxPerClient < l.maxSessions ? 429 : 503);
        if (open.length < l.maxSessions) return a.type === "admit";
        if (a.type === "admit") return false;
        if (a.type === "reclaim") {
          const v: Holder = a.session;
          return open.includes(a.session) && v.inflight === 0 && now - v.lastActive >= l.reclaimIdleMs && count(v.client) > count(client) + 1 && open.every((h) => count(h.client) <= count(v.client));
        }
        // Refused while full: no larger holder has a session that could be taken.
        const largest = Math.max(...open.map((h) => count(h.client)));
        return a.status === 503 && !open.some((h) => count(h.client) === largest && largest > count(client) + 1 && h.inflight === 0 && now - h.lastActive >= l.reclaimIdleMs);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("over HTTP", () => {
  let tmp: TempDir;
  let recorder: Recorder;
  let registry: EnvironmentRegistry;
  const servers: HttpServer[] = [];

  beforeAll(() => {
    tmp = tempDir();
    recorder = Recorder.open(tmp.db);
    registry = new EnvironmentRegistry([{ env: COUNTER }], { timeoutMs: 300 });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    recorder.close();
    tmp.cleanup();
  });

  /** A request from `from` (a loopback address: each is another client). */
  function exchange(url: string, from: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, localAddress: from, headers: { "content-type": "application/json", ...headers } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Opens an MCP session's episode from `from` and returns the status and session id. */
  async function initialize(server: HttpServer, from: string, episode: string): Promise<{ status: number; session: string | undefined; body: string }> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fair", version: "0" } } });
    const r = await exchange(`${server.url}?env=test-counter&task=code-alpha&episode=${episode}`, from, "POST", body, { accept: "application/json, text/event-stream" });
    return { status: r.status, session: r.headers["mcp-session-id"] as string | undefined, body: r.text };
  }

  it("lets another client in when one holds every session idle, ending that client's longest idle session", async () => {
    const server = await startHttpServer({ registry, recorder, port: 0, maxSessions: 20, reclaimIdleMs: 0 });
    servers.push(server);
    for (let i = 0; i < 20; i++) expect((await initialize(server, "127.0.0.1", `hog-${i}`)).status).toBe(200);
    const more = await initialize(server, "127.0.0.1", "hog-20");
    expect(more.status).toBe(503);
    expect(more.body).toMatch(/20 sessions are open, the most this server allows/);
    for (const [i, from] of ["127.0.0.2", "127.0.0.3"].entries()) {
      expect((await initialize(server, from, `guest-${i}`)).status).toBe(200);
      expect(server.sessionCount()).toBe(20);
    }
    const records = new Records(recorder.db);
    expect(["hog-0", "hog-1", "hog-2"].map((id) => records.getEpisode(id)?.status)).toEqual(["idle_timeout", "idle_timeout", "running"]);
    // The guests are each one short of nothing: a third guest takes another of the hog's sessions, never a guest's.
    expect((await initialize(server, "127.0.0.4", "guest-2")).status).toBe(200);
    expect(["guest-0", "guest-1", "hog-2"].map((id) => records.getEpisode(id)?.status)).toEqual(["running", "running", "idle_timeout"]);
  });

  it("refuses a client past its own limit with 429 while others still get in", async () => {
    const server = await startHttpServer({ registry, recorder, port: 0, maxSessionsPerClient: 2 });
    servers.push(server);
    expect((await initialize(server, "127.0.0.1", "capped-0")).status).toBe(200);
    expect((await initialize(server, "127.0.0.1", "capped-1")).status).toBe(200);
    const third = await initialize(server, "127.0.0.1", "capped-2");
    expect(third.status).toBe(429);
    expect(third.body).toMatch(/this client \(127\.0\.0\.1\) has 2 sessions open, the most one client may hold/);
    expect((await initialize(server, "127.0.0.2", "other-0")).status).toBe(200);
  });

  /** A JSON request from `from`, its answer parsed. */
  async function send(origin: string, from: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
    const r = await exchange(`${origin}${path}`, from, method, body === undefined ? undefined : JSON.stringify(body), headers);
    return { status: r.status, json: r.text ? (JSON.parse(r.text) as Record<string, unknown>) : {} };
  }
  const openRest = (server: HttpServer, from: string, episode: string) => send(server.origin, from, "POST", "/v1/episodes", { env: "test-counter", task: "code-alpha", episode });
  const openOrs = (server: HttpServer, from: string, sid: string) => send(server.origin, from, "POST", "/create", { task_spec: { env: "test-counter", task: "code-alpha" } }, { "x-session-id": sid });
  const callRest = (server: HttpServer, from: string, episode: string, n: number) => send(server.origin, from, "POST", `/v1/episodes/${episode}/calls`, { tool: "add", arguments: { n } });

  it("counts REST and ORS episodes of one client together, past its limit 429, until it ends one", async () => {
    const server = await startHttpServer({ registry, recorder, port: 0, maxEpisodesPerClient: 2 });
    servers.push(server);
    expect((await openRest(server, "127.0.0.1", "rest-cap-0")).status).toBe(201);
    expect((await openOrs(server, "127.0.0.1", "ors-cap-0")).status).toBe(200);
    const third = await openRest(server, "127.0.0.1", "rest-cap-1");
    expect(third.status).toBe(429);
    expect(third.json.error).toMatch(/this client \(127\.0\.0\.1\) has 2 episodes open, the most one client may hold; end one \(REST DELETE/);
    const orsThird = await openOrs(server, "127.0.0.1", "ors-cap-1");
    expect(orsThird.status).toBe(429);
    expect(orsThird.json.detail).toMatch(/has 2 episodes open/);
    // Refused opens leave nothing behind.
    const records = new Records(recorder.db);
    expect(records.getEpisode("rest-cap-1")).toBeNull();
    expect(records.getEpisode("ors-cap-1")).toBeNull();
    // Another client is not held back, and an ended episode frees its place.
    expect((await openRest(server, "127.0.0.2", "rest-other-0")).status).toBe(201);
    expect((await send(server.origin, "127.0.0.1", "DELETE", "/v1/episodes/rest-cap-0")).status).toBe(200);
    expect((await openRest(server, "127.0.0.1", "rest-cap-1")).status).toBe(201);
    // MCP sessions are counted apart, by --max-sessions-per-client.
    expect((await initialize(server, "127.0.0.1", "mcp-beside-0")).status).toBe(200);
  });

  it("lets another client in when one holds every episode idle, ending its longest idle one", async () => {
    const server = await startHttpServer({ registry, recorder, port: 0, maxEpisodes: 4, reclaimIdleMs: 0 });
    servers.push(server);
    for (let i = 0; i < 4; i++) expect((await openRest(server, "127.0.0.1", `rest-hog-${i}`)).status).toBe(201);
    // Used last, so the longest idle is rest-hog-1.
    expect((await callRest(server, "127.0.0.1", "rest-hog-0", 5)).json).toMatchObject({ output: `{"count": 5}` });
    const more = await openRest(server, "127.0.0.1", "rest-hog-4");
    expect(more.status).toBe(503);
    expect(more.json.error).toMatch(/4 episodes are open, the most this server allows/);
    expect((await openRest(server, "127.0.0.2", "rest-guest-0")).status).toBe(201);
    const records = new Records(recorder.db);
    await server.service.find("rest-hog-1")?.end("closed");
    expect(["rest-hog-0", "rest-hog-1", "rest-hog-2"].map((id) => records.getEpisode(id)?.status)).toEqual(["running", "idle_timeout", "running"]);
    expect((await callRest(server, "127.0.0.1", "rest-hog-1", 1)).status).toBe(410);
    expect((await callRest(server, "127.0.0.1", "rest-hog-0", 1)).json).toMatchObject({ output: `{"count": 6}` });
  });

  it("takes its limits from `envforge serve --max-episodes-per-client`", async () => {
    const child = await spawnHttpServer(["--dir", tmp.envDir, "--db", join(tmp.path, "cli.db"), "--max-episodes-per-client", "1"]);
    try {
      const open = (from: string, episode: string) => send(new URL(child.url).origin, from, "POST", "/v1/episodes", { env: "test-counter", task: "code-alpha", episode });
      expect((await open("127.0.0.1", "cli-cap-0")).status).toBe(201);
      expect((await open("127.0.0.1", "cli-cap-1")).status).toBe(429);
      expect((await open("127.0.0.2", "cli-other-0")).status).toBe(201);
    } finally {
      child.child.kill("SIGKILL");
    }
  });

  it("with a shared store, only lets the reclaimed episode go: its client continues it from the store", async () => {
    const server = await startHttpServer({ registry, recorder, port: 0, maxEpisodes: 2, reclaimIdleMs: 0, shared: { leaseMs: 5000 } });
    servers.push(server);
    expect((await openRest(server, "127.0.0.1", "shared-hog-0")).status).toBe(201);
    expect((await callRest(server, "127.0.0.1", "shared-hog-0", 7)).json).toMatchObject({ output: `{"count": 7}` });
    expect((await openRest(server, "127.0.0.1", "shared-hog-1")).status).toBe(201);
    expect((await openRest(server, "127.0.0.2", "shared-guest-0")).status).toBe(201);
    expect(server.service.find("shared-hog-0")).toBeUndefined();
    expect(new Records(recorder.db).getEpisode("shared-hog-0")?.status).toBe("running");
    // Taken up again from its record, with its state: 7 + 1.
    expect((await callRest(server, "127.0.0.1", "shared-hog-0", 1)).json).toMatchObject({ output: `{"count": 8}` });
  });
});
