// `envforge serve`: serves environments over MCP (stdio by default, or Streamable HTTP), recording every message.
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatProblem } from "../load/index.ts";
import { configureSandboxPool } from "../runtime/index.ts";
import { residentForMiB } from "../episode/index.ts";
import { isDatabaseUrl, openRecorder, Records, withoutPassword, type Recorder } from "../store/index.ts";
import { EnvironmentRegistry, HTTP_DEFAULTS, rewardRoutes, serveStdio, SERVE_MODES, startHttpServer, otlpTracer, SERVER_VERSION, SUBMIT_TOOL, submitClash, type ServeMode } from "../serve/index.ts";
import { Viewer, viewerRoute } from "../view/index.ts";
import type { Environment } from "../schema/index.ts";
import { applyBand, BAND_FLAGS, BAND_USAGE } from "./band.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { checkExposure } from "./exposure.ts";
import { plural } from "../schema/index.ts";

/** The environments shipped with the package, found from this file so the command works from any directory. */
export const PACKAGE_ENVIRONMENTS = fileURLToPath(new URL("../../environments/", import.meta.url));

/**
 * The database when --db is not given: $ENVFORGE_DB, else ~/.envforge/envforge.db. Not the
 * working directory: stdio clients (Claude Desktop) start servers in unpredictable folders,
 * and one fixed file lets `envforge score --db` find every client's episodes.
 */
export const defaultDb = (env: NodeJS.ProcessEnv): string => env.ENVFORGE_DB || join(homedir(), ".envforge", "envforge.db");

/** Where --db points: a PostgreSQL URL as given, a file resolved against the working folder, or the default file. */
export const dbLocation = (db: string | undefined, io: Io): string => (db === undefined ? defaultDb(io.env) : isDatabaseUrl(db) ? db : resolve(io.cwd, db));

/** A store location as messages show it: a URL without its password. */
export const shownDb = (location: string): string => (isDatabaseUrl(location) ? withoutPassword(location) : location);

/** `8765`, `:8765`, `0.0.0.0:8765`, `[::1]:8765` -> host and port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--http wants [HOST:]PORT, got ${JSON.stringify(value)}`);
  const host = m[1] ? m[1].replace(/^\[(.*)\]$/, "$1") : HTTP_DEFAULTS.host;
  return { host, port };
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} wants a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * The environment and task named by --env and --task (the task may be left out when there is one),
 * checked before anything starts; unlike the registry's own lookup, the messages name the flags.
 */
export function episodeFromFlags(registry: EnvironmentRegistry, envId: string, taskId: string | undefined, dirFlag: string | undefined): ReturnType<EnvironmentRegistry["resolve"]> {
  const entry = registry.get(envId);
  const list = `npx envforge list${dirFlag === undefined ? "" : ` --dir ${dirFlag}`}`;
  if (!entry) throw new UsageError(`unknown environment "${envId}" (--env): not among the ${registry.size} in ${dirFlag ?? "the package's environments"}; \`${list}\` shows their ids`);
  const tasks = entry.env.tasks;
  const ids = tasks.map((t) => t.id).join(", ");
  if (taskId === undefined && tasks.length === 1) return { entry, task: tasks[0]! };
  if (taskId === undefined) throw new UsageError(`environment "${envId}" has ${tasks.length} tasks; choose one with --task ID: ${ids}`);
  const task = tasks.find((t) => t.id === taskId);
  if (!task) throw new UsageError(`environment "${envId}" has no task "${taskId}" (--task); its tasks are: ${ids}`);
  return { entry, task };
}

/** Calls `handler` at the first SIGINT or SIGTERM; returns a function that stops listening. */
function onSignal(handler: (signal: string) => void): () => void {
  const on = (signal: string) => {
    off();
    handler(signal);
  };
  const off = () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return off;
}

/**
 * How long a call may hold its episode's lease in a shared store before another process may take
 * the episode over: past the sandbox's hard stop (4 x its 10 s limit plus 10 s), so a live call is
 * never overtaken; a process that died mid-call delays that one episode this long.
 */
const DEFAULT_LEASE_SECONDS = 60;

/** Tells the operator when the store stops taking records and when it takes them again. */
export function reportStore(recorder: Recorder, io: Io, command: string): void {
  recorder.onStatus = (failure) =>
    write(
      io.stderr,
      failure
        ? `envforge ${command}: ${failure.message}; tool calls fail without effect and new episodes are refused until it is writable again`
        : `envforge ${command}: the store ${recorder.location} is writable again`,
    );
}

