// Counted nouns for every message the layers print ("1 problem", "3 problems"), so no command gets its plurals wrong.

/** `n` and the noun, singular for exactly 1: `plural(1, "environment")` is "1 environment"; pass `many` for irregular nouns. */
export const plural = (n: number, noun: string, many = `${noun}s`): string => `${n} ${n === 1 ? noun : many}`;

/** A file size in decimal units, three significant digits: `size(1_210_000_000)` is "1.21 GB", `size(512)` "512 B". */
export function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 999.5 && unit < units.length - 1) (value /= 1000, unit++);
  return unit === 0 ? `${bytes} B` : `${value.toPrecision(3)} ${units[unit]}`;
}
