// Sandboxed tool calls per second beside the same lookup as a plain in-process function, plus episode-open cost and memory.
import { resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { loadEnvironmentFile } from "../src/load/index.ts";
import { compileEnvironment } from "../src/runtime/index.ts";

const CALLS = Number(process.env.BENCH_RUNTIME_CALLS ?? 100_000);
const OPENS = Number(process.env.BENCH_RUNTIME_OPENS ?? 200);

const loaded = await loadEnvironmentFile(resolve(import.meta.dirname, "../environments/examples/films-director-birth.json"));
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
const env = loaded.env;
const compiled = await compileEnvironment(env);
const f = (n: number) => Math.round(n).toLocaleString("en-US");

// Measured first, in a process that has not yet made and dropped other instances.
// Memory of episodes held open at once: resident set growth per episode, after full collections.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
gc();
const rss0 = process.memoryUsage().rss;
const held = [];
for (let i = 0; i < OPENS; i++) {
  const episode = compiled.openEpisode({ seed: i });
  await episode.call("get_film", { title: "Salt Meridian" });
  held.push(episode);
}
gc();
const perEpisode = (process.memoryUsage().rss - rss0) / OPENS;
for (const e of held) e.close();
const memoryLine = `runtime: ${(perEpisode / 2 ** 20).toFixed(2)} MiB resident per open episode (${OPENS} held open after one call each, each its own WebAssembly instance)`;

// The baseline: the environment's own prelude and tool, compiled by V8 in this process, called directly.
const plainGetFilm = new Function(`${env.implementation.prelude}\nreturn (${env.implementation.tools.get_film});`)() as (args: unknown, state: unknown) => unknown;
const plainState = structuredClone(env.initial_state);
const titles = ["Crimson Harbor", "Salt Meridian"];

/** Calls per second of wall time, and per second of this process's CPU time (steadier on a shared machine). */
interface Rate {
  wall: number;
  cpu: number;
}

async function measure(n: number, body: (i: number) => unknown): Promise<Rate> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await body(i);
  const cpu = process.cpuUsage(cpu0);
  return { wall: n / ((performance.now() - t0) / 1000), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

let sink = 0;
const plainCall = (i: number) => {
  sink += (plainGetFilm({ title: titles[i & 1] }, plainState) as { year: number }).year;
};
const episode = compiled.openEpisode();
const sandboxCall = async (i: number) => {
  const r = await episode.call("get_film", { title: titles[i & 1] });
  if (!r.ok) throw new Error(r.error);
};
await measure(CALLS / 10, plainCall);
await measure(CALLS / 10, sandboxCall);
const plain = await measure(CALLS * 5, plainCall);
const sandboxed = await measure(CALLS, sandboxCall);
episode.close();
if (sink === 0) throw new Error("unreachable");
console.log(`runtime: ${f(sandboxed.wall)} sandboxed calls/s (${f(sandboxed.cpu)} per CPU-second; get_film on one warm episode: argument check, QuickJS call, Python-style text; ${f(CALLS)} calls)`);
console.log(`runtime: baseline plain in-process function, awaited the same way, ${f(plain.wall)} calls/s (${f(plain.cpu)} per CPU-second); the sandbox costs ${(plain.wall / sandboxed.wall).toFixed(0)}x, ${(1e6 / sandboxed.wall - 1e6 / plain.wall).toFixed(1)} µs per call`);

// Opening from the idle pool (an instance recycled by a closed episode) versus a fresh WebAssembly instance.
async function openRate(recycled: boolean): Promise<number> {
  const t0 = performance.now();
  const open = [];
  for (let i = 0; i < OPENS; i++) {
    const episode = compiled.openEpisode({ seed: i });
    const r = await episode.call("get_film", { title: titles[i & 1] });
    if (!r.ok) throw new Error(r.error);
    if (recycled) episode.close();
    else open.push(episode);
  }
  const ms = (performance.now() - t0) / OPENS;
  for (const e of open) e.close();
  return ms;
}
await openRate(true);
const warmOpen = await openRate(true);
const coldOpen = await openRate(false);
console.log(`runtime: episode open + first call ${warmOpen.toFixed(2)} ms from the idle pool, ${coldOpen.toFixed(2)} ms with a fresh WebAssembly instance (${OPENS} episodes each)`);

console.log(memoryLine);
