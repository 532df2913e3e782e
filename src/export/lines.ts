// JSON Lines output for the exporters: one line per row, streamed with backpressure.
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { ExportStats } from "./rows.ts";
import type { Transcript } from "./transcript.ts";

/**
 * Writes JSON Lines without holding them all: one line per row, with backpressure; `onLine` hears the
 * rows and bytes so far, and `serialize` writes a row (FTRL rows as Python's json.dumps would).
 */
export async function writeLines<T>(
  file: string,
  lines: Iterable<T>,
  onLine: (rows: number, bytes: number) => void = () => undefined,
  serialize: (line: T) => string = JSON.stringify,
): Promise<number> {
  const stream = createWriteStream(file, { encoding: "utf8" });
  let n = 0;
  let bytes = 0;
  try {
    for (const line of lines) {
      n++;
      const text = `${serialize(line)}\n`;
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

/** One line per transcript; a transcript that gives none (null: no final answer) is counted as skipped. */
export function* linePerEpisode<T>(selected: Iterable<Transcript>, stats: ExportStats, line: (t: Transcript) => T | null): Generator<T> {
  for (const t of selected) {
    const value = line(t);
    if (value === null) {
      stats.skipped.no_final_answer = (stats.skipped.no_final_answer ?? 0) + 1;
      continue;
    }
    stats.exported++;
    yield value;
  }
}
