// FTRL rows as a Parquet file for verl and TRL: messages as a nested list of structs, the JSON fields as UTF8 strings, solve_rate as DOUBLE.
import { parquetWriteBuffer, type SchemaElement } from "hyparquet-writer";
import type { FtrlRow } from "../schema/index.ts";

const utf8 = (name: string, required = true): SchemaElement => ({
  name,
  type: "BYTE_ARRAY",
  converted_type: "UTF8",
  repetition_type: required ? "REQUIRED" : "OPTIONAL",
});

/**
 * The file's schema. `messages` is a LIST of message structs, the shape verl's RLHFDataset
 * hands to `apply_chat_template` (the FTRL fork reads `messages` that way and `tools` with
 * `json.loads`). Fields a message lacks (a user message's `tool_calls`) are nulls.
 */
export const FTRL_PARQUET_SCHEMA: SchemaElement[] = [
  { name: "root", num_children: 8 },
  { name: "messages", repetition_type: "REQUIRED", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "REQUIRED", num_children: 4 },
  utf8("role"),
  utf8("content", false),
  { name: "tool_calls", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "REQUIRED", num_children: 3 },
  utf8("id"),
  utf8("type"),
  { name: "function", repetition_type: "REQUIRED", num_children: 2 },
  utf8("name"),
  utf8("arguments"),
  utf8("tool_call_id", false),
  utf8("tools"),
  utf8("codes"),
  utf8("unsolved_set"),
  { name: "solve_rate", type: "DOUBLE", repetition_type: "REQUIRED" },
  utf8("data_source"),
  utf8("split"),
  utf8("answer"),
];

/** A message with every struct field present (null where it has none), as the Parquet schema wants. */
export function messageStruct(m: FtrlRow["messages"][number]): Record<string, unknown> {
  return {
    role: m.role,
    content: m.content ?? null,
    tool_calls: m.role === "assistant" && m.tool_calls ? m.tool_calls.map((tc) => ({ id: tc.id, type: tc.type, function: { name: tc.function.name, arguments: tc.function.arguments } })) : null,
    tool_call_id: m.role === "tool" ? m.tool_call_id : null,
  };
}

/** A nullable list of nullable lists of `type`: one list per assistant message (null where a turn has no tokens). */
const listOfLists = (name: string, type: "INT32" | "DOUBLE"): SchemaElement[] => [
  { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
  { name: "list", repetition_type: "REPEATED", num_children: 1 },
  { name: "element", type, repetition_type: "REQUIRED" },
];

/** The token columns, present only when some row carries tokens (token ids fit INT32: vocabularies are far smaller). */
export const TOKEN_COLUMNS_SCHEMA: SchemaElement[] = [...listOfLists("token_ids", "INT32"), ...listOfLists("logprobs", "DOUBLE")];

/** Encodes FTRL rows as Parquet bytes (snappy pages, one row group per 100,000 rows after the first 1,000). */
export function ftrlParquet(rows: readonly FtrlRow[]): ArrayBuffer {
  const tokens = rows.some((r) => r.token_ids !== undefined);
  const column = <K extends keyof FtrlRow>(name: K) => ({ name, data: rows.map((r) => r[name]) });
  return parquetWriteBuffer({
    columnData: [
      { name: "messages", data: rows.map((r) => r.messages.map(messageStruct)) },
      column("tools"),
      column("codes"),
      column("unsolved_set"),
      column("solve_rate"),
      column("data_source"),
      column("split"),
      column("answer"),
      ...(tokens ? [{ name: "token_ids", data: rows.map((r) => r.token_ids ?? null) }, { name: "logprobs", data: rows.map((r) => r.logprobs ?? null) }] : []),
    ],
    schema: tokens ? [{ ...FTRL_PARQUET_SCHEMA[0]!, num_children: 10 }, ...FTRL_PARQUET_SCHEMA.slice(1), ...TOKEN_COLUMNS_SCHEMA] : FTRL_PARQUET_SCHEMA,
    createdBy: "envforge export",
  });
}
