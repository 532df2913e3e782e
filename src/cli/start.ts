// `envforge start` (npm start): serves the shipped environments over HTTP, scores oracle and random rollouts through it, and shows how to connect.
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatProblem } from "../load/index.ts";
import { Recorder, Records } from "../store/index.ts";
import { oracleFactory, randomFactory, runRollouts, type PolicyFactory, type RolloutResult } from "../run/index.ts";
import { mean, succeeded } from "../score/index.ts";
import { EnvironmentRegistry, rewardRoutes, startHttpServer, type HttpServer, type HttpServerOptions } from "../serve/index.ts";
import type { Environment } from "../schema/index.ts";
import { Viewer, viewerRoute } from "../view/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { PACKAGE_ENVIRONMENTS } from "./serve.ts";

export const DEFAULT_PORT = 7777;
/** Tasks per scenario x complexity cell for `--limit small` (the default). */
const SMALL = 2;
const BIN = fileURLToPath(new URL("../../bin/envforge.js", import.meta.url));

/** The database when --db is not given: in the working folder, so a later `envforge score`/`view` finds it and a rerun resumes. */
export const startDb = (cwd: string): string => join(cwd, ".envforge", "start.db");

const complexityLabel = (env: Environment): string => {
  const c = env.complexity;
  const levels = [c.functional_generalization, c.parameter_expansion, c.parameter_type_generalization, c.toolset_extension];
  return levels.every((l) => l === levels[0]) ? `level ${levels[0]}` : `fg${levels[0]}/pe${levels[1]}/ptg${levels[2]}/te${levels[3]}`;
};
/** Write tasks (judged by final state too) get cells of their own, so the table shows them apart. */
const cellOf = (env: Environment): string => `${env.scenario}\t${env.tasks.some((t) => t.final_state) ? "write tasks" : complexityLabel(env)}`;

/** The first `perCell` tasks of every scenario x complexity cell (all with null), as environments holding just those tasks. */
export function pickTasks(environments: readonly Environment[], perCell: number | null): Environment[] {
  const taken = new Map<string, number>();
  const out: Environment[] = [];
  for (const env of environments) {
    const cell = cellOf(env);
    const room = perCell === null ? env.tasks.length : perCell - (taken.get(cell) ?? 0);
    const tasks = env.tasks.slice(0, Math.max(0, room));
    if (tasks.length === 0) continue;
    taken.set(cell, (taken.get(cell) ?? 0) + tasks.length);
    out.push({ ...env, tasks });
  }
  return out;
}

/** Whether every rollout of a policy ran and scored precision 1, rate 1, a correct answer and (write tasks) the expected final state. */
export const perfect = (results: readonly RolloutResult[]): boolean =>
  results.length > 0 && results.every((r) => r.status !== "failed" && r.score !== null && r.score.ftrl.solve_precision === 1 && succeeded(r.score.ftrl));

