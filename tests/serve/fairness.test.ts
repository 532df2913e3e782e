// Per-client session limits: who a client is, the admission rule (fast-check), and one client's idle sessions beside another's over real HTTP.
import { request } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admit, clientOf, type FairnessLimits, type Holder } from "../../src/serve/fairness.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { COUNTER, tempDir, type TempDir } from "./fixtures.ts";

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

  /** Opens an episode from `from` (a loopback address: each is another client) and returns the status and session id. */
  function initialize(server: HttpServer, from: string, episode: string): Promise<{ status: number; session: string | undefined; body: string }> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fair", version: "0" } } });
    return new Promise((resolve, reject) => {
      const url = `${server.url}?env=test-counter&task=code-alpha&episode=${episode}`;
      const req = request(url, { method: "POST", localAddress: from, headers: { "content-type": "application/json", accept: "application/json, text/event-stream" } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, session: res.headers["mcp-session-id"] as string | undefined, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
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
});
