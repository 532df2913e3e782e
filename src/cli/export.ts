// `envforge export`: recorded episodes -> FTRL rows (JSON Lines), chat JSONL for SFT, or FTRL rows as Parquet.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import { EXPORT_FORMATS, exportRecords, type ExportFormat, type ExportProgress } from "../export/index.ts";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { openRecords, type Records } from "../store/index.ts";
import { plural, RewardMode, size, type Environment } from "../schema/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { applyBand, BAND_FLAGS, BAND_USAGE } from "./band.ts";
import { dbLocation, PACKAGE_ENVIRONMENTS, shownDb } from "./serve.ts";

/** The database and environments that reading commands (export, score --db) share. */
export async function openRecorded(values: { db?: string | undefined; dir?: string | undefined }, io: Io, command: string): Promise<{ records: Records; environments: Environment[]; dbFile: string }> {
  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const loaded = await loadEnvironments([dir]);
  for (const p of loaded.problems) write(io.stderr, `envforge ${command}: skipping ${formatProblem(p)}`);
  const location = dbLocation(values.db, io);
  const records = await openRecords(location);
  return { records, environments: loaded.environments.map((e) => e.env), dbFile: shownDb(location) };
}

export const rewardMode = (value: string | undefined): RewardMode => {
  const mode = RewardMode.safeParse(value ?? "ftrl");
  if (!mode.success) throw new UsageError(`--reward must be one of ${RewardMode.options.join(", ")}, not ${JSON.stringify(value)}`);
  return mode.data;
};

export const exportCommand: Command = {
  usage: `export --format ftrl|chat|parquet|verl|atif|inspect|hf|otlp --out PATH [--db FILE] [--dir DIR] [--env ID] [--model NAME] [--min-score X] [--reward ftrl|strict] [--split train] [--progress] ${BAND_USAGE}`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        db: { type: "string" },
        dir: { type: "string" },
        format: { type: "string" },
        out: { type: "string" },
        env: { type: "string" },
        model: { type: "string" },
        "min-score": { type: "string" },
        reward: { type: "string" },
        split: { type: "string" },
        progress: { type: "boolean" },
        ...BAND_FLAGS,
      },
    });
    const format = values.format as ExportFormat | undefined;
    if (!format || !EXPORT_FORMATS.includes(format)) throw new UsageError(`--format is one of ${EXPORT_FORMATS.join(", ")}`);
    if (!values.out) throw new UsageError("--out PATH is required");
    const minScore = values["min-score"] === undefined ? undefined : Number(values["min-score"]);
    if (minScore !== undefined && !Number.isFinite(minScore)) throw new UsageError(`--min-score wants a number, got ${JSON.stringify(values["min-score"])}`);
    const mode = rewardMode(values.reward);
    const { records, environments, dbFile } = await openRecorded(values, io, "export");
    // A large export runs for minutes: a bar on stderr when it is a terminal, or with --progress.
    const showBar = values.progress === true || (io.stderr as { isTTY?: boolean }).isTTY === true;
    const unit = format === "chat" ? "conversations" : "rows";
    const bar = showBar ? new SingleBar({ stream: io.stderr, format: "exporting {bar} {value}/{total} episodes | {rows} | {size}", hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000 }) : null;
    let started = false;
    try {
      const out = resolve(io.cwd, values.out);
      const banded = values["pass-band"] === undefined ? null : applyBand(values, environments, values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS, io, "export");
      const stats = await exportRecords({
        records,
        environments,
        format,
        out,
        mode,
        ...(values.env !== undefined ? { envId: values.env } : {}),
        ...(values.model !== undefined ? { model: values.model } : {}),
        ...(minScore !== undefined ? { minScore } : {}),
        ...(values.split !== undefined ? { split: values.split } : {}),
        ...(bar
          ? {
              onProgress: (p: ExportProgress) => {
                const payload = { rows: plural(p.rows, unit.slice(0, -1)), size: size(p.bytes) };
                if (!started) (bar.start(p.total, p.episodes, payload), (started = true));
                else bar.update(p.episodes, payload);
              },
            }
          : {}),
        ...(banded ? { tasks: new Set(banded.flatMap((e) => e.tasks.map((t) => `${e.id}/${t.id}`))) } : {}),
      });
      bar?.stop();
      const skipped = Object.entries(stats.skipped).map(([k, v]) => `${v} ${k.replaceAll("_", " ")}`);
      write(
        io.stdout,
        `wrote ${plural(stats.rows, unit.slice(0, -1))} (${size(stats.bytes)}) from ${stats.exported} of ${plural(stats.episodes, "episode")} in ${dbFile} to ${out}${skipped.length ? `; left out: ${skipped.join(", ")}` : ""}`,
      );
      return 0;
    } finally {
      bar?.stop();
      records.close();
    }
  },
};
