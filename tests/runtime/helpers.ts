// Builds small environments around given tool sources, so runtime tests run real sandboxes on code written beside them.
import fc from "fast-check";
import { Environment } from "../../src/schema/index.ts";

export interface ToolSpec {
  source: string;
  /** Input schema; defaults to any object. */
  schema?: Record<string, unknown>;
}

/** A valid environment whose tools are `tools`; the single task is a formality the format requires. */
export function makeEnv(
  tools: Record<string, ToolSpec>,
  options: { prelude?: string; state?: Record<string, unknown>; id?: string; language?: "javascript" | "python" } = {},
): Environment {
  const names = Object.keys(tools);
  const first = names[0]!;
  return Environment.parse({
    format: "envforge/environment@1",
    id: options.id ?? "runtime-test",
    title: "runtime test",
    domain: "test",
    scenario: "single-hop",
    complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
    provenance: { generator: "test", version: "1", seed: 0 },
    tools: names.map((name) => ({
      name,
      description: `The ${name} tool.`,
      input_schema: tools[name]!.schema ?? { type: "object" },
    })),
    implementation: {
      language: options.language ?? "javascript",
      prelude: options.prelude ?? "",
      tools: Object.fromEntries(names.map((n) => [n, tools[n]!.source])),
    },
    initial_state: options.state ?? {},
    tasks: [
      {
        id: "t",
        question: "q?",
        unsolved_set: { [first]: ["x"] },
        answer: "x",
        gold_plan: [{ id: "s1", tool: first, arguments: {}, yields: "x" }],
      },
    ],
  });
}

/** A tool that returns its arguments unchanged. */
export const ECHO: ToolSpec = { source: "function echo(args) { return args; }" };

/** JSON values with the awkward parts over-represented: any double, lone surrogates, escapes, odd keys. */
export const awkwardJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.string({ unit: "binary" }),
    fc.constantFrom("\ud800", "a\udc00b", "\\ud800", "\u0000\u001f\u007f\u2028", '"quoted"', "-1.5e-7", "__proto__"),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("node")),
    fc.dictionary(fc.string({ unit: "binary" }), tie("node")),
  ),
})).node;
