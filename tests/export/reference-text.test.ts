// Row text the reference reads unchanged: arguments as Python's json.dumps (checked against python3 itself), and codes with only the helpers each tool uses.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toolCodes } from "../../src/export/index.ts";
import { pyFloatText, pythonArgumentsText } from "../../src/export/pyjson.ts";
import { loadEnvironments } from "../../src/load/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { awkwardJson } from "../runtime/helpers.ts";

/** python3's own json.dumps(json.loads(text), ensure_ascii=False) for each text, or null where json.loads refuses it. */
function pythonDumps(texts: string[]): (string | null)[] {
  const script = `import json, sys
out = []
for t in json.load(sys.stdin):
    try:
        out.append(json.dumps(json.loads(t), ensure_ascii=False))
    except Exception:
        out.append(None)
sys.stdout.write(json.dumps(out, ensure_ascii=True))`;
  const r = spawnSync("python3", ["-c", script], { input: JSON.stringify(texts), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as (string | null)[];
}

describe("arguments as the reference writes them", () => {
  it("equals python3's json.dumps(json.loads(text), ensure_ascii=False) on awkward JSON and hand-picked texts", () => {
    const texts = [
      '{"title":"Crimson Harbor"}',
      '{"b":1,"1":2,"a":{"x":[1.50,1e5,-0,2E-7,1e400,12345678901234567890]}}',
      '{"x": NaN, "y": -Infinity, "z": Infinity}',
      '{"a":1,"a":2,"b":3}',
      '{"s":"\\ud800 and \\u00e9 and \\u2028 \\n \\u0007 \\/"}',
      "[1]",
      '"just a string"',
      "{bad json}",
      '{"a": 1} trailing',
      '{"a": "raw\ncontrol"}',
      ...fc.sample(awkwardJson, { numRuns: 300, seed: 11 }).map((v) => JSON.stringify(v)),
    ];
    const expected = pythonDumps(texts);
    texts.forEach((t, i) => expect(pythonArgumentsText(t) ?? null, t).toBe(expected[i]));
  });

  it("writes floats as Python's repr does", () => {
    const xs = fc.sample(fc.double({ noNaN: true }), { numRuns: 500, seed: 3 });
    const floatText = (x: number) => (Object.is(x, -0) ? "-0.0" : /[.e]/.test(String(x)) ? String(x) : `${String(x)}.0`);
    const expected = pythonDumps(xs.map((x) => `[${Number.isFinite(x) ? floatText(x) : "0.0"}]`));
    xs.forEach((x, i) => {
      if (Number.isFinite(x)) expect(`[${pyFloatText(x)}]`).toBe(expected[i]);
    });
    expect([0, 0.5, 1, 1 / 3].map(pyFloatText)).toEqual(["0.0", "0.5", "1.0", "0.3333333333333333"]);
  });
});

describe("codes", () => {
  it("gives each tool of the shipped suite only the helpers it uses, and each runs alone exactly as with the whole prelude", async () => {
    const loaded = await loadEnvironments(["environments"]);
    let whole = 0;
    let alone = 0;
    for (const { env } of loaded.environments) {
      const codes = toolCodes(env);
      for (const t of env.tools) {
        whole += env.implementation.prelude.length + env.implementation.tools[t.name]!.length;
        alone += codes[t.name]!.length;
      }
      for (const step of env.tasks.flatMap((t) => t.gold_plan)) {
        const src = env.implementation.tools[step.tool]!;
        const full = new Function(`${env.implementation.prelude}\nreturn (${src});`)() as (a: unknown, s: unknown) => unknown;
        const cut = new Function(`${codes[step.tool]!.slice(0, -src.length)}\nreturn (${src});`)() as (a: unknown, s: unknown) => unknown;
        const run = (f: (a: unknown, s: unknown) => unknown) => {
          try {
            return JSON.stringify(f(structuredClone(step.arguments), structuredClone(env.initial_state)));
          } catch (e) {
            return `error: ${(e as Error).message}`;
          }
        };
        expect(run(cut), `${env.id} ${step.tool}`).toBe(run(full));
      }
    }
    expect(alone).toBeLessThan(whole * 0.6);
  });

  it("cuts a Python prelude into its top-level statements and keeps what a tool reaches", () => {
    const prelude = [
      "import json",
      "from math import floor, ceil as up",
      "RATES = {",
      '    "usd": 1.0,',
      "}",
      "def unused():",
      "    return 1",
      "def norm(s):",
      "    return s.strip().lower()",
      "@staticmethod",
      "def rate(c):",
      "    if c:",
      "        return RATES[norm(c)]",
      "    else:",
      "        return up(0)",
      "try:",
      "    X = 1",
      "except Exception:",
      "    X = 2",
    ].join("\n");
    const env = Environment.parse({
      format: "envforge/environment@1", id: "py", title: "t", domain: "d", scenario: "single-hop",
      complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
      provenance: { generator: "t", version: "1", seed: 0 },
      tools: [{ name: "convert", description: "c", input_schema: { type: "object" } }, { name: "dump", description: "d", input_schema: { type: "object" } }],
      implementation: { language: "python", prelude, tools: { convert: "def convert(currency):\n    return rate(currency)", dump: "def dump(x):\n    return json.dumps(x)" } },
      tasks: [{ id: "t", question: "q", unsolved_set: { convert: ["1"] }, answer: "1", gold_plan: [{ id: "s", tool: "convert", arguments: {}, yields: "1" }] }],
    });
    const codes = toolCodes(env);
    expect(codes.convert).toBe(
      ['from math import floor, ceil as up', 'RATES = {\n    "usd": 1.0,\n}', "def norm(s):\n    return s.strip().lower()", "@staticmethod\ndef rate(c):\n    if c:\n        return RATES[norm(c)]\n    else:\n        return up(0)"].join("\n") +
        "\n\ndef convert(currency):\n    return rate(currency)",
    );
    expect(codes.dump).toBe("import json\n\ndef dump(x):\n    return json.dumps(x)");
  });
});
