// Reading exports back in tests: Parquet rows compared with the JSON rows they came from.
import { parquetReadObjects } from "hyparquet";
import { expect } from "vitest";
import type { FtrlRow } from "../../src/schema/index.ts";

/** Parquet gives every struct field, null where a message has none; drop those to compare with the JSON rows. */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, withoutNulls(v)]));
  }
  return value;
}

export async function readParquet(buffer: ArrayBuffer): Promise<Record<string, unknown>[]> {
  return (await parquetReadObjects({ file: buffer })) as Record<string, unknown>[];
}

export function sameRows(read: Record<string, unknown>[], rows: readonly FtrlRow[]): void {
  expect(withoutNulls(read)).toEqual(withoutNulls(rows));
}
