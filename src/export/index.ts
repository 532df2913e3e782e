// The export layer: recorded episodes -> training data (FTRL rows, chat JSONL, Parquet) and score reports.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Records } from "../store/index.ts";
import type { Environment, FtrlRow } from "../schema/index.ts";
import { ftrlParquet } from "./parquet.ts";
import { chatLine, ftrlRows, transcripts, type ExportFilter, type ExportStats } from "./rows.ts";
import { linePerEpisode, writeLines } from "./lines.ts";
import { writeTraceFormat, TRACE_FORMATS, type TraceFormat } from "./formats.ts";

export { ftrlParquet, FTRL_PARQUET_SCHEMA } from "./parquet.ts";
export { chatLine, dataSource, ftrlRows, recordedEpisodes, transcripts, type ChatLine, type ExportFilter, type ExportStats } from "./rows.ts";
export { agentOf, chatTools, readTranscript, runMetaOf, scoreOf, toolCodes, type Transcript, type TranscriptProblem, type TranscriptTurn } from "./transcript.ts";
export { buildReport, formatReport, succeeded, type GroupStats, type MetricRow, type Report, type ReportOptions } from "./report.ts";

export { atifTrajectory, atifMetrics, argumentsObject } from "./atif.ts";
export { hfRow, type HfRow, type HfMessage } from "./hf.ts";
export { episodeSpans, otlpTraces, evaluationEvents, attr, type OtlpSpan, type OtlpTraces, type OtlpAttribute } from "./otlp.ts";
export { TRACE_FORMATS, type TraceFormat } from "./formats.ts";

export const EXPORT_FORMATS = ["ftrl", "chat", "parquet", ...TRACE_FORMATS] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions extends ExportFilter {
  records: Records;
  environments: readonly Environment[];
  format: ExportFormat;
  /** The file to write (its folder is created); for `atif`, the folder to write. */
  out: string;
}

/** Exports the episodes that pass the filters to `out` in `format`; returns what was read, written and left out. */
export async function exportRecords(options: ExportOptions): Promise<ExportStats> {
  const stats: ExportStats = { episodes: 0, exported: 0, rows: 0, skipped: {} };
  const mode = options.mode ?? "ftrl";
  const split = options.split ?? "train";
  await mkdir(dirname(options.out), { recursive: true });
  const selected = transcripts(options.records, options.environments, options, stats);
  if ((TRACE_FORMATS as readonly string[]).includes(options.format)) {
    await writeTraceFormat(options.format as TraceFormat, selected, options.out, stats);
    return stats;
  }
  if (options.format === "chat") {
    stats.rows = await writeLines(options.out, linePerEpisode(selected, stats, chatLine));
    return stats;
  }
  const rows = function* (): Generator<FtrlRow> {
    for (const t of selected) {
      stats.exported++;
      yield* ftrlRows(t, mode, split);
    }
  };
  if (options.format === "ftrl") {
    stats.rows = await writeLines(options.out, rows());
    return stats;
  }
  const all = [...rows()];
  stats.rows = all.length;
  await writeFile(options.out, new Uint8Array(ftrlParquet(all)));
  return stats;
}
export { importTrajectories, IMPORT_FORMATS, ImportError, type ImportFormat, type ImportItem, type ImportOptions, type ImportResult, type ImportTurn } from "./import.ts";
export { modelTurn, sseEvents, type ModelTurn } from "./model-calls.ts";
