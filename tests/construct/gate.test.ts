// The validation gate: generated and hand-written environments pass; each kind of defect is caught.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildRequests, gate, planRequest, uniformComplexity, validateEnvironment } from "../../src/construct/index.ts";
import { loadEnvironmentFile } from "../../src/load/index.ts";
import { Environment, SCENARIOS, type EnvironmentInput } from "../../src/schema/index.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../environments/examples/films-director-birth.json");

/** A two-step environment over one `get_info` tool; `source` is its implementation. */
function tiny(source: string, overrides: Partial<EnvironmentInput> = {}): Environment {
  return Environment.parse({
    format: "envforge/environment@1",
    id: "tiny",
    title: "tiny",
    domain: "test",
    scenario: "parallel-single-hop",
    complexity: uniformComplexity(0),
    provenance: { generator: "test", version: "1", seed: 0 },
    tools: [{ name: "get_info", description: "Info by name.", input_schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false } }],
    implementation: { language: "javascript", tools: { get_info: source } },
    initial_state: {
      people: [
        { name: "Ardent Vale", code: "Q-1138", partner: "Bryn Osk" },
        { name: "Bryn Osk", code: "Q-7702", partner: "Ardent Vale" },
        { name: "Cor Ellam", code: "Q-5521", partner: "Ardent Vale" },
      ],
    },
    tasks: [
      {
        id: "codes",
        question: "What are the codes of Ardent Vale and Bryn Osk?",
        unsolved_set: { get_info: ["Q-1138", "Q-7702"] },
        answer: "Q-1138, Q-7702",
        gold_plan: [
          { id: "s1", tool: "get_info", arguments: { name: "Ardent Vale" }, yields: "Q-1138" },
          { id: "s2", tool: "get_info", arguments: { name: "Bryn Osk" }, yields: "Q-7702" },
        ],
      },
    ],
    ...overrides,
  });
}

const GOOD = `function get_info(args, state) {
  const p = state.people.find((r) => r.name.toLowerCase() === String(args.name).trim().toLowerCase());
  if (!p) throw new Error("No person named " + args.name);
  return { name: p.name, code: p.code };
}`;

const checks = async (env: Environment): Promise<string[]> => [...new Set((await gate(env)).issues.map((i) => i.check))].sort();

describe("gate", () => {
  it("passes the hand-written example and a correct tiny environment", async () => {
    const parsed = await loadEnvironmentFile(EXAMPLE);
    if (!parsed.ok) throw new Error("example does not load");
    expect(await validateEnvironment(parsed.env)).toEqual([]);
    const report = await gate(tiny(GOOD));
    expect(report).toMatchObject({ ok: true, issues: [], replayed_steps: 2 });
    expect(report.probes).toBeGreaterThan(10);
  });

  it("passes generated environments of every scenario and level, replaying every step", async () => {
    for (const scenario of SCENARIOS) {
      for (const level of [0, 1, 2, 3]) {
        const { environments } = await buildRequests([planRequest({ count: 1, seed: 40 + level, scenario, complexity: uniformComplexity(level) }, 0)]);
        const env = environments[0]!.env;
        const report = await gate(env);
        expect(report.issues, env.id).toEqual([]);
        expect(report.replayed_steps).toBe(env.tasks.reduce((n, t) => n + t.gold_plan.length, 0));
      }
    }
  });

  it("catches a step that does not yield its sub-answer", async () => {
    const env = tiny(GOOD);
    env.tasks[0]!.gold_plan[1]!.yields = "Q-0000";
    env.tasks[0]!.unsolved_set.get_info = ["Q-1138", "Q-0000"];
    env.tasks[0]!.answer = "Q-1138";
    expect(await checks(env)).toEqual(["replay"]);
  });

  it("catches a final answer no gold output shows", async () => {
    const env = tiny(GOOD);
    env.tasks[0]!.answer = "Q-1138, Q-9999";
    expect(await checks(env)).toEqual(["answer"]);
  });

  it("catches an argument the agent could not know", async () => {
    const env = tiny(GOOD);
    env.tasks[0]!.question = "What are the codes of Ardent Vale and the other one?";
    const issues = (await gate(env)).issues;
    expect(issues.map((i) => i.check)).toEqual(["provenance"]);
    expect(issues[0]!.path).toBe("$.tasks[0].gold_plan[1].arguments");
  });

  it("catches an output that also shows another pending sub-answer", async () => {
    const leaky = GOOD.replace("return { name: p.name, code: p.code };", "const q = state.people.find((r) => r.name === p.partner); return { name: p.name, code: p.code, partner_code: q.code };");
    expect(await checks(tiny(leaky))).toContain("exclusive");
  });

  it("catches an error message that gives the answer away to a misspelled name", async () => {
    const leaky = GOOD.replace('throw new Error("No person named " + args.name);', 'throw new Error("No person named " + args.name + "; known codes: " + state.people.map((r) => r.code).join(" "));');
    const issues = (await gate(tiny(leaky))).issues;
    expect(issues.map((i) => i.check)).toContain("leak");
    expect(issues.find((i) => i.check === "leak")!.message).toMatch(/reveals the sub-answer "Q-/);
  });

  it("catches another row that returns the same answer", async () => {
    // Cor Ellam is not asked about, yet looking him up shows Ardent Vale's code.
    const leaky = GOOD.replace("return { name: p.name, code: p.code };", 'return { name: p.name, code: p.name === "Cor Ellam" ? "Q-1138" : p.code };');
    expect(await checks(tiny(leaky))).toEqual(["leak"]);
  });

  it("catches code that does not compile and tools that crash on odd input", async () => {
    expect(await checks(tiny("function get_info(args, state) { return ; ) }"))).toEqual(["compile"]);
    const crashy = GOOD.replace('if (!p) throw new Error("No person named " + args.name);', "if (!p) { const f = (n) => f(n + 1) + 1; f(0); }");
    expect(await checks(tiny(crashy))).toEqual(["runtime"]);
  });

  it("rejects code that backtracks or loops quadratically on a long string argument", async () => {
    // Both answer the gold calls at once, so only the adversarial probe can tell them from GOOD.
    const redos = GOOD.replace("const p =", 'if (!/^([a-z]+\\s?)+$/i.test(String(args.name))) throw new Error("bad name");\n  const p =');
    const quadratic = GOOD.replace("const p =", "let n = 0; for (const a of String(args.name)) for (const b of String(args.name)) if (a === b) n++;\n  const p =");
    for (const code of [redos, quadratic]) {
      const report = await gate(tiny(code));
      expect(report.issues.map((i) => i.check)).toEqual(["runtime"]);
      expect(report.issues[0]!.message).toMatch(/^get_info with name = .* failed \(timeout\)/);
    }
    // So is the e-mail regex the generator used before ef_isEmail.
    const email = GOOD.replace("const p =", 'if (args.name.includes("@") && !/^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$/.test(args.name)) throw new Error("not an e-mail");\n  const p =');
    expect((await gate(tiny(email))).issues.map((i) => i.message)).toEqual([expect.stringMatching(/name = "a@" \+ "\." x 30000 \+ " " failed \(timeout\)/)]);
  });

  it("reports schema problems before running anything", async () => {
    const env = tiny(GOOD);
    const broken = { ...env, tools: [] } as unknown as Environment;
    const problems = await validateEnvironment(broken, "broken.json");
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.file === "broken.json")).toBe(true);
  });
});
