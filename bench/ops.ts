// Metrics benchmark: REST tool calls/s and server CPU per call with Prometheus metrics on, beside the same server with them off
// (the baseline, same run, interleaved rounds); what the hooks of one call cost in process; what one /metrics scrape costs. Loopback only.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LOOKUP_ENV } from "./lookup-env.ts";
import { EnvironmentRegistry, EpisodeService } from "../src/episode/index.ts";
import { ServerMetrics } from "../src/serve/metrics.ts";
import { Recorder } from "../src/store/index.ts";

const ROOT = resolve(import.meta.dirname, "..");
const EPISODES = 16;
const CALLS = 150;
const ROUNDS = 9;
const SCRAPES = 200;

interface Child {
  /** The agent listener's origin (REST, /stats) and the control plane's (/metrics). */
  origin: string;
  admin: string;
  process: ChildProcessWithoutNullStreams;
}

async function start(mode: "envforge" | "envforge-no-metrics", envFile: string, db: string): Promise<Child> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", join(ROOT, "bench/serve-child.ts"), mode, envFile, db, "normal"], { cwd: ROOT });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolvePromise, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /control plane on (\S+)\nlistening on (\S+)\n/.exec(out);
      if (m) resolvePromise({ origin: new URL(m[2]!).origin, admin: m[1]!, process: child });
    });
    child.once("exit", (code) => reject(new Error(`${mode} server exited (${code}): ${err}`)));
  });
}

async function json(url: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const value = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300 || value.is_error === true) throw new Error(`${url}: ${res.status} ${JSON.stringify(value).slice(0, 300)}`);
  return value;
}

const cpuMicros = async (c: Child): Promise<number> => (await json(`${c.origin}/stats`)).cpuMicros as number;

/** `EPISODES` REST episodes at once, `CALLS` sequential calls each (after one call that starts the sandbox); calls/s and server CPU per call. */
async function round(c: Child): Promise<{ callsPerSec: number; cpuPerCall: number }> {
  const base = `${c.origin}/v1/episodes`;
  const ids = await Promise.all(
    Array.from({ length: EPISODES }, async (_, e) => {
      const id = (await json(base, { env: LOOKUP_ENV.id, task: "t" })).episode as string;
      await json(`${base}/${id}/calls`, { tool: "get_item", arguments: { id: e } });
      return id;
    }),
  );
  const cpu0 = await cpuMicros(c);
  const t0 = performance.now();
  await Promise.all(ids.map(async (id, e) => {
    for (let i = 0; i < CALLS; i++) await json(`${base}/${id}/calls`, { tool: "get_item", arguments: { id: e * CALLS + i } });
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (await cpuMicros(c)) - cpu0;
  await Promise.all(ids.map((id) => fetch(`${base}/${id}`, { method: "DELETE" }).then((r) => r.arrayBuffer())));
  return { callsPerSec: (EPISODES * CALLS) / seconds, cpuPerCall: cpu / (EPISODES * CALLS) };
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Nanoseconds the metrics add to one tool call in process: what the service and recorder call per call (a call's
 * observation and its commit's), against the same loop with the hooks detached, in alternating batches.
 */
function hookCost(): { on: number; off: number } {
  const recorder = Recorder.open(":memory:");
  const service = new EpisodeService(new EnvironmentRegistry([]), recorder);
  const metrics = new ServerMetrics(service, recorder);
  const N = 200_000;
  const batch = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      service.events.called("rest", i % 7 !== 0, (i % 100) / 1e5);
      recorder.onCommit((i % 50) / 1e5, false);
    }
    return Number(process.hrtime.bigint() - t0) / N;
  };
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < 10; r++) {
    const detach = metrics.attach();
    on.push(batch());
    detach();
    off.push(batch());
  }
  recorder.close();
  return { on: median(on), off: median(off) };
}

const dir = mkdtempSync(join(tmpdir(), "envforge-bench-ops-"));
const children: Child[] = [];
try {
  const envFile = join(dir, "bench-lookup.json");
  writeFileSync(envFile, JSON.stringify(LOOKUP_ENV));
  const on = await start("envforge", envFile, join(dir, "on.db"));
  children.push(on);
  const off = await start("envforge-no-metrics", envFile, join(dir, "off.db"));
  children.push(off);
  for (const c of [on, off]) await round(c); // warm up JITs and the sandbox
  const results = { on: [] as { callsPerSec: number; cpuPerCall: number }[], off: [] as { callsPerSec: number; cpuPerCall: number }[] };
  // Interleaved, each round in the other order, so a busy moment on the shared machine falls on both.
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, c] of r % 2 === 0 ? ([["on", on], ["off", off]] as const) : ([["off", off], ["on", on]] as const)) results[name].push(await round(c));
  }
  const summary = (name: "on" | "off") => {
    const cpu = results[name].map((x) => x.cpuPerCall);
    return { callsPerSec: median(results[name].map((x) => x.callsPerSec)), best: Math.max(...results[name].map((x) => x.callsPerSec)), cpu: median(cpu), cpuRange: `${fmt(Math.min(...cpu))}-${fmt(Math.max(...cpu))}` };
  };
  const [a, b] = [summary("on"), summary("off")];
  console.log(`\nops: REST tool calls, ${EPISODES} concurrent episodes x ${CALLS} calls, ${ROUNDS} interleaved rounds (median, best)`);
  console.log(`  metrics off (baseline) ${fmt(b.callsPerSec).padStart(6)} calls/s  best ${fmt(b.best)}  server CPU ${fmt(b.cpu)} us/call (rounds ${b.cpuRange})`);
  console.log(`  metrics on             ${fmt(a.callsPerSec).padStart(6)} calls/s  best ${fmt(a.best)}  server CPU ${fmt(a.cpu)} us/call (rounds ${a.cpuRange})  (${fmt((100 * a.callsPerSec) / b.callsPerSec, 1)}% of baseline calls/s, CPU ${a.cpu >= b.cpu ? "+" : ""}${fmt(a.cpu - b.cpu, 1)} us/call against the baseline)`);

  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < SCRAPES; i++) bytes = (await (await fetch(`${on.admin}/metrics`)).text()).length;
  const hooks = hookCost();
  console.log(`  in process, the hooks of one call and its commit: ${fmt(hooks.on, 0)} ns with metrics, ${fmt(hooks.off, 0)} ns detached (${fmt(hooks.on - hooks.off, 0)} ns per call)`);
  console.log(`  one /metrics scrape: ${fmt((performance.now() - t0) / SCRAPES, 2)} ms round trip, ${fmt(bytes)} bytes`);
} finally {
  for (const c of children) c.process.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
