// The environment the serving benchmarks (serve.ts, ops.ts) call: one read-only lookup tool, like the generated ones.
import { FORMAT, type EnvironmentInput } from "../src/schema/index.ts";

/** A lookup environment like the generated ones: one read-only tool over a table in the state. */
export const LOOKUP_ENV: EnvironmentInput = {
  format: FORMAT,
  id: "bench-lookup",
  title: "Bench lookup",
  domain: "bench",
  scenario: "single-hop",
  complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
  provenance: { generator: "bench", version: "1", seed: 0 },
  tools: [
    {
      name: "get_item",
      description: "Look up an item by id.",
      input_schema: { type: "object", properties: { id: { type: "integer" } }, required: ["id"], additionalProperties: false },
    },
  ],
  implementation: {
    language: "javascript",
    prelude: "",
    tools: { get_item: "function get_item(args, state) { const item = state.items[args.id % state.items.length]; if (!item) throw new Error('no item ' + args.id); return item; }" },
  },
  initial_state: { items: Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 3 })) },
  tasks: [{ id: "t", question: "What is the name of item 7?", unsolved_set: { get_item: ["item 7"] }, answer: "item 7", gold_plan: [{ id: "s1", tool: "get_item", arguments: { id: 7 }, yields: "item 7" }] }],
};