/** The table: one row per scenario x complexity x policy, ftrl metrics averaged over its rollouts. */
export function scoreTable(environments: readonly Environment[], runs: readonly { label: string; results: readonly RolloutResult[] }[]): string {
  const byId = new Map(environments.map((e) => [e.id, e]));
  const header = ["scenario", "complexity", "policy", "episodes", "precision", "rate", "f1", "answer acc", "state"];
  const rows: string[][] = [];
  const cells = [...new Set(environments.map(cellOf))].sort();
  for (const cell of cells) {
    for (const { label, results } of runs) {
      const scores = results.filter((r) => byId.get(r.env) && cellOf(byId.get(r.env)!) === cell).map((r) => r.score?.ftrl ?? null);
      const scored = scores.filter((s) => s !== null);
      const avg = (f: (s: (typeof scored)[number]) => number): string => (scored.length ? mean(scored.map(f)).toFixed(3) : "-");
      const withState = scored.filter((s) => s.state !== undefined);
      const state = withState.length ? mean(withState.map((s) => s.state!.state_match)).toFixed(3) : "-";
      rows.push([...cell.split("\t"), label, `${scored.length}/${scores.length}`, avg((s) => s.solve_precision), avg((s) => s.solve_rate), avg((s) => s.solve_f1), avg((s) => (s.answer_correct ? 1 : 0)), state]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A word for a POSIX shell: quoted only when it has to be. */
const sh = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Lines to paste into Claude Desktop, Claude Code and MCP Inspector, for one task of the running server. */
export function connectHelp(server: HttpServer, env: Environment, dir: string, db: string): string {
  const task = env.tasks[0]!;
  const episodeUrl = `${server.url}?env=${encodeURIComponent(env.id)}&task=${encodeURIComponent(task.id)}`;
  const stdioArgs = [BIN, "serve", "--dir", dir, "--env", env.id, "--task", task.id, "--db", db];
  const desktop = { mcpServers: { envforge: { command: process.execPath, args: stdioArgs } } };
  return [
    "Connect a client (one episode of one task per connection; the catalog is the bare URL):",
    "",
    "Claude Desktop: add this to claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\), then restart it.",
    "It starts its own stdio server recording into the same database:",
    JSON.stringify(desktop, null, 2),
    "",
    "Claude Code, to this running server (Streamable HTTP):",
    `  claude mcp add --transport http envforge ${sh(episodeUrl)}`,
    "Claude Code, as a stdio server of its own:",
    `  claude mcp add envforge -- ${[process.execPath, ...stdioArgs].map(sh).join(" ")}`,
    "",
    "MCP Inspector: run the line below, open the URL it prints, choose Transport Type \"Streamable HTTP\",",
    `enter the URL and press Connect (keep the Inspector's proxy on: this server refuses other origins):`,
    "  npx @modelcontextprotocol/inspector",
    `  URL: ${episodeUrl}`,
    "",
    `Catalog (all environments): ${server.url}`,
    `Reward API:                 POST ${server.origin}/v1/reward, GET ${server.origin}/v1/episodes/ID`,
    `Viewer:                     ${server.origin}/`,
  ].join("\n");
}

/** Listens on `port`, or on a free port when the default one is taken. */
async function listen(options: HttpServerOptions, port: number, fallback: boolean, io: Io): Promise<HttpServer> {
  try {
    return await startHttpServer({ ...options, port });
  } catch (err) {
    if (!fallback || (err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    write(io.stderr, `envforge start: port ${port} is in use; taking a free one`);
    return startHttpServer({ ...options, port: 0 });
  }
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: "string" },
      port: { type: "string" },
      db: { type: "string" },
      limit: { type: "string" },
      all: { type: "boolean" },
      once: { type: "boolean" },
      concurrency: { type: "string" },
      seed: { type: "string" },
    },
  });
  if (values.all && values.limit !== undefined) throw new UsageError("give --limit or --all, not both");
  const limitText = values.limit ?? "small";
  const perCell = values.all ? null : limitText === "small" ? SMALL : Number(limitText);
  if (perCell !== null && (!Number.isInteger(perCell) || perCell < 1)) throw new UsageError(`--limit wants small or a positive integer (tasks per scenario x complexity), got ${JSON.stringify(limitText)}`);
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port wants 0-65535, got ${JSON.stringify(values.port)}`);
  const concurrency = values.concurrency === undefined ? 8 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency wants a positive integer, got ${JSON.stringify(values.concurrency)}`);

  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const { registry, problems } = await EnvironmentRegistry.load([dir]);
  for (const p of problems) write(io.stderr, `envforge start: skipping ${formatProblem(p)}`);
  if (registry.size === 0) throw new UsageError(`no valid environments in ${dir}`);
  const environments = registry.list().map((r) => r.env);
  const chosen = pickTasks(environments, perCell);

  const dbFile = values.db ? resolve(io.cwd, values.db) : startDb(io.cwd);
  mkdirSync(dirname(dbFile), { recursive: true });
  const recorder = Recorder.open(dbFile);
  recorder.recoverInterrupted();
  const log = (line: string): void => write(io.stderr, line);
  let server: HttpServer | null = null;
  const stop = new AbortController();
  const signalled = new Promise<string>((resolveSignal) => {
    const on = (signal: string): void => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      stop.abort(new Error(signal));
      resolveSignal(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
    stop.signal.addEventListener("abort", () => (process.off("SIGINT", on), process.off("SIGTERM", on)));
  });
  try {
    server = await listen(
      {
        registry,
        recorder,
        log,
        routes: [...rewardRoutes(), viewerRoute(new Viewer({ records: new Records(recorder.db), environments, log }))],
      },
      port,
      values.port === undefined,
      io,
    );
    write(io.stdout, `envforge start: serving ${registry.size} environments from ${dir} at ${server.url}`);
    write(io.stdout, `recording to ${dbFile}`);
    const tasks = chosen.reduce((n, e) => n + e.tasks.length, 0);
    write(io.stdout, `rolling out oracle and random on ${tasks} tasks (${values.all ? "--all" : `--limit ${limitText}: up to ${perCell} per scenario x complexity`}) through MCP over HTTP...`);

    const policies: PolicyFactory[] = [oracleFactory(), randomFactory(values.seed ?? "0")];
    const runs: { label: string; results: RolloutResult[] }[] = [];
    for (const policy of policies) {
      const summary = await runRollouts({ environments: chosen, policy, target: { kind: "http", url: server.url, recorder }, concurrency, signal: stop.signal });
      for (const r of summary.results.filter((x) => x.status === "failed")) write(io.stderr, `envforge start: ${r.episodeId} failed: ${r.error}`);
      runs.push({ label: policy.label, results: summary.results });
      if (stop.signal.aborted) break;
    }
    write(io.stdout, "");
    write(io.stdout, "Scores (ftrl reward; episodes = scored/run; state = mean state_match of write tasks):");
    write(io.stdout, scoreTable(chosen, runs));
    const oracleOk = perfect(runs[0]?.results ?? []);
    write(io.stdout, oracleOk ? "oracle: perfect on every task (build, serve, record and score agree)" : "oracle: NOT perfect on every task; see the failures above and envforge score --db");
    write(io.stdout, "");
    if (values.once || stop.signal.aborted) return oracleOk && !stop.signal.aborted ? 0 : 1;

    write(io.stdout, connectHelp(server, chosen[0] ?? environments[0]!, dir, dbFile));
    write(io.stdout, "");
    write(io.stdout, "Serving until Ctrl-C.");
    const signal = await signalled;
    write(io.stderr, `envforge start: ${signal}, closing ${server.sessionCount()} sessions`);
    return 0;
  } finally {
    if (!stop.signal.aborted) stop.abort(new Error("done"));
    await server?.close();
    recorder.close();
  }
}

export const startCommand: Command = {
  name: "start",
  summary: "Serve the shipped environments over HTTP, score oracle and random rollouts through it, and print how to connect clients",
  usage: "start [--dir DIR] [--port 7777] [--db FILE (default .envforge/start.db)] [--limit small|N | --all] [--concurrency 8] [--seed S] [--once]",
  run,
};
