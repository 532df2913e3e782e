// `envforge score FILE [--reward ftrl|strict]`: scores episode and step records, one JSON object per record.
import { once } from "node:events";
import { open } from "node:fs/promises";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { scoreJsonLines, type LineResult } from "../score/index.ts";
import { RewardMode } from "../schema/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { scoreDb } from "./score-db.ts";

/** A source of records to score. Each kind (JSON Lines today) names its records for error messages. */
interface ScoreInput {
  /** Prefix of error messages, e.g. the file name; a result's `line` follows it. */
  label: string;
  results(mode: RewardMode): AsyncIterable<LineResult>;
}

/** JSON Lines from a file, or from stdin for `-`. Throws a readable error when the file cannot be opened. */
async function jsonlInput(path: string, io: Io): Promise<ScoreInput> {
  if (path === "-") {
    return { label: "<stdin>", results: (mode) => scoreJsonLines(createInterface({ input: io.stdin, crlfDelay: Infinity }), mode) };
  }
  const file = resolve(io.cwd, path);
  const handle = await open(file).catch((err: Error) => {
    throw new Error(`cannot read ${path}: ${err.message}`);
  });
  return {
    label: path,
    async *results(mode) {
      try {
        yield* scoreJsonLines(handle.readLines(), mode);
      } finally {
        await handle.close();
      }
    },
  };
}

export const scoreCommand: Command = {
  usage: "score FILE|- [--reward ftrl|strict]  |  score --db FILE [--json] [--dir DIR] [--env ID] [--model NAME] [--reward ftrl|strict] [--pool] [--include-empty]",
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        reward: { type: "string", default: "ftrl" },
        db: { type: "string" },
        json: { type: "boolean" },
        dir: { type: "string" },
        env: { type: "string" },
        model: { type: "string" },
        pool: { type: "boolean" },
        "include-empty": { type: "boolean" },
      },
    });
    if (values.db !== undefined) {
      if (positionals.length > 0) throw new UsageError("give either FILE or --db, not both");
      return scoreDb(values, io);
    }
    if (values.json || values.dir || values.env || values.model || values.pool || values["include-empty"]) throw new UsageError("--json, --dir, --env, --model, --pool and --include-empty apply to --db only");
    const mode = RewardMode.safeParse(values.reward);
    if (!mode.success) throw new UsageError(`--reward must be one of ${RewardMode.options.join(", ")}, not "${values.reward}"`);
    if (positionals.length !== 1) throw new UsageError("give exactly one FILE (or - for stdin)");
    let input: ScoreInput;
    try {
      input = await jsonlInput(positionals[0]!, io);
    } catch (err) {
      write(io.stderr, `envforge score: ${(err as Error).message}`);
      return 1;
    }
    // A reader that stops early (`| head`) closes the pipe: stop scoring quietly, as Unix tools do.
    let stopped: NodeJS.ErrnoException | undefined;
    const onError = (err: NodeJS.ErrnoException): void => {
      stopped = err;
    };
    io.stdout.on("error", onError);
    let bad = 0;
    try {
      for await (const result of input.results(mode.data)) {
        if (!result.ok) {
          bad++;
          write(io.stderr, `${input.label} line ${result.line}: ${result.error}`);
        } else if (!io.stdout.write(`${JSON.stringify(result.score)}\n`)) {
          await once(io.stdout, "drain").catch(() => undefined);
        }
        if (stopped) break;
      }
    } finally {
      io.stdout.off("error", onError);
    }
    if (stopped && stopped.code !== "EPIPE") throw stopped;
    return bad > 0 ? 1 : 0;
  },
};
