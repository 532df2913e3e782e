// FTRL rows survive a Parquet round trip: nested messages, UTF8 strings, solve_rate as DOUBLE.
import { parquetMetadata } from "hyparquet";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ftrlParquet } from "../../src/export/index.ts";
import type { ChatMessage, FtrlRow } from "../../src/schema/index.ts";
import { readParquet, sameRows } from "./helpers.ts";

const message: fc.Arbitrary<ChatMessage> = fc.oneof(
  fc.record({ role: fc.constant("user" as const), content: fc.string() }),
  fc.record({ role: fc.constant("tool" as const), content: fc.string(), tool_call_id: fc.string({ minLength: 1 }) }),
  fc.record({
    role: fc.constant("assistant" as const),
    content: fc.option(fc.string(), { nil: null }),
    tool_calls: fc.array(fc.record({ id: fc.string({ minLength: 1 }), type: fc.constant("function" as const), function: fc.record({ name: fc.string({ minLength: 1 }), arguments: fc.string() }) }), { minLength: 1, maxLength: 3 }),
  }),
);

const row: fc.Arbitrary<FtrlRow> = fc.record({
  messages: fc.array(message, { minLength: 1, maxLength: 6 }),
  tools: fc.json(),
  codes: fc.json(),
  unsolved_set: fc.json(),
  solve_rate: fc.double({ min: 0, max: 1, noNaN: true }),
  data_source: fc.string(),
  split: fc.constantFrom("train", "test"),
  answer: fc.string(),
});

describe("ftrlParquet", () => {
  it("reads back equal to the rows it was given", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 20 }), async (rows) => {
        sameRows(await readParquet(ftrlParquet(rows)), rows);
      }),
      { numRuns: 60 },
    );
  });

  it("types strings as UTF8, solve_rate as DOUBLE, and messages as a list", () => {
    const rows: FtrlRow[] = [{ messages: [{ role: "user", content: "Zürich?" }], tools: "[]", codes: "{}", unsolved_set: "{}", solve_rate: 0.5, data_source: "d", split: "train", answer: "a" }];
    const meta = parquetMetadata(ftrlParquet(rows));
    const byName = new Map(meta.schema.map((s) => [s.name, s]));
    expect(meta.schema.filter((s) => s.type !== undefined).map((s) => s.name)).toEqual(["role", "content", "id", "type", "name", "arguments", "tool_call_id", "tools", "codes", "unsolved_set", "solve_rate", "data_source", "split", "answer"]);
    for (const name of ["tools", "codes", "unsolved_set", "data_source", "split", "answer", "role"]) expect(byName.get(name)).toMatchObject({ type: "BYTE_ARRAY", converted_type: "UTF8" });
    expect(byName.get("solve_rate")).toMatchObject({ type: "DOUBLE" });
    expect(byName.get("messages")).toMatchObject({ converted_type: "LIST" });
    expect(Number(meta.num_rows)).toBe(1);
  });
});
