// Environments built and validated per minute (one thread and one worker per core), beside the same
// build without the validation gate in the same run, which shows what the gate costs.
import { availableParallelism } from "node:os";
import { buildEnvironments } from "../src/construct/index.ts";

const COUNT = Number(process.env.BENCH_BUILD_COUNT ?? 480);
const CORES = availableParallelism();

async function perMinute(validate: boolean, jobs: number): Promise<{ perMin: number; ms: number; rejected: number }> {
  const t0 = performance.now();
  const { summary } = await buildEnvironments({ count: COUNT, seed: 7, validate, jobs });
  const ms = performance.now() - t0;
  return { perMin: (COUNT / ms) * 60_000, ms: ms / COUNT, rejected: summary.candidates - summary.built };
}

// Warm-up: the sandbox's WebAssembly and the generator reach full speed after a few environments.
await buildEnvironments({ count: 16, seed: 99 });
const base = await perMinute(false, 1);
const serial = await perMinute(true, 1);
const parallel = CORES > 1 ? await perMinute(true, CORES) : serial;
const f = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`build: ${f(parallel.perMin)} environments/min built and validated with ${CORES} worker(s) (${COUNT} environments, ${parallel.rejected} candidates rejected by the gate)`);
console.log(`build: ${f(serial.perMin)}/min in one thread (${serial.ms.toFixed(1)} ms each); baseline without the gate ${f(base.perMin)}/min (${base.ms.toFixed(1)} ms each): the gate costs ${(serial.ms / base.ms).toFixed(1)}x`);
