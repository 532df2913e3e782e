// The control plane's operator routes over real HTTP: /healthz, /readyz (store, shutdown, environments) and Prometheus /metrics moved by real clients.
import Database from "better-sqlite3";
import fc from "fast-check";
import { Gauge, Registry } from "prom-client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { configureSandboxPool, type CompiledEnvironment } from "../../src/runtime/index.ts";
import { Recorder } from "../../src/store/index.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer, type HttpServerOptions } from "../../src/serve/index.ts";
import { makeEnv } from "../runtime/helpers.ts";
import { COUNTER, tempDir } from "./fixtures.ts";

// One worker, stopped half a second past a request's budget: the replay test below moves episodes off it.
configureSandboxPool({ workers: 1, graceMs: 500 });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(options: Partial<HttpServerOptions> = {}, busyTimeoutMs = 5000): Promise<{ server: HttpServer; recorder: Recorder; db: string }> {
  const tmp = tempDir("envforge-ops-");
  const recorder = Recorder.open(tmp.db, { busyTimeoutMs });
  const server = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }]), recorder, port: 0, admin: { port: 0 }, ...options });
  cleanups.push(() => tmp.cleanup(), () => recorder.close(), () => server.close());
  return { server, recorder, db: tmp.db };
}

async function get(url: string, token?: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

/** One sample of the exposition text: a metric name, its labels and its value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;
const unescape = (v: string): string => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));

/** Reads the samples of Prometheus text exposition (comments skipped); a line it cannot read fails the test. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(LABEL)].map((l) => [l[1]!, unescape(l[2]!)]));
    samples.push({ name: m[1]!, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return samples;
}

/** The value of one sample; 0 when the series has not been seen yet (a counter at rest). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

async function scrape(server: HttpServer, token?: string): Promise<Sample[]> {
  const res = await get(`${server.adminOrigin}/metrics`, token);
  expect(res.status).toBe(200);
  expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(res.text);
}

async function rest(server: HttpServer, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.origin}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as Record<string, unknown>;
}

async function mcp(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "ops-test", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

describe("the exposition parser of these tests", () => {
  it("reads back any label value and number prom-client writes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.double({ noNaN: true, min: -1e12, max: 1e12 }), async (label, n) => {
        const registry = new Registry();
        new Gauge({ name: "probe", help: "a probe", labelNames: ["l"], registers: [registry] }).set({ l: label }, n);
        // The exposition text has no negative zero: -0 is written, and read back, as 0.
        expect(parseExposition(await registry.metrics())).toEqual([{ name: "probe", labels: { l: label }, value: n === 0 ? 0 : n }]);
      }),
      { seed: 12, numRuns: 200 },
    );
  });
});

describe("where the operator routes answer", () => {
  it("answers probes without a token and metrics only to the admin token on the admin listener, and none of them to the agent's listener", async () => {
    const { server } = await serve({ token: "agent-secret", adminToken: "admin-secret" });
    expect(await get(`${server.adminOrigin}/healthz`)).toMatchObject({ status: 200, text: '{"live":true}' });
    expect((await get(`${server.adminOrigin}/readyz`)).status).toBe(200);
    const head = await fetch(`${server.adminOrigin}/readyz`, { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);
    expect((await get(`${server.adminOrigin}/metrics`)).status).toBe(401);
    expect((await get(`${server.adminOrigin}/metrics`, "agent-secret")).status).toBe(401);
    expect((await get(`${server.adminOrigin}/metrics`, "admin-secret")).status).toBe(200);
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      for (const token of [undefined, "agent-secret"]) {
        const res = await get(`${server.origin}${path}`, token);
        expect(res.status, `${path} with ${token ?? "no token"}`).toBe(403);
        expect(res.text).toContain("control plane");
      }
      // --admin-token puts the control plane on the main listener too, to that token only.
      expect((await get(`${server.origin}${path}`, "admin-secret")).status).toBe(200);
    }
  });

  it("keeps them off a server without a control plane", async () => {
    const { server } = await serve({ admin: undefined });
    expect(server.adminOrigin).toBeNull();
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await get(`${server.origin}${path}`)).status).toBe(403);
  });

  it("serves no /metrics when metrics are off, and probes still", async () => {
    const { server } = await serve({ metrics: false });
    expect((await get(`${server.adminOrigin}/metrics`)).status).toBe(404);
    expect((await get(`${server.adminOrigin}/readyz`)).status).toBe(200);
  });
});

describe("readiness", () => {
  it("turns 503 while the store is locked past its busy timeout, counts the failed commit, and turns 200 again when the lock goes", async () => {
    const { server, db } = await serve({}, 50);
    const { client } = await mcp(`${server.url}?env=test-counter&task=code-alpha`);
    await client.callTool({ name: "add", arguments: { n: 1 } });
    expect(JSON.parse((await get(`${server.adminOrigin}/readyz`)).text)).toEqual({ ready: true, store: "writable", environments: 1, sessions: 1, episodes: 1 });
    const before = await scrape(server);
    expect(value(before, "envforge_store_writable")).toBe(1);

    const other = new Database(db);
    other.exec("BEGIN IMMEDIATE");
    await expect(client.callTool({ name: "add", arguments: { n: 1 } })).rejects.toThrow(/the store failed/);
    const down = await get(`${server.adminOrigin}/readyz`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.text)).toEqual({ ready: false, reason: "database is locked (SQLITE_BUSY)", store: "unwritable", environments: 1, sessions: 1, episodes: 1 });
    const during = await scrape(server);
    expect(value(during, "envforge_store_writable")).toBe(0);
    expect(value(during, "envforge_store_failures_total") - value(before, "envforge_store_failures_total")).toBe(1);
    // The call that did not take effect is an error.
    expect(value(during, "envforge_tool_calls_total", { outcome: "error" }) - value(before, "envforge_tool_calls_total", { outcome: "error" })).toBe(1);

    other.exec("ROLLBACK");
    other.close();
    while ((await get(`${server.adminOrigin}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 50));
    expect(value(await scrape(server), "envforge_store_writable")).toBe(1);
  });

  it("turns 503 once the server starts shutting down, while it still finishes a call", async () => {
    // The call's environment compiles only when the test says so: the server's close waits for that call.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    class HeldRegistry extends EnvironmentRegistry {
      override compile(envId: string): Promise<CompiledEnvironment> {
        return held.then(() => super.compile(envId));
      }
    }
    const { server } = await serve({ registry: new HeldRegistry([{ env: COUNTER }]) });
    const { episode } = (await rest(server, "/v1/episodes", { env: "test-counter", task: "code-alpha" })) as { episode: string };
    const call = rest(server, `/v1/episodes/${episode}/calls`, { tool: "add", arguments: { n: 2 } });
    expect((await get(`${server.adminOrigin}/readyz`)).status).toBe(200);
    const closed = server.close();
    const draining = await get(`${server.adminOrigin}/readyz`);
    expect(draining.status).toBe(503);
    expect(JSON.parse(draining.text)).toMatchObject({ ready: false, reason: "the server is shutting down", store: "writable" });
    expect((await get(`${server.adminOrigin}/healthz`)).status).toBe(200);
    release();
    expect(await call).toMatchObject({ output: '{"count": 2}' });
    await closed;
  });

  it("is 503 with no environments to open episodes of", async () => {
    const { server } = await serve({ registry: new EnvironmentRegistry([]) });
    const res = await get(`${server.adminOrigin}/readyz`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ ready: false, reason: "no environments are loaded", environments: 0 });
  });
});

describe("metrics", () => {
  it("count episodes, calls and commits made through real MCP and REST clients", async () => {
    const { server } = await serve();
    const before = await scrape(server);
    expect(value(before, "envforge_open_episodes", { face: "mcp" })).toBe(0);

    const { client, transport } = await mcp(`${server.url}?env=test-counter&task=code-alpha`);
    await client.callTool({ name: "add", arguments: { n: 1 } });
    await client.callTool({ name: "add", arguments: { n: 2 } });
    await client.callTool({ name: "fail", arguments: { message: "no" } });
    const { episode } = (await rest(server, "/v1/episodes", { env: "test-counter", task: "code-beta" })) as { episode: string };
    await rest(server, `/v1/episodes/${episode}/calls`, { tool: "lookup_code", arguments: { name: "beta" } });
    await rest(server, `/v1/episodes/${episode}/calls`, { tool: "lookup_code", arguments: { name: "gamma" } });

    const open = await scrape(server);
    expect(value(open, "envforge_open_episodes", { face: "mcp" })).toBe(1);
    expect(value(open, "envforge_open_episodes", { face: "rest" })).toBe(1);
    expect(value(open, "envforge_episodes_opened_total", { face: "mcp" })).toBe(1);
    expect(value(open, "envforge_episodes_opened_total", { face: "rest" })).toBe(1);
    expect(value(open, "envforge_tool_calls_total", { outcome: "ok" })).toBe(3);
    expect(value(open, "envforge_tool_calls_total", { outcome: "error" })).toBe(2);
    expect(value(open, "envforge_tool_call_duration_seconds_count")).toBe(5);
    expect(value(open, "envforge_tool_call_duration_seconds_bucket", { le: "+Inf" })).toBe(5);
    // Every call's record commits before its answer: at least one timed commit per call.
    expect(value(open, "envforge_store_commit_duration_seconds_count")).toBeGreaterThanOrEqual(5);
    expect(value(open, "envforge_store_failures_total")).toBe(0);
    // Both episodes ran calls, so both hold a sandbox; the default budget leaves nobody waiting for one.
    expect(value(open, "envforge_resident_sandboxes")).toBe(2);
    expect(value(open, "envforge_sandbox_waiting_calls")).toBe(0);
    // The default process metrics come along.
    expect(value(open, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(open.some((s) => s.name === "nodejs_eventloop_lag_seconds")).toBe(true);

    await rest(server, `/v1/episodes/${episode}/answer`, { answer: "M-0042-RT" });
    await transport.terminateSession();
    // The MCP episode ends with its session, a moment after the client has ended it.
    let ended = await scrape(server);
    while (value(ended, "envforge_open_episodes", { face: "mcp" }) !== 0) ended = await scrape(server);
    expect(value(ended, "envforge_open_episodes", { face: "rest" })).toBe(0);
    expect(value(ended, "envforge_episodes_ended_total", { status: "submitted" })).toBe(1);
    expect(value(ended, "envforge_episodes_ended_total", { status: "closed" })).toBe(1);
    expect(value(ended, "envforge_resident_sandboxes")).toBe(0);
  });

  it("count the sandbox pool's replays and the evictions the service reports", async () => {
    const patterned = makeEnv(
      { put: { source: "function put(args, state) { state.items.push(args.s); return state.items.length; }", schema: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } } } },
      { id: "patterned", state: { items: [] } },
    );
    const { server } = await serve({ registry: new EnvironmentRegistry([{ env: patterned }], { timeoutMs: 200 }) });
    const before = await scrape(server);
    const open = async (): Promise<string> => ((await rest(server, "/v1/episodes", { env: "patterned" })) as { episode: string }).episode;
    const put = (id: string, s: string) => rest(server, `/v1/episodes/${id}/calls`, { tool: "put", arguments: { s } });
    const [victim, bystander] = [await open(), await open()];
    await put(victim, "aaa");
    await put(bystander, "a");
    // The argument check backtracks outside the sandbox's deadline: the pool stops the worker and rebuilds both episodes elsewhere.
    expect(await put(victim, `${"a".repeat(40)}!`)).toMatchObject({ is_error: true });
    expect(await put(victim, "aa")).toMatchObject({ output: "2" });
    expect(await put(bystander, "a")).toMatchObject({ output: "2" });
    server.service.events.evicted(3);
    const after = await scrape(server);
    expect(value(after, "envforge_replays_total") - value(before, "envforge_replays_total")).toBe(2);
    expect(value(after, "envforge_replayed_calls_total") - value(before, "envforge_replayed_calls_total")).toBe(2);
    expect(value(after, "envforge_evictions_total")).toBe(3);
    server.service.events.replayed(4);
    const rebuilt = await scrape(server);
    expect(value(rebuilt, "envforge_replays_total") - value(after, "envforge_replays_total")).toBe(1);
    expect(value(rebuilt, "envforge_replayed_calls_total") - value(after, "envforge_replayed_calls_total")).toBe(4);
  });
});
