// Serving benchmark: tool calls/s and latency through every face (legacy MCP, modern MCP, REST, ORS) with sandbox + recording
// beside a bare SDK server, memory per 1,000 open sessions, and a 1,000-session x 10-call load run whose records are counted. Loopback only.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Records } from "../src/store/index.ts";
import { LOOKUP_ENV as ENV } from "./lookup-env.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PROTOCOL = "2025-06-18";
const agent = new Agent({ keepAlive: true, maxSockets: 200 });

interface Reply {
  status: number;
  sessionId: string | undefined;
  body: string;
}

function send(url: string, body: unknown, sessionId: string | undefined, method: string, extra: Record<string, string>): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream", ...extra };
    if (sessionId) Object.assign(headers, { "mcp-session-id": sessionId, "mcp-protocol-version": PROTOCOL });
    const req = request(url, { method, agent, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolvePromise({ status: res.statusCode!, sessionId: res.headers["mcp-session-id"] as string | undefined, body: text }));
    });
    req.on("error", (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** One HTTP exchange; retried once when a kept-alive socket was closed by the server just as it was reused. */
async function post(url: string, body: unknown, sessionId?: string, method = "POST", extra: Record<string, string> = {}): Promise<Reply> {
  try {
    return await send(url, body, sessionId, method, extra);
  } catch (err) {
    if ((err as { reused?: boolean; code?: string }).reused && (err as { code?: string }).code === "ECONNRESET") return send(url, body, sessionId, method, extra);
    throw err;
  }
}

async function openSession(url: string): Promise<string> {
  const init = await post(url, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "bench", version: "1" } } });
  if (init.status !== 200 || !init.sessionId) throw new Error(`initialize failed: ${init.status} ${init.body}`);
  await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, init.sessionId);
  return init.sessionId;
}

async function callTool(url: string, sid: string, id: number, name: string, args: unknown): Promise<void> {
  const reply = await post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }, sid);
  const parsed = JSON.parse(reply.body) as { result?: { isError?: boolean } };
  if (reply.status !== 200 || !parsed.result || parsed.result.isError) throw new Error(`call failed: ${reply.status} ${reply.body.slice(0, 300)}`);
}

const closeSession = (url: string, sid: string) => post(url, undefined, sid, "DELETE");

/** How a client opens an episode, makes one call and ends it through one face. */
interface Face {
  open(): Promise<string>;
  call(sid: string, id: number, args: unknown): Promise<void>;
  close(sid: string): Promise<unknown>;
}

const check = (reply: Reply, ok: (body: string) => boolean, what: string): void => {
  if (reply.status >= 300 || !ok(reply.body)) throw new Error(`${what} failed: ${reply.status} ${reply.body.slice(0, 300)}`);
};

/** MCP 2025-11-25: a session per episode. */
const legacyFace = (server: Server): Face => ({
  open: () => openSession(server.sessionUrl),
  call: (sid, id, args) => callTool(server.sessionUrl, sid, id, server.tool, args),
  close: (sid) => closeSession(server.url, sid),
});

