// Sandbox pool: calls/s with 1 and 2 worker threads beside the sandbox on the main thread, p99 of benign calls with and
// without a looping episode beside them, and memory per open episode. Runs alone too: `node --import tsx bench/pool.ts`.
import { resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { loadEnvironmentFile } from "../src/load/index.ts";
import { compileEnvironment, SandboxPool, type CompiledEnvironment } from "../src/runtime/index.ts";
import { Environment } from "../src/schema/index.ts";

const CALLS = Number(process.env.BENCH_POOL_CALLS ?? 20_000);
const EPISODES = Number(process.env.BENCH_POOL_EPISODES ?? 64);
const HELD = Number(process.env.BENCH_POOL_HELD ?? 500);
/** The looping tool's time limit, the default one: every call of it holds its worker this long. */
const HOSTILE_TIMEOUT_MS = 10_000;

const loaded = await loadEnvironmentFile(resolve(import.meta.dirname, "../environments/examples/films-director-birth.json"));
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
const env = loaded.env;
const hostileEnv = Environment.parse({ ...env, id: "bench-loop", tools: [...env.tools, { name: "loop", description: "Loops.", input_schema: { type: "object" } }], implementation: { ...env.implementation, tools: { ...env.implementation.tools, loop: "function loop() { while (true) {} }" } } });
const titles = ["Crimson Harbor", "Salt Meridian"];
const f = (n: number) => Math.round(n).toLocaleString("en-US");

/** `EPISODES` episodes at once, each making its calls one after another; returns calls/s and every call's latency in ms. */
async function load(compiled: CompiledEnvironment, calls: number, stop?: () => boolean): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const per = Math.ceil(calls / EPISODES);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: EPISODES }, async (_, e) => {
      using episode = compiled.openEpisode({ seed: e });
      for (let i = 0; i < per && !stop?.(); i++) {
        const t = performance.now();
        const r = await episode.call("get_film", { title: titles[(e + i) & 1] });
        latencies.push(performance.now() - t);
        if (!r.ok) throw new Error(r.error);
      }
    }),
  );
  return { rate: latencies.length / ((performance.now() - t0) / 1000), latencies };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

// Memory first, before the other runs leave instances behind: resident set growth per open episode, all threads included.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
{
  const pool = new SandboxPool({ workers: 2 });
  const compiled = await pool.compile(env);
  await load(compiled, EPISODES);
  gc();
  const rss0 = process.memoryUsage().rss;
  const held = [];
  for (let i = 0; i < HELD; i++) {
    const episode = compiled.openEpisode({ seed: i });
    held.push(episode);
  }
  await Promise.all(held.map((e) => e.call("get_film", { title: "Salt Meridian" })));
  gc();
  const per = (process.memoryUsage().rss - rss0) / HELD;
  for (const e of held) e.close();
  console.log(`pool: ${(per / 2 ** 20).toFixed(2)} MiB resident per open episode (${f(HELD)} held open on 2 workers after one call each; baseline: the runtime line above, on the main thread)`);
  await pool.close();
}

const local = await compileEnvironment(env);
await load(local, CALLS / 10);
const baseline = await load(local, CALLS);
console.log(`pool: baseline sandbox on the main thread ${f(baseline.rate)} calls/s (${EPISODES} episodes at once, ${f(CALLS)} calls of get_film)`);
for (const workers of [1, 2]) {
  const pool = new SandboxPool({ workers });
  const compiled = await pool.compile(env);
  await load(compiled, CALLS / 10);
  const run = await load(compiled, CALLS);
  console.log(`pool: ${workers} worker${workers > 1 ? "s" : ""} ${f(run.rate)} calls/s, ${(run.rate / baseline.rate).toFixed(2)}x the main thread; p50 ${quantile(run.latencies, 0.5).toFixed(2)} ms, p99 ${quantile(run.latencies, 0.99).toFixed(2)} ms`);
  await pool.close();
}

// Benign calls with a looping episode beside them: it calls `loop` again as soon as each call is stopped.
{
  const pool = new SandboxPool({ workers: 2 });
  const compiled = await pool.compile(env);
  const hostile = await pool.compile(hostileEnv, { timeoutMs: HOSTILE_TIMEOUT_MS });
  await load(compiled, CALLS / 10);
  const quiet = await load(compiled, CALLS / 4);
  let looping = true;
  const loops = (async () => {
    using episode = hostile.openEpisode();
    let n = 0;
    while (looping) {
      const r = await episode.call("loop", {});
      if (r.ok || r.kind !== "timeout") throw new Error("the loop was not stopped");
      n++;
    }
    return n;
  })();
  // Give the loop a head start, so the benign episodes meet a worker already stuck.
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const beside = await load(compiled, CALLS / 4);
  const elapsed = performance.now() - t0;
  looping = false;
  const stopped = await loops;
  const s = pool.stats();
  console.log(
    `pool: benign p99 ${quantile(quiet.latencies, 0.99).toFixed(2)} ms alone, ${quantile(beside.latencies, 0.99).toFixed(2)} ms beside a looping episode (p50 ${quantile(quiet.latencies, 0.5).toFixed(2)} / ${quantile(beside.latencies, 0.5).toFixed(2)} ms, max ${quantile(beside.latencies, 1).toFixed(0)} ms; ${f(beside.latencies.length)} calls in ${f(elapsed)} ms beside ${stopped} loop call${stopped === 1 ? "" : "s"} of ${HOSTILE_TIMEOUT_MS} ms; ${s.moves} episodes moved, ${s.replayedCalls} calls replayed)`,
  );
  await pool.close();
}
