// `envforge record -- COMMAND [ARGS...]`: runs any stdio MCP server behind a pass-through proxy that records every message.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatProblem } from "../load/index.ts";
import { Recorder } from "../store/index.ts";
import { EnvironmentRegistry, EPISODE_ID, startProxy } from "../serve/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { defaultDb, episodeFromFlags, PACKAGE_ENVIRONMENTS } from "./serve.ts";

async function scoringFor(values: { dir?: string | undefined; env?: string | undefined; task?: string | undefined }, io: Io) {
  if (!values.env) {
    if (values.task) throw new UsageError("--task needs --env");
    return undefined;
  }
  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const { registry, problems } = await EnvironmentRegistry.load([dir]);
  for (const p of problems) write(io.stderr, `envforge record: skipping ${formatProblem(p)}`);
  return episodeFromFlags(registry, values.env, values.task, values.dir);
}

async function run(argv: string[], io: Io): Promise<number> {
  const split = argv.indexOf("--");
  if (split === -1 || split === argv.length - 1) throw new UsageError("give the server's command after --, e.g. envforge record -- npx -y @modelcontextprotocol/server-everything");
  const { values } = parseArgs({
    args: argv.slice(0, split),
    options: { db: { type: "string" }, env: { type: "string" }, task: { type: "string" }, dir: { type: "string" }, episode: { type: "string" } },
  });
  if (values.episode !== undefined && !EPISODE_ID.test(values.episode)) throw new UsageError(`invalid --episode ${JSON.stringify(values.episode)}: use 1-128 of [A-Za-z0-9_.:-]`);
  const scoring = await scoringFor(values, io);
  const [command, ...args] = argv.slice(split + 1) as [string, ...string[]];
  const dbFile = values.db ? resolve(io.cwd, values.db) : defaultDb(io.env);
  const recorder = Recorder.open(dbFile);
  try {
    if (values.episode !== undefined && (await recorder.episodeExists(values.episode))) throw new UsageError(`episode id "${values.episode}" is already in ${dbFile}`);
    const proxy = startProxy({
      command,
      args,
      recorder,
      input: io.stdin as NodeJS.ReadStream,
      output: io.stdout,
      errorOutput: io.stderr,
      cwd: io.cwd,
      env: io.env,
      ...(scoring ? { scoring: { entry: scoring.entry, task: scoring.task } } : {}),
      ...(values.episode !== undefined ? { episodeId: values.episode } : {}),
      onRecordError: (err) => write(io.stderr, `envforge record: recording failed: ${err.message}`),
    });
    // The server decides when to stop: pass the signal on and wait for its exit code.
    const forward = (signal: NodeJS.Signals): void => proxy.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    try {
      return await proxy.done;
    } finally {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
    }
  } finally {
    await recorder.close();
  }
}

export const recordCommand: Command = {
  usage: "record [--db FILE] [--env ID [--task ID] [--dir DIR]] [--episode ID] -- COMMAND [ARGS...]",
  run,
};
