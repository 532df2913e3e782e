// Eviction: memory per open episode and per evicted one (each measured in a fresh child process), and the cost of a
// replayed call beside a plain call, same run. Runs alone too: `node --import tsx bench/evict.ts`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { EnvironmentRegistry, EpisodeService, type EpisodeSession } from "../src/episode/index.ts";
import { loadEnvironmentFile } from "../src/load/index.ts";
import { compileJavaScript, SandboxPool, type CompiledEnvironment } from "../src/runtime/index.ts";
import { Recorder } from "../src/store/index.ts";

const HELD = Number(process.env.BENCH_EVICT_HELD ?? 500);
const EPISODES = Number(process.env.BENCH_EVICT_EPISODES ?? 100);
/** Calls each episode makes before it is evicted: what a rebuild replays (enough that the replay stands out of an open's noise). */
const CALLS = Number(process.env.BENCH_EVICT_CALLS ?? 100);
const titles = ["Crimson Harbor", "Salt Meridian"];

const loaded = await loadEnvironmentFile(resolve(import.meta.dirname, "../environments/examples/films-director-birth.json"));
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
/** The films example, and the same with a prelude that fills 8 MiB: memory per sandbox is what the tool code touches. */
const films = loaded.env;
const heavy = { ...films, id: "bench-heavy", implementation: { ...films.implementation, prelude: `${films.implementation.prelude ?? ""}\nconst ballast = new Uint8Array(8 * 1024 * 1024).fill(1);` } };
const ENVS: Record<string, typeof films> = { films, heavy };
const HEAVY_HELD = Number(process.env.BENCH_EVICT_HEAVY_HELD ?? 50);
const task = films.tasks[0]!.id;

/** A service over the films environment, its sandboxes in process or on a pool of 2 workers. */
function service(recorder: Recorder, compiled: Promise<CompiledEnvironment>, resident: number, env = films): EpisodeService {
  const registry = new EnvironmentRegistry([{ env }]);
  registry.compile = () => compiled;
  return new EpisodeService(registry, recorder, { resident, maxCalls: 1000 });
}

const open = (s: EpisodeService, seed: number): EpisodeSession => s.openChecked({ env: s.registry.list()[0]!.env.id, task, seed, transport: "http", face: "rest" });

async function calls(episode: EpisodeSession, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const r = await episode.call("get_film", { title: titles[i & 1] });
    if (r.result.isError) throw new Error(JSON.stringify(r.result));
  }
}

/** Lets the episodes' queues drain, so the last idle one is evicted too. */
const drained = () => new Promise<void>((r) => setImmediate(r));

