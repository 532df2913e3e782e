// The export layer: recorded episodes -> training data (FTRL rows, chat JSONL, Parquet) and score reports.
import { createWriteStream } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { once } from "node:events";
import type { Records } from "../store/index.ts";
import type { Environment, FtrlRow } from "../schema/index.ts";
import { ftrlParquet } from "./parquet.ts";
import { chatLine, ftrlRows, transcripts, type ExportFilter, type ExportStats } from "./rows.ts";

export { ftrlParquet, FTRL_PARQUET_SCHEMA } from "./parquet.ts";
export { chatLine, dataSource, ftrlRows, recordedEpisodes, transcripts, type ChatLine, type ExportFilter, type ExportStats } from "./rows.ts";
export { agentOf, chatTools, readTranscript, runMetaOf, scoreOf, toolCodes, type Transcript, type TranscriptProblem, type TranscriptTurn } from "./transcript.ts";
export { buildReport, formatReport, isEmptyEpisode, succeeded, type GroupStats, type MetricRow, type Report, type ReportOptions } from "./report.ts";

export const EXPORT_FORMATS = ["ftrl", "chat", "parquet"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** How far an export has got, reported after every row (a large export takes minutes). */
export interface ExportProgress {
  /** Episodes read so far, of `total` recorded (after the environment filter). */
  episodes: number;
  total: number;
  rows: number;
  /** Bytes written so far; Parquet is written at the end, so 0 until then. */
  bytes: number;
}

export interface ExportOptions extends ExportFilter {
  records: Records;
  environments: readonly Environment[];
  format: ExportFormat;
  /** The file to write (its folder is created). */
  out: string;
  onProgress?: (progress: ExportProgress) => void;
}

/** Writes JSON Lines without holding them all: one line per row, with backpressure. */
async function writeLines(file: string, lines: Iterable<unknown>, onLine: (rows: number, bytes: number) => void): Promise<number> {
  const stream = createWriteStream(file, { encoding: "utf8" });
  let n = 0;
  let bytes = 0;
  try {
    for (const line of lines) {
      n++;
      const text = `${JSON.stringify(line)}\n`;
      bytes += Buffer.byteLength(text);
      onLine(n, bytes);
      if (!stream.write(text)) await once(stream, "drain");
    }
  } finally {
    stream.end();
    await once(stream, "close");
  }
  return n;
}

/** Exports the episodes that pass the filters to `out` in `format`; returns what was read, written and left out. */
export async function exportRecords(options: ExportOptions): Promise<ExportStats> {
  const stats: ExportStats = { episodes: 0, exported: 0, rows: 0, bytes: 0, skipped: {} };
  const mode = options.mode ?? "ftrl";
  const split = options.split ?? "train";
  await mkdir(dirname(options.out), { recursive: true });
  const total = options.records.listEpisodes({ kind: "episode", limit: 1, ...(options.envId !== undefined ? { envId: options.envId } : {}) }).total;
  const report = options.onProgress ?? (() => undefined);
  const onLine = (rows: number, bytes: number): void => report({ episodes: stats.episodes, total, rows, bytes });
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
    stats.rows = await writeLines(options.out, lines(), onLine);
    stats.bytes = (await stat(options.out)).size;
    return stats;
  }
  const rows = function* (): Generator<FtrlRow> {
    for (const t of selected) {
      stats.exported++;
      yield* ftrlRows(t, mode, split);
    }
  };
  if (options.format === "ftrl") {
    stats.rows = await writeLines(options.out, rows(), onLine);
    stats.bytes = (await stat(options.out)).size;
    return stats;
  }
  const all: FtrlRow[] = [];
  for (const row of rows()) {
    all.push(row);
    onLine(all.length, 0);
  }
  stats.rows = all.length;
  const bytes = new Uint8Array(ftrlParquet(all));
  await writeFile(options.out, bytes);
  stats.bytes = bytes.byteLength;
  report({ episodes: stats.episodes, total, rows: stats.rows, bytes: stats.bytes });
  return stats;
}
