// FTRL rows in the columns stock verl reads: prompt, data_source, ability, reward_model.ground_truth, and extra_info for the reward function.
import { parquetWriteBuffer, type SchemaElement } from "hyparquet-writer";
import type { FtrlRow } from "../schema/index.ts";
import { FTRL_PARQUET_SCHEMA, messageStruct } from "./parquet.ts";

const utf8 = (name: string): SchemaElement => ({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" });

/** The `messages` subtree of the FTRL schema (the list of message structs), renamed `prompt`. */
function promptSchema(): SchemaElement[] {
  const start = FTRL_PARQUET_SCHEMA.findIndex((e) => e.name === "messages");
  const end = FTRL_PARQUET_SCHEMA.findIndex((e) => e.name === "tools");
  return [{ ...FTRL_PARQUET_SCHEMA[start]!, name: "prompt" }, ...FTRL_PARQUET_SCHEMA.slice(start + 1, end)];
}

/**
 * verl's RLHFDataset reads `prompt` (chat messages) and hands `data_source`,
 * `reward_model.ground_truth` and `extra_info` to the reward function
 * (`compute_score(data_source, solution_str, ground_truth, extra_info)`). The ground truth is
 * the task's final answer; `extra_info` carries the row's state (`unsolved_set`, `solve_rate`),
 * the `tools` and Python-executable `codes`, so the FTRL per-step reward can be computed from
 * the row alone.
 */
export const VERL_PARQUET_SCHEMA: SchemaElement[] = [
  { name: "root", num_children: 5 },
  utf8("data_source"),
  ...promptSchema(),
  utf8("ability"),
  { name: "reward_model", repetition_type: "REQUIRED", num_children: 2 },
  utf8("style"),
  utf8("ground_truth"),
  { name: "extra_info", repetition_type: "REQUIRED", num_children: 7 },
  { name: "index", type: "INT64", repetition_type: "REQUIRED" },
  utf8("split"),
  utf8("unsolved_set"),
  { name: "solve_rate", type: "DOUBLE", repetition_type: "REQUIRED" },
  utf8("tools"),
  utf8("codes"),
  utf8("answer"),
];

export function verlParquet(rows: readonly FtrlRow[]): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: [
      { name: "data_source", data: rows.map((r) => r.data_source) },
      { name: "prompt", data: rows.map((r) => r.messages.map(messageStruct)) },
      { name: "ability", data: rows.map(() => "tool-use") },
      { name: "reward_model", data: rows.map((r) => ({ style: "rule", ground_truth: r.answer })) },
      {
        name: "extra_info",
        data: rows.map((r, i) => ({ index: BigInt(i), split: r.split, unsolved_set: r.unsolved_set, solve_rate: r.solve_rate, tools: r.tools, codes: r.codes, answer: r.answer })),
      },
    ],
    schema: VERL_PARQUET_SCHEMA,
    createdBy: "envforge export",
  });
}