/** The registry cut to the band's tasks; each environment keeps its file's hash. */
function bandRegistry(full: EnvironmentRegistry, kept: readonly Environment[]): EnvironmentRegistry {
  return new EnvironmentRegistry(kept.map((env) => ({ env, file: full.get(env.id)!.file, sha256: full.get(env.id)!.sha256 })), full.limits);
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: "string" },
      env: { type: "string" },
      task: { type: "string" },
      episode: { type: "string" },
      http: { type: "string" },
      admin: { type: "string" },
      "admin-token": { type: "string" },
      db: { type: "string" },
      sync: { type: "string" },
      token: { type: "string" },
      "allowed-host": { type: "string", multiple: true },
      "allowed-origin": { type: "string", multiple: true },
      "max-calls": { type: "string" },
      "max-sessions": { type: "string" },
      "max-sessions-per-client": { type: "string" },
      "max-episodes": { type: "string" },
      "max-episodes-per-client": { type: "string" },
      "reclaim-idle": { type: "string" },
      workers: { type: "string" },
      resident: { type: "string" },
      "memory-budget": { type: "string" },
      "max-body": { type: "string" },
      "idle-timeout": { type: "string" },
      seed: { type: "string" },
      "no-submit-tool": { type: "boolean" },
      insecure: { type: "boolean" },
      mode: { type: "string" },
      shared: { type: "boolean" },
      lease: { type: "string" },
      ...BAND_FLAGS,
      otlp: { type: "string" },
    },
  });
  const mode = values.mode ?? "eval";
  if (!(SERVE_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode is ${SERVE_MODES.join(" or ")}, got ${JSON.stringify(mode)}`);
  const sync = values.sync ?? "normal";
  if (sync !== "normal" && sync !== "full") throw new UsageError(`--sync is normal or full, got ${JSON.stringify(sync)}`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed wants an integer, got ${JSON.stringify(values.seed)}`);
  const listen = values.http === undefined ? null : parseListen(values.http);
  if (!listen && (values.token || values["allowed-host"] || values["max-sessions"] || values["max-sessions-per-client"] || values["max-episodes"] || values["max-episodes-per-client"] || values["reclaim-idle"] || values["idle-timeout"] || values.admin || values["admin-token"] || values.resident || values["memory-budget"])) {
    throw new UsageError("--token, --admin, --admin-token, --allowed-host, --max-sessions, --max-sessions-per-client, --max-episodes, --max-episodes-per-client, --reclaim-idle, --idle-timeout, --resident and --memory-budget apply to --http only");
  }
  if (values.resident !== undefined && values["memory-budget"] !== undefined) throw new UsageError("give --resident N or --memory-budget MiB, not both");
  // A budget in MiB is turned into sandboxes by the measured cost of one (bench/evict.ts).
  const resident = values["memory-budget"] !== undefined ? residentForMiB(positiveInt("memory-budget", values["memory-budget"])!) : positiveInt("resident", values.resident);
  // The control plane (reward API, viewer) gets its own loopback listener unless told where.
  const admin = values.admin === undefined ? { host: HTTP_DEFAULTS.host, port: 0 } : parseListen(values.admin);
  const adminToken = values["admin-token"] ?? (io.env.ENVFORGE_ADMIN_TOKEN || undefined);
  const idleSeconds = positiveInt("idle-timeout", values["idle-timeout"]);
  if ((values.shared || values.lease !== undefined) && !listen) throw new UsageError("--shared and --lease apply to --http only: a stdio episode belongs to its one client");
  if (values.lease !== undefined && !values.shared && !(values.db !== undefined && isDatabaseUrl(values.db))) throw new UsageError("--lease applies with --shared (or --db postgres://...)");
  const leaseSeconds = values.lease === undefined ? DEFAULT_LEASE_SECONDS : Number(values.lease);
  if (!(Number.isFinite(leaseSeconds) && leaseSeconds > 0)) throw new UsageError(`--lease wants seconds (more than 0), got ${JSON.stringify(values.lease)}`);
  const token = values.token ?? (io.env.ENVFORGE_TOKEN || undefined);
  if (listen) {
    checkExposure("serve", listen.host, token !== undefined, values.insecure === true, io);
    checkExposure("serve", admin.host, adminToken !== undefined, values.insecure === true, io, "--admin-token T (or set $ENVFORGE_ADMIN_TOKEN) for the control plane");
  }
  const reclaimSeconds = values["reclaim-idle"] === undefined ? undefined : Number(values["reclaim-idle"]);
  if (reclaimSeconds !== undefined && !(Number.isFinite(reclaimSeconds) && reclaimSeconds >= 0)) throw new UsageError(`--reclaim-idle wants seconds (0 or more), got ${JSON.stringify(values["reclaim-idle"])}`);
  if (values.workers !== undefined) configureSandboxPool({ workers: positiveInt("workers", values.workers)! });

  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const loaded = await EnvironmentRegistry.load([dir]);
  for (const p of loaded.problems) write(io.stderr, `envforge serve: skipping ${formatProblem(p)}`);
  const registry = values["pass-band"] === undefined ? loaded.registry : bandRegistry(loaded.registry, applyBand(values, loaded.registry.list().map((r) => r.env), dir, io, "serve"));
  if (registry.size === 0) throw new UsageError(`no valid environments in ${dir}`);
  if (!values["no-submit-tool"]) {
    for (const { env } of registry.list()) if (env.tools.some((t) => t.name === SUBMIT_TOOL)) write(io.stderr, `envforge serve: ${submitClash(env.id)}; its episodes are refused`);
  }
  const episode = !listen && values.env ? episodeFromFlags(registry, values.env, values.task, values.dir) : null;
  if (!listen && !values.env && (values.task || values.episode)) throw new UsageError("--task and --episode need --env ID: the environment of the episode");
  if (episode && !values["no-submit-tool"] && episode.entry.env.tools.some((t) => t.name === SUBMIT_TOOL)) throw new UsageError(submitClash(episode.entry.env.id));

  const location = dbLocation(values.db, io);
  const onPostgres = isDatabaseUrl(location);
  const dbFile = shownDb(location);
  const recorder = await openRecorder(location, { synchronous: sync });
  reportStore(recorder, io, "serve");
  const interrupted = await recorder.recoverInterrupted();
  if (interrupted > 0) write(io.stderr, `envforge serve: marked ${plural(interrupted, "episode")} of stopped servers as interrupted in ${dbFile}`);
  if (values.otlp !== undefined && !/^https?:\/\//.test(values.otlp)) throw new UsageError(`--otlp wants an http(s) URL of an OTLP/HTTP endpoint, got ${JSON.stringify(values.otlp)}`);
  const otel = values.otlp ? otlpTracer(values.otlp, SERVER_VERSION) : null;
  const common = {
    registry,
    recorder,
    ...(otel ? { tracer: otel.tracer } : {}),
    ...(values["max-calls"] !== undefined ? { maxCalls: positiveInt("max-calls", values["max-calls"])! } : {}),
    ...(values["no-submit-tool"] ? { submitTool: false } : {}),
    mode: mode as ServeMode,
  };

  try {
    if (!listen) {
      // stdout carries the protocol and nothing else; every diagnostic goes to stderr.
      const serving = await serveStdio({
        ...common,
        envId: values.env ?? null,
        taskId: values.task ?? null,
        episodeId: values.episode ?? null,
        ...(seed !== undefined ? { seed } : {}),
        onRecordError: (err) => write(io.stderr, `envforge serve: recording failed: ${err.message}`),
      });
      // stdout is the protocol's; this one line on stderr tells a person at a terminal that it is not hung.
      const what = episode ? `episode ${serving.episodeId} (environment ${episode.entry.env.id}, task ${episode.task.id})` : `the catalog of ${registry.size} environment${registry.size === 1 ? "" : "s"}`;
      write(io.stderr, `envforge serve: serving ${what} over MCP stdio, recording to ${dbFile}; waiting for a client on stdin (Ctrl-C or end of input stops)`);
      const off = onSignal(() => void serving.stop());
      const status = await serving.done;
      off();
      write(io.stderr, `envforge serve: episode ${serving.episodeId} ended (${status}); recorded in ${dbFile}`);
      return 0;
    }
    if (values.env || values.task || values.episode || seed !== undefined) {
      throw new UsageError("with --http, choose the environment and task in the URL: /mcp?env=ID&task=ID[&episode=ID]");
    }
    const server = await startHttpServer({
      ...common,
      host: listen.host,
      port: listen.port,
      ...(token !== undefined ? { token } : {}),
      admin,
      ...(adminToken ? { adminToken } : {}),
      ...(values["allowed-host"] ? { allowedHosts: values["allowed-host"] } : {}),
      ...(values["allowed-origin"] ? { allowedOrigins: values["allowed-origin"] } : {}),
      ...(values["max-sessions"] !== undefined ? { maxSessions: positiveInt("max-sessions", values["max-sessions"])! } : {}),
      ...(values["max-sessions-per-client"] !== undefined ? { maxSessionsPerClient: positiveInt("max-sessions-per-client", values["max-sessions-per-client"])! } : {}),
      ...(values["max-episodes"] !== undefined ? { maxEpisodes: positiveInt("max-episodes", values["max-episodes"])! } : {}),
      ...(values["max-episodes-per-client"] !== undefined ? { maxEpisodesPerClient: positiveInt("max-episodes-per-client", values["max-episodes-per-client"])! } : {}),
      ...(reclaimSeconds !== undefined ? { reclaimIdleMs: reclaimSeconds * 1000 } : {}),
      ...(values["max-body"] !== undefined ? { maxBodyBytes: positiveInt("max-body", values["max-body"])! } : {}),
      ...(resident !== undefined ? { resident } : {}),
      ...(idleSeconds !== undefined ? { idleTimeoutMs: idleSeconds * 1000 } : {}),
      // Several servers on one PostgreSQL are the reason to use it: its episodes are always shared.
      ...(values.shared || onPostgres ? { shared: { leaseMs: leaseSeconds * 1000 } } : {}),
      log: (line) => write(io.stderr, line),
      // The web viewer (src/view) answers at / and below, after any other route; like the reward API it is
      // on the control plane, which an agent never reaches (in training mode too).
      // On PostgreSQL the viewer reads a snapshot instead (`envforge view --db URL`); the reward API reads each episode's rows.
      routes: onPostgres ? rewardRoutes() : [...rewardRoutes(), viewerRoute(new Viewer({ records: new Records(recorder.db), environments: registry.list().map((r) => r.env), log: (line) => write(io.stderr, line) }), adminToken ? { token: adminToken } : {})],
    });
    const example = registry.list()[0]!.env;
    write(io.stdout, `envforge serve: listening on ${server.url}`);
    write(io.stdout, `  catalog:  ${server.url}`);
    if (mode === "train") write(io.stdout, "  training mode: no progress counts or score on the agent plane");
    write(io.stdout, `  episode:  ${server.url}?env=${example.id}&task=${example.tasks[0]!.id}`);
    write(io.stdout, `  REST:     ${server.origin}/v1/episodes    ORS: ${server.origin}/list_environments`);
    if (onPostgres) write(io.stdout, `  viewer:   envforge view --db ${dbFile} (a snapshot of the shared store)`);
    else write(io.stdout, `  viewer:   ${server.adminOrigin}/ (control plane, with the reward API: never give it to an agent)`);
    write(io.stdout, `  probes:   ${server.adminOrigin}/healthz, /readyz (no token); Prometheus: ${server.adminOrigin}/metrics`);
    write(io.stdout, `  ${plural(registry.size, "environment")} from ${dir}; recording to ${dbFile}`);
    const signal = await new Promise<string>((resolve) => onSignal(resolve));
    write(io.stderr, `envforge serve: ${signal}, closing ${plural(server.sessionCount(), "session")}`);
    await server.close();
    return 0;
  } finally {
    await otel?.shutdown();
    await recorder.close();
  }
}

export const serveCommand: Command = {
  usage:
    `serve [--dir DIR] [--env ID [--task ID] [--episode ID] [--seed N] | --http [HOST:]PORT [--token T] [--admin [HOST:]PORT] [--admin-token T] [--allowed-host H]... [--allowed-origin O]... [--max-sessions N] [--max-sessions-per-client N] [--max-episodes N] [--max-episodes-per-client N] [--reclaim-idle SECONDS] [--idle-timeout SECONDS] [--max-body BYTES] [--resident N | --memory-budget MiB] [--insecure]] [--db FILE] [--sync normal|full] [--max-calls N] [--workers N] [--no-submit-tool] [--mode eval|train] [--shared [--lease SECONDS]] [--otlp URL] ${BAND_USAGE}`,
  run,
};
