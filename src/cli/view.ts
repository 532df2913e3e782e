// `envforge view`: serves the web viewer for a recording database, live while other processes keep writing to it.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { isDatabaseUrl, openRecords } from "../store/index.ts";
import { startViewServer, Viewer } from "../view/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { checkExposure } from "./exposure.ts";
import { dbLocation, PACKAGE_ENVIRONMENTS, shownDb } from "./serve.ts";
import { plural } from "../schema/index.ts";

export const VIEW_DEFAULT_PORT = 8766;

function port(value: string | undefined): number {
  if (value === undefined) return VIEW_DEFAULT_PORT;
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535) throw new UsageError(`--port wants 0-65535, got ${JSON.stringify(value)}`);
  return n;
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: "string" },
      dir: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "allowed-host": { type: "string", multiple: true },
      "poll-ms": { type: "string" },
      token: { type: "string" },
      insecure: { type: "boolean" },
    },
  });
  const token = values.token ?? (io.env.ENVFORGE_TOKEN || undefined);
  checkExposure("view", values.host ?? "127.0.0.1", token !== undefined, values.insecure === true, io);
  const location = dbLocation(values.db, io);
  const dbFile = shownDb(location);
  if (!isDatabaseUrl(location) && !existsSync(location)) throw new UsageError(`no database at ${dbFile}; record one with envforge serve or envforge run (--db FILE)`);
  const pollMs = values["poll-ms"] === undefined ? undefined : Number(values["poll-ms"]);
  if (pollMs !== undefined && !(Number.isInteger(pollMs) && pollMs >= 10)) throw new UsageError(`--poll-ms wants a whole number of at least 10, got ${JSON.stringify(values["poll-ms"])}`);

  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const report = await loadEnvironments([dir]);
  for (const p of report.problems) write(io.stderr, `envforge view: skipping ${formatProblem(p)}`);

  // Read-write only so that an older database gets the viewer's indexes (a migration); the viewer itself never writes.
  // PostgreSQL is shown as one snapshot taken now (restart the viewer to see newer episodes).
  const records = await openRecords(location, { live: true });
  const viewer = new Viewer({ records, environments: report.environments.map((e) => e.env), ...(pollMs !== undefined ? { pollMs } : {}), log: (line) => write(io.stderr, line) });
  try {
    const server = await startViewServer({
      viewer,
      port: port(values.port),
      ...(values.host ? { host: values.host } : {}),
      ...(values["allowed-host"] ? { allowedHosts: values["allowed-host"] } : {}),
      ...(token !== undefined ? { token } : {}),
      log: (line) => write(io.stderr, line),
    });
    write(io.stdout, `envforge view: ${server.url}`);
    write(io.stdout, `  ${plural(records.counts().episodes, "episode")} in ${dbFile}; ${plural(report.environments.length, "environment")} from ${dir}`);
    const signal = await new Promise<string>((done) => {
      const on = (s: string) => {
        process.off("SIGINT", on);
        process.off("SIGTERM", on);
        done(s);
      };
      process.on("SIGINT", on);
      process.on("SIGTERM", on);
    });
    write(io.stderr, `envforge view: ${signal}, stopping`);
    await server.close();
    return 0;
  } finally {
    viewer.close();
    records.close();
  }
}

export const viewCommand: Command = {
  usage: "view [--db FILE] [--dir DIR] [--port P] [--host H] [--allowed-host NAME]... [--poll-ms MS] [--token T] [--insecure]",
  run,
};
