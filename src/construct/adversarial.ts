// The gate's adversarial probe: every string parameter of every tool gets long inputs shaped to make
// backtracking regular expressions and quadratic loops blow up, so such code is rejected at build time
// instead of freezing an episode (a 30,000-character argument cost one generated tool 9-10 s).

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { type?: unknown; enum?: unknown; const?: unknown; properties?: Record<string, Schema>; items?: Schema; maxLength?: unknown };

/** Long enough that anything quadratic in the input needs seconds; linear code answers in about a millisecond. */
export const ADVERSARIAL_LENGTH = 30_000;

/**
 * Inputs in the "prefix, pump repeated, suffix that fails the match" shape that makes backtracking
 * regexes super-linear: `(a+)+$`, e-mail and host names (`x@` then dots), trimming (`\s+$`), numbers,
 * dotted tokens, and words with separators.
 */
export function adversarialStrings(n = ADVERSARIAL_LENGTH): { label: string; value: string }[] {
  const pump = (label: string, prefix: string, unit: string, suffix: string) => ({
    label,
    value: prefix + unit.repeat(Math.ceil(n / unit.length)) + suffix,
  });
  return [
    pump(`"a" x ${n} + "!"`, "", "a", "!"),
    pump(`"a@" + "." x ${n} + " "`, "a@", ".", " "),
    pump(`" " x ${n} + "x"`, "", " ", "x"),
    pump(`"0" x ${n} + "x"`, "", "0", "x"),
    pump(`"a." x ${n / 2} + "@"`, "", "a.", "@"),
    pump(`"a-" x ${n / 2} + "\\n"`, "", "a-", "\n"),
  ];
}

/** Where a schema takes free text: its own place, or inside object properties and array items (first item). */
export function stringPaths(schema: Schema, path: (string | number)[] = [], depth = 0, out: (string | number)[][] = []): (string | number)[][] {
  if (depth > 4 || !schema || typeof schema !== "object") return out;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  // Fixed vocabularies and short limits are enforced before the tool runs; the tool never sees a long string there.
  if (types.includes("string") && schema.enum === undefined && schema.const === undefined && !(typeof schema.maxLength === "number" && schema.maxLength < 1000)) {
    if (path.length > 0) out.push(path);
  }
  if (types.includes("object") && schema.properties) for (const [k, s] of Object.entries(schema.properties)) stringPaths(s, [...path, k], depth + 1, out);
  if (types.includes("array") && schema.items) stringPaths(schema.items, [...path, 0], depth + 1, out);
  return out;
}

/** A copy of `base` with `value` at `path`, making the objects and arrays on the way when `base` lacks them. */
export function withValueAt(base: Json, path: readonly (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (typeof head === "number") {
    const list = Array.isArray(base) ? [...base] : [];
    list[head] = withValueAt(list[head] ?? null, rest, value);
    return list;
  }
  const obj = base && typeof base === "object" && !Array.isArray(base) ? { ...base } : {};
  obj[head!] = withValueAt(obj[head!] ?? null, rest, value);
  return obj;
}

/** Every adversarial call for one tool: the base arguments with one string parameter replaced at a time. */
export function adversarialCalls(inputSchema: object, base: Record<string, Json>, n = ADVERSARIAL_LENGTH): { param: string; label: string; args: Record<string, Json> }[] {
  const strings = adversarialStrings(n);
  return stringPaths(inputSchema as Schema).flatMap((path) =>
    strings.map((s) => ({ param: path.join("."), label: s.label, args: withValueAt(base, path, s.value) as Record<string, Json> })),
  );
}
