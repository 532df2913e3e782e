// Text primitives of the reference reward (method.md §3), with Python's exact whitespace and JSON rules.

/**
 * Python's `str.isspace()` set. `str.strip()` in the reference uses it; JS `trim()` does not
 * (it keeps U+001C-U+001F and U+0085, and removes U+FEFF), so parity needs our own strip.
 */
export function isPyWhitespace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x1f);
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Python's `str.strip()` with no argument. */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPyWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isPyWhitespace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Python's `str.removesuffix()`. */
export function removeSuffix(text: string, suffix: string): string {
  return text.endsWith(suffix) ? text.slice(0, text.length - suffix.length) : text;
}

/** Lower-case and drop every comma: normalization without the trim. */
export function foldCase(text: string): string {
  const lower = text.toLowerCase();
  return lower.indexOf(",") === -1 ? lower : lower.replaceAll(",", "");
}

/** The reference normalization: lower-case, remove every comma, strip whitespace (Python's definition). */
export function normalize(text: string): string {
  return pyStrip(foldCase(text));
}

/** Pieces of a golden sub-answer, each normalized: the golden is split on the two characters `", "`. */
export function goldenPieces(golden: string): string[] {
  return golden.split(", ").map(normalize);
}

/**
 * Whether every piece occurs in `folded`, an output already passed through `foldCase`.
 * The output needs no strip: a stripped piece is empty (always found) or starts and ends
 * with non-whitespace, so each of its occurrences lies inside the stripped output anyway.
 */
export function piecesFound(folded: string, pieces: readonly string[]): boolean {
  for (let i = 0; i < pieces.length; i++) if (!folded.includes(pieces[i]!)) return false;
  return true;
}

/** `verify(output, golden)` of method.md §3: every normalized piece of `golden` is in the normalized output. */
export function verify(output: string, golden: string): boolean {
  return piecesFound(foldCase(output), goldenPieces(golden));
}

/**
 * JSON.parse with Python's `json.loads` extras: bare `NaN`, `Infinity` and `-Infinity`
 * are accepted (the reference keeps such calls). JSON cannot hold them, so they become null.
 * Returns `undefined` when the text does not parse.
 */
export function parsePyJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (!text.includes("NaN") && !text.includes("Infinity")) return undefined;
  }
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    const token = text.startsWith("-Infinity", i) ? "-Infinity" : text.startsWith("Infinity", i) ? "Infinity" : text.startsWith("NaN", i) ? "NaN" : null;
    if (token) {
      out += "null";
      i += token.length - 1;
    } else out += ch;
  }
  try {
    return JSON.parse(out);
  } catch {
    return undefined;
  }
}

/** Python's `json.dumps(value, ensure_ascii=False)`: `", "` and `": "` separators, non-ASCII kept. */
export function pyJsonDumps(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(", ")}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value)) parts.push(`${JSON.stringify(k)}: ${pyJsonDumps(v)}`);
  return `{${parts.join(", ")}}`;
}
