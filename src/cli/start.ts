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
import { complexityLabel, plural, type Environment } from "../schema/index.ts";
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

/** Write tasks (judged by final state too) get cells of their own, so the table shows them apart. */
const cellOf = (env: Environment): string => `${env.scenario}\t${env.tasks.some((t) => t.final_state) ? "write tasks" : complexityLabel(env.complexity)}`;

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

/** What each policy of the table is for, shown next to its name: neither is a model being evaluated. */
const ROLES: Readonly<Record<string, string>> = { oracle: "oracle (self-check)", random: "random (floor)" };

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
      rows.push([...cell.split("\t"), ROLES[label] ?? label, `${scored.length}/${scores.length}`, avg((s) => s.solve_precision), avg((s) => s.solve_rate), avg((s) => s.solve_f1), avg((s) => (s.answer_correct ? 1 : 0)), state]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Under the table: what the two baselines are for, so a random policy's zeros do not read as a failure. */
export const TABLE_NOTE = [
  "oracle (self-check): replays each task's gold plan; it must score 1.000 everywhere, or build, serve, record and score disagree.",
  "random (floor): calls random tools with schema-valid arguments; it sets the floor a real model must clear, and near 0 is expected.",
].join("\n");

/** A word for a POSIX shell: quoted only when it has to be. */
const sh = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Server names for the two Claude Code lines: one name each, since `claude mcp add` refuses a name it already has. */
export const CLAUDE_CODE_NAMES = { http: "envforge-http", stdio: "envforge-stdio" } as const;

/** Lines to paste into Claude Desktop, Claude Code and the MCP Inspector, for one task of the running server. */
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
    `  claude mcp add --transport http ${CLAUDE_CODE_NAMES.http} ${sh(episodeUrl)}`,
    "Claude Code, as a stdio server of its own:",
    `  claude mcp add ${CLAUDE_CODE_NAMES.stdio} -- ${[process.execPath, ...stdioArgs].map(sh).join(" ")}`,
    "",
    "MCP Inspector 2.x, web UI connected to this episode (it opens a browser):",
    `  npx @modelcontextprotocol/inspector --transport http --server-url ${sh(episodeUrl)}`,
    "MCP Inspector in the terminal (list the tools; --method tools/call --tool-name NAME --tool-arg key=value calls one):",
    `  npx @modelcontextprotocol/inspector --cli ${sh(episodeUrl)} --transport http --method tools/list`,
    "",
    `Catalog (all environments): ${server.url}`,
    `REST episodes:              POST ${server.origin}/v1/episodes`,
    `ORS:                        ${server.origin}/list_environments`,
    `Reward API (control plane): POST ${server.adminOrigin}/v1/reward, GET ${server.adminOrigin}/v1/episodes/ID`,
    `Viewer (control plane):     ${server.adminOrigin}/`,
  ].join("\n");
}

/** What to do after `--once`: the commands that read what it recorded, then how to serve for real clients. */
export function nextSteps(dbFile: string): string {
  const db = sh(dbFile);
  return [
    "Next:",
    `  npx envforge score --db ${db}    (the same episodes as tables with 95% intervals and GRPO groups)`,
    `  npx envforge view --db ${db}     (every episode call by call, and the charts, in a browser)`,
    `  npx envforge export --db ${db} --format ftrl --out rows.jsonl    (training rows)`,
    "  npm start    (keep serving, and print how to connect Claude Desktop, Claude Code and the MCP Inspector)",
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
  await recorder.recoverInterrupted();
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
        admin: { port: 0 },
      },
      port,
      values.port === undefined,
      io,
    );
    write(io.stdout, `envforge start: serving ${plural(registry.size, "environment")} from ${dir} at ${server.url}`);
    write(io.stdout, `control plane (reward API, viewer): ${server.adminOrigin}/`);
    write(io.stdout, `recording to ${dbFile}`);
    const tasks = chosen.reduce((n, e) => n + e.tasks.length, 0);
    write(io.stdout, `rolling out oracle and random on ${plural(tasks, "task")} (${values.all ? "--all" : `--limit ${limitText}: up to ${perCell} per scenario x complexity`}) through MCP over HTTP...`);

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
    write(io.stdout, "");
    write(io.stdout, TABLE_NOTE);
    const oracleOk = perfect(runs[0]?.results ?? []);
    write(io.stdout, "");
    write(io.stdout, oracleOk ? "oracle: perfect on every task (build, serve, record and score agree)" : `oracle: NOT perfect on every task; see the failures above and npx envforge score --db ${sh(dbFile)}`);
    write(io.stdout, "");
    if (values.once || stop.signal.aborted) {
      if (!stop.signal.aborted) write(io.stdout, nextSteps(dbFile));
      return oracleOk && !stop.signal.aborted ? 0 : 1;
    }

    write(io.stdout, connectHelp(server, chosen[0] ?? environments[0]!, dir, dbFile));
    write(io.stdout, "");
    write(io.stdout, "Serving until Ctrl-C.");
    const signal = await signalled;
    write(io.stderr, `envforge start: ${signal}, closing ${plural(server.sessionCount(), "session")}`);
    return 0;
  } finally {
    if (!stop.signal.aborted) stop.abort(new Error("done"));
    await server?.close();
    await recorder.close();
  }
}

export const startCommand: Command = {
  usage: "start [--dir DIR] [--port 7777] [--db FILE (default .envforge/start.db)] [--limit small|N | --all] [--concurrency 8] [--seed S] [--once]",
  run,
};