const MODERN_META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" }, "io.modelcontextprotocol/clientCapabilities": {} };
let modernIds = 0;
/** MCP 2026-07-28: no session; the episode is named in the URL and made at its first request. */
const modernFace = (server: Server): Face => ({
  open: async () => `bench-modern-${process.pid}-${modernIds++}`,
  call: async (sid, id, args) => {
    const body = { jsonrpc: "2.0", id, method: "tools/call", params: { name: server.tool, arguments: args, _meta: MODERN_META } };
    check(await post(`${server.sessionUrl}&episode=${sid}`, body, undefined, "POST", { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": server.tool }), (b) => b.includes('"result"') && !b.includes('"isError":true'), "modern call");
  },
  close: (sid) => post(`${new URL(server.url).origin}/v1/episodes/${sid}`, undefined, undefined, "DELETE"),
});

/** The REST episode API. */
const restFace = (server: Server): Face => {
  const base = `${new URL(server.url).origin}/v1/episodes`;
  return {
    open: async () => {
      const reply = await post(base, { env: "bench-lookup", task: "t" });
      check(reply, (b) => b.includes('"episode"'), "REST open");
      return (JSON.parse(reply.body) as { episode: string }).episode;
    },
    call: async (sid, _id, args) => check(await post(`${base}/${sid}/calls`, { tool: server.tool, arguments: args }), (b) => b.includes('"is_error":false'), "REST call"),
    close: (sid) => post(`${base}/${sid}`, undefined, undefined, "DELETE"),
  };
};

/** The Open Reward Standard: create_session + create, calls answered in SSE. */
const orsFace = (server: Server): Face => {
  const origin = new URL(server.url).origin;
  return {
    open: async () => {
      const created = await post(`${origin}/create_session`, {});
      const sid = /event: task_id\ndata: (\S+)/.exec(created.body)![1]!;
      check(await post(`${origin}/create`, { env_name: "envforge", task_spec: { env: "bench-lookup", task: "t" } }, undefined, "POST", { "x-session-id": sid }), (b) => b.includes(sid), "ORS create");
      return sid;
    },
    call: async (sid, _id, args) => check(await post(`${origin}/envforge/call`, { name: server.tool, input: args }, undefined, "POST", { "x-session-id": sid }), (b) => b.includes('"ok":true') && b.includes("event: end"), "ORS call"),
    close: (sid) => post(`${origin}/delete`, {}, undefined, "POST", { "x-session-id": sid }),
  };
};

interface Stats {
  rss: number;
  heapUsed: number;
  external: number;
  cpuMicros: number;
}

interface Server {
  url: string;
  /** The URL sessions open: the episode URL for envforge. */
  sessionUrl: string;
  tool: string;
  stats(): Promise<Stats>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcessWithoutNullStreams>();

async function startServer(mode: "envforge" | "bare", envFile: string, db: string, sync: "normal" | "full" = "normal", otlp?: string): Promise<Server> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", join(ROOT, "bench/serve-child.ts"), mode, envFile, db, sync, ...(otlp ? [otlp] : [])], { cwd: ROOT });
  children.add(child);
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolvePromise, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolvePromise(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${mode} server exited (${code}): ${err}`)));
  });
  return {
    url,
    sessionUrl: mode === "bare" ? url : `${url}?env=bench-lookup&task=t`,
    tool: mode === "bare" ? "echo" : "get_item",
    stats: async () => JSON.parse((await post(new URL("/stats", url).href, undefined, undefined, "GET")).body) as Stats,
    stop: () =>
      new Promise((r) => {
        child.once("exit", () => (children.delete(child), r()));
        child.kill("SIGTERM");
      }),
  };
}

interface Throughput {
  callsPerSec: number;
  p50: number;
  p99: number;
  /** Server CPU time (user + system) per call, in microseconds: less sensitive than calls/s to a busy machine. */
  cpuPerCall: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

/**
 * `sessions` concurrent sessions, each making `calls` sequential tool calls. Sessions are
 * opened and make one call (which starts an envforge episode's sandbox) before the clock starts.
 */
async function throughput(server: Server, face: Face, sessions: number, calls: number): Promise<Throughput> {
  const sids = await Promise.all(
    Array.from({ length: sessions }, async (_, s) => {
      const sid = await face.open();
      await face.call(sid, 1, { id: s });
      return sid;
    }),
  );
  const latencies: number[] = [];
  const before = await server.stats();
  const t0 = performance.now();
  await Promise.all(
    sids.map(async (sid, s) => {
      for (let i = 2; i < calls + 2; i++) {
        const start = performance.now();
        await face.call(sid, i, { id: s * calls + i });
        latencies.push(performance.now() - start);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const after = await server.stats();
  await Promise.all(sids.map((sid) => face.close(sid)));
  latencies.sort((a, b) => a - b);
  return {
    callsPerSec: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpuPerCall: (after.cpuMicros - before.cpuMicros) / latencies.length,
  };
}

/** Memory held by 1,000 open sessions (each after one call), after GC, and the time of those first calls. */
async function thousandSessions(server: Server): Promise<{ heapMiB: number; rssMiB: number; firstCallP50: number }> {
  const before = await server.stats();
  const sids: string[] = [];
  const firstCalls: number[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const opened = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const sid = await openSession(server.sessionUrl);
        const start = performance.now();
        await callTool(server.sessionUrl, sid, 1, server.tool, { id: i });
        firstCalls.push(performance.now() - start);
        return sid;
      }),
    );
    sids.push(...opened);
  }
  const after = await server.stats();
  await Promise.all(sids.map((sid) => closeSession(server.url, sid)));
  firstCalls.sort((a, b) => a - b);
  return {
    heapMiB: (after.heapUsed - before.heapUsed) / 2 ** 20,
    rssMiB: (after.rss - before.rss) / 2 ** 20,
    firstCallP50: percentile(firstCalls, 0.5),
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

// An OTLP/HTTP receiver that accepts and drops every export: the cost measured is the server's.
const sink = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end("{}"));
});
await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
const otlpReceiver = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;
const dir = mkdtempSync(join(tmpdir(), "envforge-bench-serve-"));
try {
  const envFile = join(dir, "bench-lookup.json");
  writeFileSync(envFile, JSON.stringify(ENV));
  const SESSIONS = 16;
  const CALLS = 150;

  const bareServer = await startServer("bare", envFile, join(dir, "unused.db"));
  const normal = await startServer("envforge", envFile, join(dir, "normal.db"));
  const full = await startServer("envforge", envFile, join(dir, "full.db"), "full");
  const traced = await startServer("envforge", envFile, join(dir, "otlp.db"), "normal", otlpReceiver);
  const targets = [
    { name: "bare SDK server (1 trivial tool, no recording)", server: bareServer, face: legacyFace(bareServer) },
    { name: "envforge MCP 2025-11-25 (sandbox + recording)", server: normal, face: legacyFace(normal) },
    { name: "envforge MCP 2026-07-28 (no session)", server: normal, face: modernFace(normal) },
    { name: "envforge REST /v1/episodes", server: normal, face: restFace(normal) },
    { name: "envforge ORS (SSE)", server: normal, face: orsFace(normal) },
    { name: "envforge MCP 2025-11-25, --sync full", server: full, face: legacyFace(full) },
    { name: "envforge MCP 2025-11-25, --otlp to a local receiver", server: traced, face: legacyFace(traced) },
  ];
  for (const t of targets) await throughput(t.server, t.face, 4, 50); // warm up JITs and the sandbox
  // Three interleaved rounds, best of each, so a busy moment on the machine does not decide the ratio.
  const best = new Map<string, Throughput>();
  for (let round = 0; round < 3; round++) {
    for (const t of targets) {
      const r = await throughput(t.server, t.face, SESSIONS, CALLS);
      const prev = best.get(t.name);
      best.set(t.name, prev ? { callsPerSec: Math.max(prev.callsPerSec, r.callsPerSec), p50: Math.min(prev.p50, r.p50), p99: Math.min(prev.p99, r.p99), cpuPerCall: Math.min(prev.cpuPerCall, r.cpuPerCall) } : r);
    }
  }
  const bare = best.get(targets[0]!.name)!;
  console.log(`\nserve: tool calls through each face, ${SESSIONS} concurrent episodes x ${CALLS} calls, loopback, best of 3 rounds`);
  for (const t of targets) {
    const r = best.get(t.name)!;
    console.log(
      `  ${t.name.padEnd(48)} ${fmt(r.callsPerSec).padStart(6)} calls/s (${fmt((100 * r.callsPerSec) / bare.callsPerSec)}% of bare)` +
        `  p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms  server CPU ${fmt(r.cpuPerCall)} us/call (bare/this ${fmt((100 * bare.cpuPerCall) / r.cpuPerCall)}%)`,
    );
  }

  const memBare = await thousandSessions(bareServer);
  const memForge = await thousandSessions(normal);
  // RSS, not `external`: each sandbox reserves a 16 MiB WebAssembly memory that counts as external but is mostly untouched.
  console.log(`\nserve: 1,000 open sessions, each after one call (growth after GC)`);
  console.log(`  bare SDK server   JS heap ${fmt(memBare.heapMiB, 1)} MiB  rss ${fmt(memBare.rssMiB, 1)} MiB  first call p50 ${fmt(memBare.firstCallP50, 1)} ms`);
  console.log(
    `  envforge          JS heap ${fmt(memForge.heapMiB, 1)} MiB  rss ${fmt(memForge.rssMiB, 1)} MiB (${fmt((memForge.rssMiB * 1024) / 1000)} KiB per session)` +
      `  first call p50 ${fmt(memForge.firstCallP50, 1)} ms (starts the episode's sandbox)`,
  );
  await Promise.all([bareServer, normal, full].map((s) => s.stop()));

  // Load run: 1,000 sessions open at once, 10 calls each, then every record counted.
  const loadDb = join(dir, "load.db");
  const load = await startServer("envforge", envFile, loadDb);
  const LOAD_SESSIONS = 1000;
  const LOAD_CALLS = 10;
  const t0 = performance.now();
  let answered = 0;
  const sids = await Promise.all(Array.from({ length: LOAD_SESSIONS }, () => openSession(load.sessionUrl)));
  await Promise.all(
    sids.map(async (sid, s) => {
      for (let i = 1; i <= LOAD_CALLS; i++) {
        await callTool(load.sessionUrl, sid, i, load.tool, { id: s + i });
        answered++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(sids.map((sid) => closeSession(load.url, sid)));
  await load.stop();
  const records = Records.open(loadDb);
  const counts = records.counts();
  records.close();
  // Per session: initialize and its result, notifications/initialized, and each call with its result.
  const expectedMessages = LOAD_SESSIONS * (3 + 2 * LOAD_CALLS);
  console.log(`\nserve: load run, ${fmt(LOAD_SESSIONS)} concurrent sessions x ${LOAD_CALLS} calls in ${fmt(seconds, 1)} s (${fmt(answered / seconds)} calls/s, sandbox start-up included)`);
  console.log(`  answered ${fmt(answered)} calls; recorded ${fmt(counts.calls)} calls, ${fmt(counts.messages)} of ${fmt(expectedMessages)} messages, ${fmt(counts.episodes)} episodes ${JSON.stringify(counts.byStatus)}`);
  console.log(`  lost records: ${answered - counts.calls + (expectedMessages - counts.messages)}`);
} finally {
  for (const child of children) child.kill("SIGKILL");
  sink.closeAllConnections();
  sink.close();
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
}