/** The child: `held` episodes after 3 calls each, all resident or all but one evicted; prints bytes of resident set per episode. */
async function child(kind: string, mode: string, envName: string, held: number): Promise<void> {
  const env = ENVS[envName]!;
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const dir = mkdtempSync(join(tmpdir(), "envforge-bench-evict-"));
  const recorder = Recorder.open(join(dir, "bench.db"));
  const pool = kind === "pool" ? new SandboxPool({ workers: 2 }) : null;
  const compiled = pool ? pool.compile(env) : compileJavaScript(env);
  const s = service(recorder, compiled, mode === "open" ? held + 1 : 1, env);
  // Warm: the compile, the store and the code paths, before the baseline.
  const warm = open(s, -1);
  await calls(warm, 0, 3);
  await warm.end("closed");
  gc();
  const rss0 = process.memoryUsage().rss;
  const episodes = Array.from({ length: held }, (_, i) => open(s, i));
  for (const episode of episodes) await calls(episode, 0, 3);
  await drained();
  gc();
  const per = (process.memoryUsage().rss - rss0) / held;
  process.stdout.write(JSON.stringify({ per, resident: s.stats.resident }));
  await s.closeAll();
  await pool?.close();
  recorder.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Per-call costs in this process: plain calls on resident sandboxes, fresh opens, and rebuilds of evicted episodes. */
async function replayCost(kind: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "envforge-bench-evict-"));
  const recorder = Recorder.open(join(dir, "bench.db"));
  const pool = kind === "pool" ? new SandboxPool({ workers: 2 }) : null;
  const s = service(recorder, pool ? pool.compile(films) : compileJavaScript(films), 1);
  // Warm: the compile on every worker, the store and the code paths, before anything is timed.
  const warm = Array.from({ length: 16 }, (_, i) => open(s, -1 - i));
  await Promise.all(warm.map((e) => calls(e, 0, CALLS)));
  await Promise.all(warm.map((e) => calls(e, CALLS, 1)));
  await Promise.all(warm.map((e) => e.end("closed")));
  const before = s.stats;
  const episodes = Array.from({ length: EPISODES }, (_, i) => open(s, i));
  // The first call opens the sandbox; the next CALLS - 1 are plain calls on a resident sandbox.
  let plain = 0;
  for (const episode of episodes) {
    await calls(episode, 0, 1);
    const t = performance.now();
    await calls(episode, 1, CALLS - 1);
    plain += performance.now() - t;
  }
  await drained();
  // Every episode but the last is evicted now; its next call rebuilds it: open, replay CALLS calls, then the call.
  // Each is timed right after a new episode's first call (an open and a call, no replay), so both see the same load.
  let fresh = 0;
  let rebuild = 0;
  for (const [i, episode] of episodes.slice(0, -1).entries()) {
    let t = performance.now();
    await calls(open(s, EPISODES + i), 0, 1);
    fresh += performance.now() - t;
    t = performance.now();
    await calls(episode, CALLS, 1);
    rebuild += performance.now() - t;
  }
  const n = EPISODES - 1;
  const stats = { rebuilds: s.stats.rebuilds - before.rebuilds, replayedCalls: s.stats.replayedCalls - before.replayedCalls };
  if (stats.rebuilds !== n || stats.replayedCalls !== n * CALLS) throw new Error(`expected ${n} rebuilds of ${CALLS} calls, got ${JSON.stringify(stats)}`);
  const plainCall = plain / (EPISODES * (CALLS - 1));
  const openCall = fresh / n;
  const replayCall = (rebuild / n - openCall) / CALLS;
  await s.closeAll();
  await pool?.close();
  recorder.close();
  rmSync(dir, { recursive: true, force: true });
  return (
    `evict: ${kind === "pool" ? "pooled (2 workers)" : "in-process"}: plain call ${(plainCall * 1000).toFixed(0)} µs; replayed call ${(replayCall * 1000).toFixed(0)} µs ` +
    `(${(replayCall / plainCall).toFixed(2)}x a plain call); rebuild of a ${CALLS}-call episode ${(rebuild / n).toFixed(2)} ms beside a fresh open and first call ${openCall.toFixed(2)} ms (${EPISODES} episodes)`
  );
}

const [, , role, kind, mode, envName, held] = process.argv;
if (role === "--child") {
  await child(kind!, mode!, envName!, Number(held));
} else {
  for (const [k, e, n] of [["local", "films", HELD], ["pool", "films", HELD], ["local", "heavy", HEAVY_HELD]] as const) {
    const per: Record<string, number> = {};
    for (const m of ["open", "evicted"]) {
      const r = spawnSync(process.execPath, ["--import", "tsx", import.meta.filename, "--child", k, m, e, String(n)], { encoding: "utf8", cwd: resolve(import.meta.dirname, "..") });
      if (r.status !== 0) throw new Error(`bench/evict.ts child ${k} ${m} ${e} failed: ${r.stderr}`);
      per[m] = (JSON.parse(r.stdout) as { per: number }).per;
    }
    console.log(
      `evict: ${k === "pool" ? "pooled (2 workers)" : "in-process"}, ${e === "heavy" ? "films with an 8 MiB prelude" : "films example"}: ${(per.open! / 2 ** 20).toFixed(2)} MiB resident per open episode, ` +
        `${(per.evicted! / 1024).toFixed(1)} KiB per evicted episode (${n} episodes after 3 calls each, each measure in a fresh process; evicted: a budget of 1 resident)`,
    );
  }
  for (const k of ["local", "pool"]) console.log(await replayCost(k));
}
