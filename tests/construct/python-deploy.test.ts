// Python deployment of the procedural tools: it passes the gate with every call byte-identical to the JavaScript twin, a broken twin is caught, and the JavaScript-semantics helpers agree with JavaScript on random input.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { buildRequests, CALC_PARTS_PY, COMMON_PY, gate, generate, planRequest, uniformComplexity, type Built } from "../../src/construct/index.ts";
import { calc } from "../../src/construct/calc.ts";
import { COMMON_SOURCE } from "../../src/construct/engine.ts";
import type { BuildRequest, Environment } from "../../src/schema/index.ts";

/** A spread of scenarios, levels and domains: look-ups, computations (levels 2-3), bookings (hotels) and distractors. */
const REQUESTS: BuildRequest[] = [
  planRequest({ count: 1, seed: 41, scenario: "multi-hop", complexity: uniformComplexity(3), domain: "hotels", language: "python" }, 0),
  planRequest({ count: 1, seed: 42, scenario: "parallel-multi-hop", complexity: uniformComplexity(2), domain: "travel", language: "python" }, 1),
  planRequest({ count: 1, seed: 43, scenario: "parallel-single-hop", complexity: uniformComplexity(3), domain: "retail", language: "python" }, 2),
  planRequest({ count: 1, seed: 44, scenario: "single-hop", complexity: uniformComplexity(1), domain: "geography", language: "python" }, 3),
  // A distractor that rounds (Math.round) in an environment with no arithmetic tool.
  planRequest({ count: 48, seed: 99, language: "python" }, 37),
];

const javascriptOf = (request: BuildRequest): Environment => {
  const { language: _, ...js } = request;
  return generate(js).env;
};

describe("build --language python", () => {
  let built: Built[];
  beforeAll(async () => {
    built = (await buildRequests(REQUESTS)).environments;
  }, 600_000);

  it("deploys Python tools that pass the gate, twin check included", () => {
    expect(built).toHaveLength(REQUESTS.length);
    for (const b of built) {
      expect(b.env.implementation.language).toBe("python");
      expect((b.env.provenance.stages.validate as { checks: string[] }).checks).toContain("twin");
      for (const [name, source] of Object.entries(b.env.implementation.tools)) expect(source).toContain(`def ${name.replace(/-/g, "_")}(data=None, **params):`);
    }
    const prelude = built.map((b) => b.env.implementation.prelude).join("\n");
    for (const engine of ["def ef_lookup(", "def ef_compute(", "def ef_act(", "def ef_side("]) expect(prelude).toContain(engine);
  });

  it("changes nothing but the implementation: tools, state and tasks are the JavaScript build's", () => {
    for (const [i, b] of built.entries()) {
      const js = javascriptOf({ ...REQUESTS[i]!, seed: Number(b.env.provenance.seed) });
      const strip = (e: Environment) => ({ ...e, implementation: null, provenance: { ...e.provenance, stages: { ...e.provenance.stages, validate: null } } });
      expect(strip(b.env)).toEqual(strip(js));
    }
  });

  it("fails the twin check on the first call a broken Python statement answers differently, naming it", async () => {
    const b = built[0]!;
    const js = javascriptOf({ ...REQUESTS[0]!, seed: Number(b.env.provenance.seed) });
    const broken: Environment = { ...b.env, implementation: { ...b.env.implementation, prelude: b.env.implementation.prelude.replace(`'" was found.'`, `'" was not found.'`) } };
    expect(broken.implementation.prelude).not.toBe(b.env.implementation.prelude);
    const report = await gate(broken, {}, { twin: js.implementation });
    expect(report.ok).toBe(false);
    const twins = report.issues.filter((i) => i.check === "twin");
    expect(twins).toHaveLength(1);
    expect(twins[0]!.message).toMatch(/^the python and javascript implementations differ on [\w-]+\(.*\): python failed with ".*was not found\..*", javascript failed with ".*was found\..*"$/);
    // The unbroken pair agrees, and so does the JavaScript environment checked against its Python twin.
    expect((await gate(js, {}, { twin: b.env.implementation })).issues).toEqual([]);
  }, 120_000);

  it("reports a twin whose numbers print differently (a float where JavaScript has an integer)", async () => {
    const b = built.find((x) => x.env.implementation.prelude.includes("def ef_act("))!;
    const unnormalized = b.env.implementation.prelude.replace("return int(v) if v.is_integer()", "return v if v.is_integer()");
    expect(unnormalized).not.toBe(b.env.implementation.prelude);
    const broken: Environment = { ...b.env, implementation: { ...b.env.implementation, prelude: unnormalized } };
    const js = javascriptOf({ ...REQUESTS.find((r) => r.domain === b.env.domain)!, seed: Number(b.env.provenance.seed) });
    const report = await gate(broken, {}, { twin: js.implementation });
    expect(report.issues.filter((i) => i.check === "twin").map((i) => i.message)).toEqual([expect.stringMatching(/\.0\b/)]);
  }, 120_000);
});

