// Runner benchmark: oracle rollouts/s over Streamable HTTP at concurrency 1, 4, 16 and 64 against an
// HTTP server child process (what `envforge serve --http` runs), beside in-process rollouts (same environments, same run) as the baseline. Loopback only.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadEnvironments } from "../src/load/index.ts";
import { Recorder } from "../src/store/index.ts";
import { oracleFactory, runRollouts, type PolicyFactory, type Target } from "../src/run/index.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIR = join(ROOT, "environments/examples");
const ROLLOUTS = Number(process.env.BENCH_RUN_ROLLOUTS ?? 512);
const LEVELS = [1, 4, 16, 64];

const environments = (await loadEnvironments([DIR])).environments.map((e) => e.env);
const tasks = environments.reduce((n, e) => n + e.tasks.length, 0);
const n = Math.max(1, Math.ceil(ROLLOUTS / tasks));
const tmp = mkdtempSync(join(tmpdir(), "envforge-bench-run-"));

/** Each measurement gets its own agent name, so its episode ids are new to the database. */
const oracleAs = (label: string): PolicyFactory => ({ ...oracleFactory(), label });

async function measure(target: Target, label: string, concurrency: number): Promise<{ rate: number; failed: number; perfect: number; total: number }> {
  const started = performance.now();
  const summary = await runRollouts({ environments, policy: oracleAs(label), target, n, concurrency });
  const seconds = (performance.now() - started) / 1000;
  const perfect = summary.results.filter((r) => r.score?.ftrl.solve_f1 === 1).length;
  return { rate: summary.rollouts / seconds, failed: summary.failed, perfect, total: summary.rollouts };
}

/** The server as `envforge serve --http` runs it (registry, recorder, Streamable HTTP), in a child process of its own. */
const SERVER_SCRIPT = `
import { Recorder } from "./src/store/index.ts";
import { EnvironmentRegistry, startHttpServer } from "./src/serve/index.ts";
const [dir, db] = process.argv.slice(-2);
const { registry } = await EnvironmentRegistry.load([dir]);
const recorder = Recorder.open(db);
const server = await startHttpServer({ registry, recorder, port: 0, maxSessions: 1000 });
console.log("listening on " + server.url);
process.on("SIGTERM", async () => { await server.close(); recorder.close(); process.exit(0); });
`;

function startServer(db: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", SERVER_SCRIPT, DIR, db], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolveUrl, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        child.stdout.removeAllListeners("data");
        child.stdout.resume();
        resolveUrl({
          url: m[1]!,
          stop: () => new Promise<void>((done) => (child.once("exit", () => done()), child.kill("SIGTERM"))),
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`the server exited early (${code}): ${out}`)));
  });
}

console.log(`\n## run: oracle rollouts/s (${n * tasks} rollouts of ${tasks} example tasks per measurement, 2 tool calls each)`);
const recorder = Recorder.open(join(tmp, "memory.db"));
const rows: string[][] = [];
try {
  const baselines = new Map<number, number>();
  for (const c of LEVELS) {
    const m = await measure({ kind: "memory", recorder }, `memory-c${c}`, c);
    baselines.set(c, m.rate);
    rows.push(["in-process", String(c), m.rate.toFixed(1), "1.00", `${m.perfect}/${m.total}`, String(m.failed)]);
  }
  const server = await startServer(join(tmp, "http.db"));
  try {
    for (const c of LEVELS) {
      const m = await measure({ kind: "http", url: server.url }, `http-c${c}`, c);
      rows.push(["http", String(c), m.rate.toFixed(1), (m.rate / baselines.get(c)!).toFixed(2), `${m.perfect}/${m.total}`, String(m.failed)]);
    }
  } finally {
    await server.stop();
  }
} finally {
  recorder.close();
  rmSync(tmp, { recursive: true, force: true });
}
const header = ["transport", "concurrency", "rollouts/s", "vs in-process", "perfect", "failed"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padStart(widths[i]!)).join("  "));
const http = rows.filter((r) => r[0] === "http");
console.log(`HTTP scaling 1 -> 64 concurrent episodes: x${(Number(http.at(-1)![2]) / Number(http[0]![2])).toFixed(2)}`);
