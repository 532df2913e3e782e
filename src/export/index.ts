// The export layer: recorded episodes -> training data (FTRL rows, chat JSONL, Parquet) and score reports.
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Records } from "../store/index.ts";
import type { Environment, FtrlRow } from "../schema/index.ts";
import { ftrlParquet } from "./parquet.ts";
import { verlParquet } from "./verl.ts";
import { chatLine, ftrlLine, ftrlRows, transcripts, type ExportFilter, type ExportStats } from "./rows.ts";
import { linePerEpisode, writeLines } from "./lines.ts";
import { writeTraceFormat, TRACE_FORMATS, type TraceFormat } from "./formats.ts";

export { ftrlParquet, FTRL_PARQUET_SCHEMA } from "./parquet.ts";
export { verlParquet, VERL_PARQUET_SCHEMA } from "./verl.ts";
export { chatLine, dataSource, ftrlLine, ftrlRows, recordedEpisodes, transcripts, type ChatLine, type ExportFilter, type ExportStats } from "./rows.ts";
export { splitToolCodes, toolCodes } from "./codes.ts";
export { environmentsFromRows, ftrlRowsIn, type RowRead, type RowsImport } from "./ftrl-envs.ts";
export { agentOf, chatTools, readTranscript, runMetaOf, scoreOf, type Transcript, type TranscriptProblem, type TranscriptTurn } from "./transcript.ts";
export { buildReport, formatReport, isEmptyEpisode, succeeded, type GroupStats, type MetricRow, type Report, type ReportOptions } from "./report.ts";

export { atifTrajectory, atifMetrics, argumentsObject } from "./atif.ts";
export { hfRow, type HfRow, type HfMessage } from "./hf.ts";
export { episodeSpans, otlpTraces, evaluationEvents, attr, type OtlpSpan, type OtlpTraces, type OtlpAttribute } from "./otlp.ts";
export { TRACE_FORMATS, type TraceFormat } from "./formats.ts";

export const EXPORT_FORMATS = ["ftrl", "chat", "parquet", "verl", ...TRACE_FORMATS] as const;
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
  /** The file to write (its folder is created); for `atif`, the folder to write. */
  out: string;
  onProgress?: (progress: ExportProgress) => void;
}

/** The bytes of a file, or of the files in a folder (ATIF writes one file per episode and a manifest). */
async function sizeOf(path: string): Promise<number> {
  const st = await stat(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) if (entry.isFile()) total += (await stat(join(path, entry.name))).size;
  return total;
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
  if ((TRACE_FORMATS as readonly string[]).includes(options.format)) {
    await writeTraceFormat(options.format as TraceFormat, selected, options.out, stats);
    stats.bytes = await sizeOf(options.out);
    return stats;
  }
  if (options.format === "chat") {
    stats.rows = await writeLines(options.out, linePerEpisode(selected, stats, chatLine), onLine);
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
    stats.rows = await writeLines(options.out, rows(), onLine, ftrlLine);
    stats.bytes = (await stat(options.out)).size;
    return stats;
  }
  const all: FtrlRow[] = [];
  for (const row of rows()) {
    all.push(row);
    onLine(all.length, 0);
  }
  stats.rows = all.length;
  const bytes = new Uint8Array(options.format === "verl" ? verlParquet(all) : ftrlParquet(all));
  await writeFile(options.out, bytes);
  stats.bytes = bytes.byteLength;
  report({ episodes: stats.episodes, total, rows: stats.rows, bytes: stats.bytes });
  return stats;
}
export { importTrajectories, IMPORT_FORMATS, ImportError, type ImportFormat, type ImportItem, type ImportOptions, type ImportResult, type ImportTurn } from "./import.ts";
export { modelTurn, sseEvents, type ModelTurn } from "./model-calls.ts";