/** Calls one Python helper of the prelude on each argument list, in the host's python3. */
function python(fn: string, calls: unknown[][]): unknown[] {
  const program = `${COMMON_PY}\n\n${CALC_PARTS_PY.round}\n\nimport sys\nfor line in sys.stdin:\n    print(json.dumps((${fn})(*json.loads(line))))\n`;
  const r = spawnSync("python3", ["-c", program], { input: calls.map((c) => JSON.stringify(c)).join("\n"), encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

const js = new Function(`${COMMON_SOURCE}\nreturn { ef_norm, ef_hash, ef_distance, ef_isDay, ef_isEmail };`)() as Record<string, (...a: unknown[]) => unknown>;
const WS = ["\t", "\n", "\u000b", "\f", "\r", " ", "\u00a0", "\u1680", "\u2003", "\u2028", "\u202f", "\u3000", "\ufeff", "\u0085", "\u001c"];
const text = fc.array(fc.oneof(fc.string({ unit: "grapheme", maxLength: 6 }), fc.constantFrom(...WS, "@", ".", "-", "2025-01-31", "İ", "ΑΣ")), { maxLength: 6 }).map((p) => p.join(""));
const double = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 8), fc.integer().map((n) => n * 1e-9), fc.constantFrom(1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, 2.5, -2.5, 0.49999999999999994));

describe("Python helpers keep JavaScript's semantics", () => {
  it("String(number) and Math.round", () => {
    fc.assert(
      fc.property(fc.array(double, { minLength: 1, maxLength: 200 }), (xs) => {
        expect(python("ef_num_str", xs.map((x) => [x]))).toEqual(xs.map((x) => String(x)));
        expect(python("lambda x: ef_num_str(ef_round(x))", xs.map((x) => [x]))).toEqual(xs.map((x) => String(Math.round(x))));
        expect(python("lambda x, d: ef_num_str(ef_roundTo(x, d))", xs.map((x, i) => [x, i % 5]))).toEqual(xs.map((x, i) => String(calc.roundTo(x, i % 5))));
      }),
      { numRuns: 15 },
    );
  });

  it("JSON.stringify of JSON values", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 50 }), (vs) => {
        const clean = vs.map((v) => JSON.parse(JSON.stringify(v)) as unknown);
        expect(python("ef_json", clean.map((v) => [v]))).toEqual(clean.map((v) => JSON.stringify(v)));
      }),
      { numRuns: 15 },
    );
  });

  it("normalizing, hashing, edit distance, dates and email shapes over UTF-16", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 60 }), (pairs) => {
        for (const fn of ["ef_norm", "ef_hash", "ef_isDay", "ef_isEmail"]) expect(python(fn, pairs.map(([a]) => [a]))).toEqual(pairs.map(([a]) => js[fn]!(a)));
        expect(python("ef_distance", pairs)).toEqual(pairs.map(([a, b]) => js.ef_distance!(a, b)));
      }),
      { numRuns: 10 },
    );
  });
});
