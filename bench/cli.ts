// CLI start-up: `--help` and one real command through bin/envforge.js (compiled JavaScript in dist/), beside the same CLI run from its TypeScript sources through tsx.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 9);
const TEMP = mkdtempSync(join(tmpdir(), "envforge-bench-cli-"));
const CPU_FILE = join(TEMP, "cpu.json");

// Each child writes its own CPU time at exit (start-up included), whichever way it was started.
const CPU_HOOK = `data:text/javascript,${encodeURIComponent(`import { writeFileSync } from "node:fs"; process.on("exit", () => { const u = process.cpuUsage(); writeFileSync(${JSON.stringify(CPU_FILE)}, String(u.user + u.system)); });`)}`;

const WAYS = {
  compiled: (args: string[]) => [join(ROOT, "bin/envforge.js"), ...args],
  tsx: (args: string[]) => ["--import", "tsx", "--input-type=module", "-e", `const { cli } = await import(${JSON.stringify(join(ROOT, "src/cli/main.ts"))}); await cli(process.argv.slice(1));`, "--", ...args],
};

const COMMANDS: [string, string[]][] = [
  ["--help", ["--help"]],
  ["list --dir environments/examples", ["list", "--dir", join(ROOT, "environments/examples")]],
];

/** Wall and CPU milliseconds of one run. */
function once(nodeArgs: string[]): { wall: number; cpu: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", CPU_HOOK, ...nodeArgs], { cwd: ROOT, encoding: "utf8" });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return { wall, cpu: Number(readFileSync(CPU_FILE, "utf8")) / 1000 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${Math.round(n)} ms`;

console.log(`cli: start-up, median of ${RUNS} runs each (compiled and tsx runs alternate, so both see the same load)`);
try {
  for (const [label, args] of COMMANDS) {
    const got = { compiled: [] as { wall: number; cpu: number }[], tsx: [] as { wall: number; cpu: number }[] };
    for (let i = 0; i < RUNS; i++) for (const way of ["compiled", "tsx"] as const) got[way].push(once(WAYS[way](args)));
    const [cw, cc, tw, tc] = [median(got.compiled.map((r) => r.wall)), median(got.compiled.map((r) => r.cpu)), median(got.tsx.map((r) => r.wall)), median(got.tsx.map((r) => r.cpu))];
    console.log(`  envforge ${label}: compiled ${ms(cw)} wall, ${ms(cc)} CPU; from sources through tsx (baseline) ${ms(tw)} wall, ${ms(tc)} CPU; ${(tw / cw).toFixed(1)}x faster`);
  }
} finally {
  rmSync(TEMP, { recursive: true, force: true });
}
