// Python tool calls per second (Pyodide in a worker) beside JavaScript (QuickJS) and the plain Python function, plus interpreter start and memory per episode; and the write environments built as Python with the twin check beside the JavaScript build.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { buildWrite, writeSuiteRequests } from "../src/construct/index.ts";
import { loadEnvironmentFile } from "../src/load/index.ts";
import { compileEnvironment, sharedInterpreter, type PythonEpisode } from "../src/runtime/index.ts";
import { Environment } from "../src/schema/index.ts";

const CALLS = Number(process.env.BENCH_PYTHON_CALLS ?? 5_000);
const OPENS = Number(process.env.BENCH_PYTHON_OPENS ?? 2_000);
const WRITES = Number(process.env.BENCH_PYTHON_WRITES ?? 32);

const loaded = await loadEnvironmentFile(resolve(import.meta.dirname, "../environments/examples/films-director-birth.json"));
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
const jsEnv = loaded.env;

/** The example's get_film look-up, written as an FTRL tau-bench tool: def name(data, **params). */
const GET_FILM_PY = `def get_film(data, title):
    for film in data["films"]:
        if film["title"] == title:
            return film
    raise ValueError('No film titled "%s" was found.' % title)
`;
const pyEnv = Environment.parse({
  ...jsEnv,
  id: "bench-python",
  tools: jsEnv.tools.filter((t) => t.name === "get_film"),
  implementation: { language: "python", prelude: "", tools: { get_film: GET_FILM_PY } },
  tasks: [{ id: "t", question: "q?", unsolved_set: { get_film: ["Crimson Harbor"] }, answer: "x", gold_plan: [{ id: "s", tool: "get_film", arguments: { title: "Crimson Harbor" }, yields: "Crimson Harbor" }] }],
});
const titles = ["Crimson Harbor", "Salt Meridian"];
const f = (n: number) => Math.round(n).toLocaleString("en-US");

const t0 = performance.now();
const py = await compileEnvironment(pyEnv);
const interp = sharedInterpreter();
const firstCompileMs = performance.now() - t0;

async function rate(n: number, body: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await body(i);
  return n / ((performance.now() - start) / 1000);
}

const pyEpisode = py.openEpisode();
const pyCall = async (i: number) => {
  const r = await pyEpisode.call("get_film", { title: titles[i & 1] });
  if (!r.ok) throw new Error(r.error);
};
const js = await compileEnvironment(jsEnv);
const jsEpisode = js.openEpisode();
const jsCall = async (i: number) => {
  const r = await jsEpisode.call("get_film", { title: titles[i & 1] });
  if (!r.ok) throw new Error(r.error);
};
await rate(200, pyCall);
await rate(200, jsCall);
const pyRate = await rate(CALLS, pyCall);
const jsRate = await rate(CALLS, jsCall);

/** The baseline: the same function in the machine's own python3, called directly with json.dumps of its result. */
const script = `import json, timeit
data = json.loads(${JSON.stringify(JSON.stringify(jsEnv.initial_state))})
${GET_FILM_PY}
titles = ${JSON.stringify(titles)}
n = ${CALLS * 10}
t = timeit.timeit(lambda: [json.dumps(get_film(data, titles[i & 1]), ensure_ascii=False) for i in range(n)], number=1)
print(n / t)`;
const native = spawnSync("python3", ["-c", script], { encoding: "utf8" });
const nativeRate = native.status === 0 ? Number(native.stdout.trim()) : NaN;

// Memory per episode: the interpreter's WebAssembly memory before and after opening OPENS episodes, each after one call.
const heap0 = interp.stats.heapBytes;
const held: PythonEpisode[] = [];
const openStart = performance.now();
for (let i = 0; i < OPENS; i++) {
  const e = py.openEpisode({ seed: i }) as PythonEpisode;
  await e.call("get_film", { title: "Salt Meridian" });
  held.push(e);
}
const openMs = (performance.now() - openStart) / OPENS;
const perEpisode = (interp.stats.heapBytes - heap0) / OPENS;
for (const e of held) e.close();

console.log(`python: interpreter start ${f(interp.stats.startMs)} ms (Pyodide ${"in a worker thread"}; first compile ${f(firstCompileMs)} ms), ${f(heap0 / 2 ** 20)} MiB of WebAssembly memory`);
console.log(`python: ${f(pyRate)} calls/s sandboxed | javascript (QuickJS) ${f(jsRate)} calls/s | plain python3 function ${Number.isNaN(nativeRate) ? "n/a (no python3)" : `${f(nativeRate)} calls/s`} (${Number.isNaN(nativeRate) ? "" : `sandbox ${(nativeRate / pyRate).toFixed(0)}x slower`})`);
console.log(`python: opening an episode and its first call ${openMs.toFixed(2)} ms; ${(perEpisode / 1024).toFixed(1)} KiB of interpreter memory per open episode (${OPENS} held open)`);

// The write environments of the suite (the interpreter is already up, so its start is not in the Python figure).
async function buildWrites(language: "javascript" | "python"): Promise<{ ms: number; candidates: number }> {
  const t0 = performance.now();
  let candidates = 0;
  for (const request of writeSuiteRequests(language).slice(0, WRITES)) candidates += (await buildWrite(request)).candidates;
  return { ms: performance.now() - t0, candidates };
}
const jsWrites = await buildWrites("javascript");
const pyWrites = await buildWrites("python");
console.log(`python: ${WRITES} write environments built in ${(pyWrites.ms / 1000).toFixed(1)} s as Python with the twin check (${f(pyWrites.ms / WRITES)} ms each, ${pyWrites.candidates} candidates) | javascript ${(jsWrites.ms / 1000).toFixed(1)} s (${f(jsWrites.ms / WRITES)} ms each, ${jsWrites.candidates} candidates): ${(pyWrites.ms / jsWrites.ms).toFixed(1)}x`);
await interp.close();
