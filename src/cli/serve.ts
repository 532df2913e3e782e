// `envforge serve`: serves environments over MCP (stdio by default, or Streamable HTTP), recording every message.
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatProblem } from "../load/index.ts";
import { Recorder, Records } from "../store/index.ts";
import { EnvironmentRegistry, HTTP_DEFAULTS, LookupError, rewardRoutes, serveStdio, startHttpServer, otlpTracer, SERVER_VERSION } from "../serve/index.ts";
import { Viewer, viewerRoute } from "../view/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";

/** The environments shipped with the package, found from this file so the command works from any directory. */
export const PACKAGE_ENVIRONMENTS = fileURLToPath(new URL("../../environments/", import.meta.url));

/**
 * The database when --db is not given: $ENVFORGE_DB, else ~/.envforge/envforge.db. Not the
 * working directory: stdio clients (Claude Desktop) start servers in unpredictable folders,
 * and one fixed file lets `envforge score --db` find every client's episodes.
 */
export const defaultDb = (env: NodeJS.ProcessEnv): string => env.ENVFORGE_DB || join(homedir(), ".envforge", "envforge.db");

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

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: "string" },
      env: { type: "string" },
      task: { type: "string" },
      episode: { type: "string" },
      http: { type: "string" },
      db: { type: "string" },
      sync: { type: "string" },
      token: { type: "string" },
      "allowed-host": { type: "string", multiple: true },
      "allowed-origin": { type: "string", multiple: true },
      "max-calls": { type: "string" },
      "max-sessions": { type: "string" },
      "max-body": { type: "string" },
      "idle-timeout": { type: "string" },
      seed: { type: "string" },
      "no-submit-tool": { type: "boolean" },
      otlp: { type: "string" },
    },
  });
  const sync = values.sync ?? "normal";
  if (sync !== "normal" && sync !== "full") throw new UsageError(`--sync is normal or full, got ${JSON.stringify(sync)}`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed wants an integer, got ${JSON.stringify(values.seed)}`);
  const listen = values.http === undefined ? null : parseListen(values.http);
  if (!listen && (values.token || values["allowed-host"] || values["max-sessions"] || values["idle-timeout"])) {
    throw new UsageError("--token, --allowed-host, --max-sessions and --idle-timeout apply to --http only");
  }
  const idleSeconds = positiveInt("idle-timeout", values["idle-timeout"]);

  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const { registry, problems } = await EnvironmentRegistry.load([dir]);
  for (const p of problems) write(io.stderr, `envforge serve: skipping ${formatProblem(p)}`);
  if (registry.size === 0) throw new UsageError(`no valid environments in ${dir}`);
  if (values.env) {
    try {
      registry.resolve(values.env, values.task);
    } catch (err) {
      throw err instanceof LookupError ? new UsageError(err.message) : err;
    }
  }

  const dbFile = values.db ? resolve(io.cwd, values.db) : defaultDb(io.env);
  const recorder = Recorder.open(dbFile, { synchronous: sync });
  const interrupted = recorder.recoverInterrupted();
  if (interrupted > 0) write(io.stderr, `envforge serve: marked ${interrupted} episodes of stopped servers as interrupted in ${dbFile}`);
  if (values.otlp !== undefined && !/^https?:\/\//.test(values.otlp)) throw new UsageError(`--otlp wants an http(s) URL of an OTLP/HTTP endpoint, got ${JSON.stringify(values.otlp)}`);
  const otel = values.otlp ? otlpTracer(values.otlp, SERVER_VERSION) : null;
  const common = {
    registry,
    recorder,
    ...(otel ? { tracer: otel.tracer } : {}),
    ...(values["max-calls"] !== undefined ? { maxCalls: positiveInt("max-calls", values["max-calls"])! } : {}),
    ...(values["no-submit-tool"] ? { submitTool: false } : {}),
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
      ...(values.token || io.env.ENVFORGE_TOKEN ? { token: values.token ?? io.env.ENVFORGE_TOKEN! } : {}),
      ...(values["allowed-host"] ? { allowedHosts: values["allowed-host"] } : {}),
      ...(values["allowed-origin"] ? { allowedOrigins: values["allowed-origin"] } : {}),
      ...(values["max-sessions"] !== undefined ? { maxSessions: positiveInt("max-sessions", values["max-sessions"])! } : {}),
      ...(values["max-body"] !== undefined ? { maxBodyBytes: positiveInt("max-body", values["max-body"])! } : {}),
      ...(idleSeconds !== undefined ? { idleTimeoutMs: idleSeconds * 1000 } : {}),
      log: (line) => write(io.stderr, line),
      // The web viewer (src/view) answers at / and below, after any other route.
      routes: [...rewardRoutes(), viewerRoute(new Viewer({ records: new Records(recorder.db), environments: registry.list().map((r) => r.env), log: (line) => write(io.stderr, line) }))],
    });
    const example = registry.list()[0]!.env;
    write(io.stdout, `envforge serve: listening on ${server.url}`);
    write(io.stdout, `  catalog:  ${server.url}`);
    write(io.stdout, `  viewer:   ${server.origin}/`);
    write(io.stdout, `  episode:  ${server.url}?env=${example.id}&task=${example.tasks[0]!.id}`);
    write(io.stdout, `  ${registry.size} environments from ${dir}; recording to ${dbFile}`);
    const signal = await new Promise<string>((resolve) => onSignal(resolve));
    write(io.stderr, `envforge serve: ${signal}, closing ${server.sessionCount()} sessions`);
    await server.close();
    return 0;
  } finally {
    await otel?.shutdown();
    recorder.close();
  }
}

export const serveCommand: Command = {
  name: "serve",
  summary: "Serve environments over MCP (stdio, or Streamable HTTP with --http), recording every message",
  usage:
    "serve [--dir DIR] [--env ID [--task ID] [--episode ID] [--seed N] | --http [HOST:]PORT [--token T] [--allowed-host H]... [--allowed-origin O]... [--max-sessions N] [--idle-timeout SECONDS] [--max-body BYTES]] [--db FILE] [--sync normal|full] [--max-calls N] [--no-submit-tool] [--otlp URL]",
  run,
};
