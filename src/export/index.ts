// The export layer: recorded episodes -> training data (FTRL rows, chat JSONL, Parquet) and score reports.
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { once } from "node:events";
import type { Records } from "../store/index.ts";
import type { Environment, FtrlRow } from "../schema/index.ts";
import { ftrlParquet } from "./parquet.ts";
import { verlParquet } from "./verl.ts";
import { chatLine, ftrlLine, ftrlRows, transcripts, type ExportFilter, type ExportStats } from "./rows.ts";

export { ftrlParquet, FTRL_PARQUET_SCHEMA } from "./parquet.ts";
export { verlParquet, VERL_PARQUET_SCHEMA } from "./verl.ts";
export { chatLine, dataSource, ftrlLine, ftrlRows, recordedEpisodes, transcripts, type ChatLine, type ExportFilter, type ExportStats } from "./rows.ts";
export { toolCodes } from "./codes.ts";
export { agentOf, chatTools, readTranscript, runMetaOf, scoreOf, type Transcript, type TranscriptProblem, type TranscriptTurn } from "./transcript.ts";
export { buildReport, formatReport, succeeded, type GroupStats, type MetricRow, type Report, type ReportOptions } from "./report.ts";

export const EXPORT_FORMATS = ["ftrl", "chat", "parquet", "verl"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions extends ExportFilter {
  records: Records;
  environments: readonly Environment[];
  format: ExportFormat;
  /** The file to write (its folder is created). */
  out: string;
}

/** Writes JSON Lines without holding them all: one line per row, with backpressure. */
async function writeLines<T>(file: string, lines: Iterable<T>, serialize: (line: T) => string = JSON.stringify): Promise<number> {
  const stream = createWriteStream(file, { encoding: "utf8" });
  let n = 0;
  try {
    for (const line of lines) {
      n++;
      if (!stream.write(`${serialize(line)}\n`)) await once(stream, "drain");
    }
  } finally {
    stream.end();
    await once(stream, "close");
  }
  return n;
}

/** Exports the episodes that pass the filters to `out` in `format`; returns what was read, written and left out. */
export async function exportRecords(options: ExportOptions): Promise<ExportStats> {
  const stats: ExportStats = { episodes: 0, exported: 0, rows: 0, skipped: {} };
  const mode = options.mode ?? "ftrl";
  const split = options.split ?? "train";
  await mkdir(dirname(options.out), { recursive: true });
  const selected = transcripts(options.records, options.environments, options, stats);
  if (options.format === "chat") {
    const lines = function* () {
      for (const t of selected) {
        const line = chatLine(t);
        if (!line) {
          stats.skipped.no_final_answer = (stats.skipped.no_final_answer ?? 0) + 1;
          continue;
        }
        stats.exported++;
        yield line;
      }
    };
    stats.rows = await writeLines(options.out, lines());
    return stats;
  }
  const rows = function* (): Generator<FtrlRow> {
    for (const t of selected) {
      stats.exported++;
      yield* ftrlRows(t, mode, split);
    }
  };
  if (options.format === "ftrl") {
    stats.rows = await writeLines(options.out, rows(), ftrlLine);
    return stats;
  }
  const all = [...rows()];
  stats.rows = all.length;
  await writeFile(options.out, new Uint8Array(options.format === "verl" ? verlParquet(all) : ftrlParquet(all)));
  return stats;
}
