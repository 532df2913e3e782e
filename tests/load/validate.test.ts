// Loading and `validate`: JSON syntax errors at line:column, every problem of a file (a schema error hides no cross-field check), and gate findings in words.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { findJsonSyntaxError } from "../../src/load/json.ts";
import { formatProblem, loadEnvironments, parseEnvironmentText } from "../../src/load/index.ts";
import { memoryIo } from "../helpers/io.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../environments/examples/films-director-birth.json");
const TEMP = mkdtempSync(join(tmpdir(), "envforge-validate-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

const example = (): Record<string, any> => JSON.parse(readFileSync(EXAMPLE, "utf8"));

async function validate(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const m = memoryIo({ cwd: TEMP });
  const code = await main(["validate", ...argv], m.io);
  return { code, out: m.out(), err: m.err() };
}

describe("JSON syntax errors", () => {
  it("name the line and column, and lead with file:line:column", () => {
    const text = '{\n  "id": "x",\n  "title": "y",,\n}';
    const parsed = parseEnvironmentText(text, "bad.json");
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(1);
    const [p] = parsed.problems;
    expect(p).toMatchObject({ line: 3, column: 16 });
    expect(formatProblem(p!)).toBe('bad.json:3:16: not valid JSON at line 3, column 16: expected a property name in double quotes, found ","');
  });

  it.each([
    ['{"a": 1,}', 1, 9, "a comma before }"],
    ['[1, 2,]', 1, 7, "a comma before ]"],
    ['{"a": "x', 1, 7, "never closed"],
    ['{"a": tru}', 1, 10, "expected true, found \"}\""],
    ['{"a": 1}\n}', 2, 1, "after the end of the JSON value"],
    ["", 1, 1, "expected a value, found the end of the text"],
    ['{"a": "line\nbreak"}', 1, 12, "a line break inside a string"],
    ['{"a": 01}', 1, 8, "expected , or }"],
  ])("%j is at %i:%i (%s)", (text, line, column, words) => {
    const at = findJsonSyntaxError(text);
    expect(at).toMatchObject({ line, column });
    expect(at!.message).toContain(words);
  });

  it("finds an error exactly when JSON.parse throws (any JSON, and mutations of it)", () => {
    const accepts = (text: string): boolean => {
      try {
        JSON.parse(text);
        return true;
      } catch {
        return false;
      }
    };
    const mutated = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom("delete", "insert", "replace"), fc.constantFrom(...'{}[],:"\\ \n0-.eE+tfnu\u0001a'.split("")))
      .map(([json, at, op, ch]) => {
        const i = json.length === 0 ? 0 : at % json.length;
        return op === "delete" ? json.slice(0, i) + json.slice(i + 1) : op === "insert" ? json.slice(0, i) + ch + json.slice(i) : json.slice(0, i) + ch + json.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), mutated, fc.string()), (text) => {
        const error = findJsonSyntaxError(text);
        expect(error === null).toBe(accepts(text));
        if (error) {
          expect(error.offset).toBeGreaterThanOrEqual(0);
          expect(error.offset).toBeLessThanOrEqual(text.length);
          expect(text.slice(0, error.offset).split("\n").length).toBe(error.line);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("a file with a schema error and cross-field problems", () => {
  it("reports all of them", async () => {
    const env = example();
    env.tools[1].description = 5; // schema: not a string
    env.tasks[0].gold_plan[1].tool = "get_persn"; // cross-field: unknown tool
    env.tasks[1].unsolved_set.get_person = ["Port Calder", "1958"]; // cross-field: the gold plan yields one, not two
    const file = join(TEMP, "three.json");
    writeFileSync(file, JSON.stringify(env, null, 2));
    const { problems } = await loadEnvironments([file]);
    expect(problems.map((p) => `${p.path}: ${p.message}`).sort()).toEqual([
      '$.tasks[0].gold_plan[1].tool: unknown tool "get_persn"',
      '$.tasks[0].unsolved_set.get_persn: gold plan yields ["1961"] for "get_persn" but unsolved_set expects []',
      '$.tasks[0].unsolved_set.get_person: gold plan yields [] for "get_person" but unsolved_set expects ["1961"]',
      '$.tasks[1].unsolved_set.get_person: gold plan yields ["Port Calder"] for "get_person" but unsolved_set expects ["1958","Port Calder"]',
      "$.tools[1].description: Invalid input: expected string, received number",
    ]);
  });

  it("does not guess at references when a tool's name cannot be read", async () => {
    const env = example();
    env.tools[1].name = 7;
    const file = join(TEMP, "unnamed.json");
    writeFileSync(file, JSON.stringify(env));
    const { problems } = await loadEnvironments([file]);
    // Only the schema error: "unknown tool get_person" would be noise, the tool is there under a bad name.
    expect(problems.map((p) => p.path)).toEqual(["$.tools[1].name"]);
  });
});

describe("envforge validate", () => {
  it("says in words what a broken gold step does, counts in the singular, and notes the files the gate could not run", async () => {
    const env = example();
    env.tasks[0].unsolved_set.get_person = ["1962"];
    env.tasks[0].gold_plan[1].yields = "1962";
    env.tasks[0].answer = "1962";
    writeFileSync(join(TEMP, "wrong-year.json"), JSON.stringify(env));
    writeFileSync(join(TEMP, "syntax.json"), '{"format": "envforge/environment@1",\n "id": }');
    const { code, out, err } = await validate("wrong-year.json", "syntax.json");
    expect(code).toBe(1);
    expect(err).toContain('wrong-year.json: $.tasks[0].gold_plan[1]: replay: gold step s2 (get_person) should solve "1962", but its output solves no sub-answer (ftrl reward)');
    expect(err).toContain("replay: replaying the gold plan reaches solve_rate 0.5 and solve_precision 0.5 (ftrl reward); both must be 1");
    expect(err).toContain('answer: the final answer\'s piece "1962" appears in no gold step\'s output');
    expect(err).toMatch(/syntax\.json:2:8: not valid JSON at line 2, column 8: expected a value, found "}"/);
    expect(err).not.toMatch(/solved null/);
    expect(out).toMatch(/^0 environments valid \(0 tasks\), \d+ problems; the validation gate did not run on 1 file that did not load/);
  });

  it("says 1 environment, 2 tasks and 0 problems for the example", async () => {
    const { code, out } = await validate(EXAMPLE);
    expect(code).toBe(0);
    expect(out).toBe("1 environment valid (2 tasks), 0 problems\n");
  });
});
