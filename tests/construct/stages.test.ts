// Each construction stage on its contract: typed outputs, the scenario shapes, merging and scaling rules.
import { describe, expect, it } from "vitest";
import { planRequest, uniformComplexity } from "../../src/construct/plan.ts";
import { decompose } from "../../src/construct/decompose.ts";
import { deploy } from "../../src/construct/deploy.ts";
import { document } from "../../src/construct/document.ts";
import { integrate } from "../../src/construct/integrate.ts";
import { generate } from "../../src/construct/pipeline.ts";
import { LEVELS, scale } from "../../src/construct/scale.ts";
import { verify, normalize } from "../../src/score/index.ts";
import { BuildRequest, Decomposition, Documentation, Environment, Integration, Scaling, DOMAINS, SCENARIOS, STRATEGIES, type Scenario } from "../../src/schema/index.ts";

const request = (scenario: Scenario, level: number, seed: number, domain = DOMAINS[seed % DOMAINS.length]!): BuildRequest => ({
  id: `test-${scenario}-${level}-${seed}`,
  seed,
  domain,
  scenario,
  complexity: uniformComplexity(level),
  tasks: 3,
});

const SEEDS = [3, 17, 41, 99, 123, 2024];

describe("decompose", () => {
  it("writes tasks of each scenario's shape, with consistent facts", () => {
    for (const scenario of SCENARIOS) {
      for (const seed of SEEDS) {
        const d = Decomposition.parse(decompose(request(scenario, 0, seed)));
        expect(d.tasks).toHaveLength(3);
        for (const task of d.tasks) {
          const subs = task.sub_questions;
          const ids = subs.map((s) => s.id);
          if (scenario === "single-hop") expect(subs).toHaveLength(1);
          if (scenario === "parallel-single-hop") {
            expect(subs.length).toBeGreaterThanOrEqual(2);
            expect(subs.length).toBeLessThanOrEqual(4);
            for (const s of subs) expect(s.depends_on).toEqual([]);
            // An action's sub-answer pairs its total with the guest; the final answer lists the totals.
            expect(task.answer).toBe(subs.map((s) => (s.need.kind === "action" ? s.answer.split(", ")[0] : s.answer)).join(", "));
          }
          if (scenario === "multi-hop") {
            expect(subs.length).toBeGreaterThanOrEqual(2);
            expect(subs.length).toBeLessThanOrEqual(4);
            subs.forEach((s, i) => expect(s.depends_on).toEqual(i === 0 ? [] : [ids[i - 1]]));
            expect(task.answer).toBe(subs[subs.length - 1]!.answer);
          }
          if (scenario === "parallel-multi-hop") {
            const last = subs[subs.length - 1]!;
            expect(["compare", "aggregate", "sort", "subtract", "date_diff"]).toContain(last.need.kind);
            expect(last.depends_on.length).toBeGreaterThanOrEqual(2);
            expect(last.depends_on.length).toBeLessThanOrEqual(4);
          }
          // Every lookup reads a row that is in the knowledge, and its answer is that row's value.
          for (const s of subs) {
            if (s.need.kind !== "lookup") continue;
            const need = s.need;
            const table = d.knowledge.tables[need.table]!;
            const row = table.rows.find((r) => r[table.key] === need.key);
            expect(row, `${need.table}/${need.key}`).toBeDefined();
            expect(String(row![need.field])).toBe(s.answer);
          }
          // No sub-answer contains another, so substring matching cannot mix them up.
          for (const a of subs) for (const b of subs) if (a !== b) expect(verify(a.answer, b.answer), `${a.answer} / ${b.answer}`).toBe(false);
        }
        expect(new Set(d.tasks.map((t) => t.question)).size).toBe(3);
      }
    }
  });

  it("chains follow relations: each hop's key is the previous hop's answer", () => {
    for (const seed of SEEDS) {
      const d = decompose(request("multi-hop", 0, seed));
      for (const task of d.tasks) {
        task.sub_questions.forEach((s, i) => {
          if (i === 0 || s.need.kind !== "lookup") return;
          expect(s.need.key).toBe(task.sub_questions[i - 1]!.answer);
        });
      }
    }
  });

  it("is deterministic in its seed", () => {
    const r = request("parallel-multi-hop", 2, 77);
    expect(JSON.stringify(decompose(r))).toBe(JSON.stringify(decompose(r)));
    expect(JSON.stringify(decompose({ ...r, seed: 78 }))).not.toBe(JSON.stringify(decompose(r)));
  });

  it("covers every domain", () => {
    for (const domain of DOMAINS) {
      const d = decompose(request("multi-hop", 0, 5, domain));
      expect(d.request.domain).toBe(domain);
      expect(Object.keys(d.knowledge.tables).length).toBeGreaterThan(0);
    }
  });
});

describe("document", () => {
  it("writes one document per sub-question, whose call answers it", () => {
    for (const scenario of SCENARIOS) {
      const d = decompose(request(scenario, 0, 11));
      const doc = Documentation.parse(document(d));
      const subs = d.tasks.flatMap((t) => t.sub_questions);
      expect(doc.tools).toHaveLength(subs.length);
      expect(new Set(doc.tools.map((t) => t.name)).size).toBe(doc.tools.length);
      for (const task of d.tasks) expect(doc.calls[task.id]!.map((c) => c.step)).toEqual(task.sub_questions.map((s) => s.id));
      for (const t of doc.tools) {
        expect(t.behavior.kind === "lookup" ? t.behavior.field : "fixed").not.toBeNull();
        expect(t.params.every((p) => !p.loose && p.shape === "scalar" || p.role === "items" || p.role === "values")).toBe(true);
      }
    }
  });
});

