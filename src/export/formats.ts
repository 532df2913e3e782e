// The trace formats of `envforge export` (atif, hf, otlp, inspect): each turns the selected transcripts into its file(s).
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ATIF_VERSION } from "../schema/index.ts";
import { atifTrajectory } from "./atif.ts";
import { hfRow } from "./hf.ts";
import { writeInspectLog } from "./inspect.ts";
import { linePerEpisode, writeLines } from "./lines.ts";
import { episodeSpans, otlpTraces } from "./otlp.ts";
import type { ExportStats } from "./rows.ts";
import type { Transcript } from "./transcript.ts";

export const TRACE_FORMATS = ["atif", "inspect", "hf", "otlp"] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

/** A file name for an episode id: ids are free text, so anything outside [A-Za-z0-9_.-] becomes `_` plus a short hash. */
export function fileNameOf(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_.-]/g, "_");
  return safe === id && !id.startsWith(".") ? id : `${safe.replace(/^\./, "_")}-${createHash("sha256").update(id).digest("hex").slice(0, 8)}`;
}

/** The manifest written beside ATIF trajectories: each file with its SHA-256, so a copy can be checked. */
export interface AtifManifest {
  format: typeof ATIF_VERSION;
  producer: "envforge";
  trajectories: { file: string; episode: string; sha256: string; bytes: number; steps: number }[];
}

/** Writes one ATIF trajectory per episode to `<dir>/<episode>.json` and `<dir>/manifest.json`. */
async function writeAtif(selected: Iterable<Transcript>, dir: string, stats: ExportStats): Promise<void> {
  await mkdir(dir, { recursive: true });
  const manifest: AtifManifest = { format: ATIF_VERSION, producer: "envforge", trajectories: [] };
  for (const t of selected) {
    const trajectory = atifTrajectory(t);
    const text = `${JSON.stringify(trajectory, null, 2)}\n`;
    const file = `${fileNameOf(t.episode.id)}.json`;
    await writeFile(join(dir, file), text);
    manifest.trajectories.push({ file, episode: t.episode.id, sha256: createHash("sha256").update(text).digest("hex"), bytes: Buffer.byteLength(text), steps: trajectory.steps.length });
    stats.exported++;
    stats.rows++;
  }
  await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

export async function writeTraceFormat(format: TraceFormat, selected: Iterable<Transcript>, out: string, stats: ExportStats): Promise<void> {
  if (format === "atif") return writeAtif(selected, out, stats);
  if (format === "inspect") return writeInspectLog(selected, out, stats);
  const line: (t: Transcript) => object | null = format === "otlp" ? (t) => otlpTraces(episodeSpans(t)) : hfRow;
  stats.rows = await writeLines(out, linePerEpisode(selected, stats, line));
}
