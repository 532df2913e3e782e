// The three checks of strict mode, which close the known weaknesses of the reference reward (method.md §3).
import { normalize, pyJsonDumps } from "./text.ts";

/** How the reference words a failed call: `an error occured when call NAME: MESSAGE`. */
export const REFERENCE_ERROR_PREFIX = "an error occured when call ";

/** Weakness 1: whether an output is an error message. An explicit flag wins over the wording. */
export function isErrorOutput(output: string, flag: boolean | undefined): boolean {
  return flag ?? output.startsWith(REFERENCE_ERROR_PREFIX);
}

/**
 * Weakness 2: the texts a tool could echo back from its own arguments, normalized.
 *
 * Two views, because each misses what the other sees:
 * - the Python-style JSON serialization (`json.dumps`, as the reference hands arguments to a
 *   tool and as the runtime renders objects): it holds numbers, booleans and keys, so a
 *   golden `"1,234"` is found in `{"amount": 1234}`;
 * - every string value on its own, unescaped: the serialization escapes quotes, backslashes
 *   and control characters, so a golden `say "hi"` would be missed there.
 */
export function argumentEchoTexts(args: Readonly<Record<string, unknown>>): string[] {
  const texts = [normalize(pyJsonDumps(args))];
  const walk = (value: unknown): void => {
    if (typeof value === "string") texts.push(normalize(value));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(args);
  return texts;
}

/** Whether every piece of a sub-answer already appears in the call's arguments (so an echo would "solve" it). */
export function echoedByArguments(pieces: readonly string[], echoTexts: readonly string[]): boolean {
  return pieces.every((piece) => echoTexts.some((text) => text.includes(piece)));
}

/**
 * Weakness 3: the response text outside reasoning. A `<think>` span runs to its `</think>`,
 * or to the end when unclosed (truncated reasoning); a `</think>` with no opening tag ends
 * reasoning that began in the prompt (templates that pre-fill `<think>`), so all before it goes.
 */
export function outsideThink(text: string): string {
  const OPEN = "<think>";
  const CLOSE = "</think>";
  let rest = text;
  const firstClose = rest.indexOf(CLOSE);
  const firstOpen = rest.indexOf(OPEN);
  if (firstClose !== -1 && (firstOpen === -1 || firstClose < firstOpen)) rest = rest.slice(firstClose + CLOSE.length);
  let out = "";
  for (;;) {
    const open = rest.indexOf(OPEN);
    if (open === -1) return out + rest;
    out += rest.slice(0, open);
    const close = rest.indexOf(CLOSE, open + OPEN.length);
    if (close === -1) return out;
    rest = rest.slice(close + CLOSE.length);
  }
}

