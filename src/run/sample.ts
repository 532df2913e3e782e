// Draws random values that satisfy a tool's JSON Schema, for the random policy.
import type { Rng } from "./rng.ts";

type Schema = Record<string, unknown>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isSchema = (v: unknown): v is Schema => v !== null && typeof v === "object" && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export interface SampleOptions {
  /** Words a string may be drawn from (the random policy passes the question's words: what an agent sees). */
  words?: readonly string[];
  /** How deep objects and arrays may nest before only scalars are drawn. */
  maxDepth?: number;
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomWord(rng: Rng, min: number, max: number): string {
  let s = "";
  const n = rng.int(min, max);
  for (let i = 0; i < n; i++) s += ALPHABET[rng.int(0, ALPHABET.length - 1)];
  return s;
}

const pad2 = (n: number): string => String(n).padStart(2, "0");

function formatted(format: string, rng: Rng): string | undefined {
  const date = `${rng.int(1900, 2030)}-${pad2(rng.int(1, 12))}-${pad2(rng.int(1, 28))}`;
  switch (format) {
    case "date":
      return date;
    case "date-time":
      return `${date}T${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}Z`;
    case "time":
      return `${pad2(rng.int(0, 23))}:${pad2(rng.int(0, 59))}:${pad2(rng.int(0, 59))}Z`;
    case "email":
      return `${randomWord(rng, 3, 8)}@example.com`;
    case "uri":
    case "url":
      return `https://example.com/${randomWord(rng, 3, 8)}`;
    case "uuid": {
      const hex = (n: number): string => Array.from({ length: n }, () => "0123456789abcdef"[rng.int(0, 15)]).join("");
      return `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
    }
    default:
      return undefined;
  }
}

function sampleString(schema: Schema, rng: Rng, options: SampleOptions): string {
  const minLength = num(schema.minLength) ?? 0;
  const maxLength = num(schema.maxLength) ?? Math.max(minLength, 24);
  const format = typeof schema.format === "string" ? formatted(schema.format, rng) : undefined;
  const words = options.words ?? [];
  let s = format ?? (words.length > 0 && rng.chance(0.7) ? rng.pick(words) : randomWord(rng, 1, 10));
  while (s.length < minLength) s += randomWord(rng, 1, minLength - s.length);
  return [...s].length > maxLength ? [...s].slice(0, maxLength).join("") : s;
}

function sampleNumber(schema: Schema, rng: Rng, integer: boolean): number {
  let lo = num(schema.minimum) ?? -1000;
  let hi = num(schema.maximum) ?? Math.max(lo, 0) + 1000;
  const exLo = num(schema.exclusiveMinimum);
  const exHi = num(schema.exclusiveMaximum);
  if (exLo !== undefined) lo = Math.max(lo, integer ? Math.floor(exLo) + 1 : exLo);
  if (exHi !== undefined) hi = Math.min(hi, integer ? Math.ceil(exHi) - 1 : exHi);
  if (num(schema.minimum) === undefined && exLo === undefined) lo = Math.min(lo, hi - 1000);
  if (integer) return rng.int(Math.ceil(lo), Math.floor(hi));
  const step = num(schema.multipleOf);
  if (step !== undefined) return step * rng.int(Math.ceil(lo / step), Math.floor(hi / step));
  // Two decimals, kept strictly inside exclusive bounds.
  const x = Math.round((lo + rng.next() * (hi - lo)) * 100) / 100;
  if ((exLo !== undefined && x <= exLo) || (exHi !== undefined && x >= exHi)) return (lo + hi) / 2;
  return Math.min(hi, Math.max(lo, x));
}

function typesOf(schema: Schema): string[] {
  if (typeof schema.type === "string") return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === "string");
  if (isSchema(schema.properties)) return ["object"];
  if (schema.items !== undefined || schema.prefixItems !== undefined) return ["array"];
  return ["string"];
}

/** A value valid for `schema` (keywords: type, enum, const, anyOf/oneOf, allOf of objects, formats, bounds, items, properties). */
export function sampleValue(schema: unknown, rng: Rng, options: SampleOptions = {}, depth = 0): Json {
  if (!isSchema(schema)) return randomWord(rng, 1, 10);
  if (schema.const !== undefined) return schema.const as Json;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum) as Json;
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = schema[key];
    if (Array.isArray(branches) && branches.length > 0) {
      const { [key]: _, ...rest } = schema;
      return sampleValue({ ...rest, ...(rng.pick(branches) as Schema) }, rng, options, depth);
    }
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const { allOf, ...rest } = schema;
    const merged: Schema = { ...rest };
    for (const part of allOf.filter(isSchema)) {
      Object.assign(merged, part, {
        properties: { ...(merged.properties as Schema | undefined), ...(part.properties as Schema | undefined) },
        required: [...((merged.required as string[] | undefined) ?? []), ...((part.required as string[] | undefined) ?? [])],
      });
    }
    return sampleValue(merged, rng, options, depth);
  }
  const types = typesOf(schema);
  const maxDepth = options.maxDepth ?? 3;
  // Prefer a non-null type; containers only while there is depth left.
  const usable = types.filter((t) => t !== "null" && (depth < maxDepth || (t !== "object" && t !== "array")));
  const type = usable.length > 0 ? rng.pick(usable) : types[0]!;
  switch (type) {
    case "null":
      return null;
    case "boolean":
      return rng.chance(0.5);
    case "integer":
      return sampleNumber(schema, rng, true);
    case "number":
      return sampleNumber(schema, rng, false);
    case "array": {
      const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
      const minItems = Math.max(num(schema.minItems) ?? 0, prefix.length);
      const maxItems = Math.max(minItems, num(schema.maxItems) ?? minItems + 3);
      const n = rng.int(minItems, Math.min(maxItems, minItems + 3));
      const out: Json[] = [];
      for (let i = 0; i < n; i++) out.push(sampleValue(i < prefix.length ? prefix[i] : schema.items, rng, options, depth + 1));
      if (schema.uniqueItems === true) return [...new Map(out.map((v) => [JSON.stringify(v), v])).values()];
      return out;
    }
    case "object": {
      const properties = isSchema(schema.properties) ? schema.properties : {};
      const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []);
      const out: { [key: string]: Json } = {};
      for (const [name, sub] of Object.entries(properties)) {
        if (required.has(name) || rng.chance(0.5)) out[name] = sampleValue(sub, rng, options, depth + 1);
      }
      return out;
    }
    default:
      return sampleString(schema, rng, options);
  }
}

/** Random arguments for a tool: always an object, as MCP requires. */
export function sampleArguments(inputSchema: unknown, rng: Rng, options: SampleOptions = {}): Record<string, Json> {
  const value = sampleValue(isSchema(inputSchema) ? { ...inputSchema, type: "object" } : { type: "object" }, rng, options);
  return isSchema(value) ? (value as Record<string, Json>) : {};
}
