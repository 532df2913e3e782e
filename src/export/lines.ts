// JSON Lines output for the exporters: one line per row, streamed with backpressure.
import { createWriteStream } from "node:fs";
import { once } from "node:events";

/** Writes JSON Lines without holding them all: one line per row, with backpressure. */
export async function writeLines(file: string, lines: Iterable<unknown>): Promise<number> {
  const stream = createWriteStream(file, { encoding: "utf8" });
  let n = 0;
  try {
    for (const line of lines) {
      n++;
      if (!stream.write(`${JSON.stringify(line)}\n`)) await once(stream, "drain");
    }
  } finally {
    stream.end();
    await once(stream, "close");
  }
  return n;
}