describe("integrate", () => {
  it("merges overlapping documents, n -> m <= n, and the calls follow the merged names", () => {
    let merged = 0;
    for (const seed of SEEDS) {
      for (const scenario of SCENARIOS) {
        const d = decompose(request(scenario, 0, seed));
        const doc = document(d);
        const integ = Integration.parse(integrate(d, doc));
        expect(integ.tools.length).toBeLessThanOrEqual(doc.tools.length);
        const names = new Set(integ.tools.map((t) => t.name));
        for (const m of integ.merges) {
          expect(names.has(m.into)).toBe(true);
          merged += m.from.length - 1;
        }
        // Every document either survives or went into a merge.
        for (const t of doc.tools) expect(names.has(t.name) || integ.merges.some((m) => m.from.includes(t.name))).toBe(true);
        for (const calls of Object.values(integ.calls)) for (const c of calls) expect(names.has(c.tool)).toBe(true);
        // No two tools left do the same thing.
        const behaviors = integ.tools.map((t) => JSON.stringify(t.behavior));
        expect(new Set(behaviors).size).toBe(behaviors.length);
      }
    }
    expect(merged).toBeGreaterThan(0);
  });

  it("turns per-attribute lookups of one record type into one tool with a field parameter", () => {
    const d = decompose(request("parallel-single-hop", 0, 8, "films"));
    const integ = integrate(d, document(d));
    const fields = new Set(d.tasks.flatMap((t) => t.sub_questions.map((s) => (s.need.kind === "lookup" ? s.need.field : ""))));
    if (fields.size > 1) {
      const film = integ.tools.find((t) => t.behavior.kind === "lookup" && t.behavior.tables[0] === "films")!;
      expect(film.behavior).toMatchObject({ field: null });
      expect(film.params.some((p) => p.role === "field")).toBe(true);
    }
  });
});

describe("scale", () => {
  it("applies each strategy by its level", () => {
    for (const level of [0, 1, 2, 3]) {
      for (const scenario of SCENARIOS) {
        const d = decompose(request(scenario, level, 31 + level));
        const s = Scaling.parse(scale(d, integrate(d, document(d))));
        const [near, comp, other] = LEVELS.toolset_extension[level]!;
        expect(s.distractors.length).toBe(near + comp + other);
        const distractorNames = new Set(s.distractors.map((x) => x.name));
        const used = new Set(Object.values(s.calls).flatMap((cs) => cs.map((c) => c.tool)));
        for (const n of distractorNames) expect(used.has(n)).toBe(false);
        for (const t of s.tools) {
          expect(t.params.filter((p) => p.option).length).toBe(LEVELS.parameter_expansion[level]);
          const vocab = t.params.filter((p) => ["field", "kind", "order", "op", "operation", "from", "to"].includes(p.role));
          for (const p of vocab) expect("enum" in p.schema, `${t.name}.${p.name}`).toBe(level === 0);
          const key = t.params.find((p) => p.role === "key");
          if (key) expect(key.shape).toBe(level >= 3 ? "list" : level === 2 ? "object" : "scalar");
          if (level >= 1 && t.behavior.kind === "compute" && !distractorNames.has(t.name)) expect(t.behavior.fixed).toEqual({});
          if (level >= 1 && t.behavior.kind === "lookup") expect(t.behavior.field).toBeNull();
        }
        const lookups = s.tools.filter((t) => t.behavior.kind === "lookup" && !distractorNames.has(t.name));
        if (level >= 2 && Object.keys(d.knowledge.tables).length > 1) expect(lookups).toHaveLength(1);
        const computes = s.tools.filter((t) => t.behavior.kind === "compute" && !distractorNames.has(t.name));
        if (level === 3) for (const c of computes) expect(c.behavior.kind === "compute" && c.behavior.ops.length).toBe(8);
        expect(s.operations.map((o) => o.strategy).sort()).toEqual(level === 0 ? [] : [...STRATEGIES].sort());
      }
    }
  });
});

describe("deploy", () => {
  it("writes a valid environment whose gold plan matches its unsolved sets", () => {
    for (const level of [0, 1, 2, 3]) {
      for (const scenario of SCENARIOS) {
        const r = request(scenario, level, 500 + level);
        const d = decompose(r);
        const s = scale(d, integrate(d, document(d)));
        const env = Environment.parse(deploy(d, s));
        expect(env.id).toBe(r.id);
        expect(Object.keys(env.implementation.tools).sort()).toEqual(env.tools.map((t) => t.name).sort());
        for (const src of Object.values(env.implementation.tools)) expect(src).toMatch(/^function [A-Za-z_][A-Za-z0-9_]*\(args, state\) \{/);
        for (const t of env.tools) expect(t.input_schema.additionalProperties).toBe(false);
        for (const table of Object.keys(d.knowledge.tables)) expect(env.initial_state[table]).toEqual(d.knowledge.tables[table]!.rows);
        const stateful = s.tools.some((t) => t.behavior.kind === "action");
        expect("counters" in env.initial_state).toBe(stateful);
      }
    }
  });

  it("records every stage in the provenance", () => {
    const { env } = generate(planRequest({ count: 1, seed: 9 }, 2), undefined, true);
    expect(Object.keys(env.provenance.stages)).toEqual(["decompose", "document", "integrate", "scale", "deploy"]);
    const integ = env.provenance.stages.integrate as { n: number; m: number };
    expect(integ.m).toBeLessThanOrEqual(integ.n);
  });
});

describe("questions", () => {
  it("vary in wording: many distinct openings across a build", () => {
    const openings = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const { env } = generate(planRequest({ count: 64, seed: 4 }, i));
      for (const t of env.tasks) openings.add(normalize(t.question).split(" ").slice(0, 2).join(" "));
    }
    expect(openings.size).toBeGreaterThan(40);
  });
});
