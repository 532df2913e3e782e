// Python deployment of the procedural tools: it passes the gate with every call byte-identical to the JavaScript twin, a broken twin is caught, and the JavaScript-semantics helpers agree with JavaScript on random input.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { buildRequests, buildWrite, buildWriteSuite, CALC_PARTS_PY, COMMON_PY, gate, generate, generateWrites, planRequest, uniformComplexity, writeSuiteRequests, type Built, type WriteBuilt } from "../../src/construct/index.ts";
import { calc } from "../../src/construct/calc.ts";
import { COMMON_SOURCE } from "../../src/construct/engine.ts";
import { WRITE_PY } from "../../src/construct/engine-py.ts";
import { WRITE_PRELUDE } from "../../src/construct/write-source.ts";
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

describe("build --language python, write environments", () => {
  let python: WriteBuilt[];
  beforeAll(async () => {
    python = await buildWriteSuite(undefined, "python");
  }, 600_000);

  it("deploys every write environment of the suite as Python that passes the gate, twin and final-state checks included", () => {
    expect(python).toHaveLength(writeSuiteRequests().length);
    for (const b of python) {
      expect(b.env.implementation.language).toBe("python");
      expect((b.env.provenance.stages.validate as { checks: string[] }).checks).toEqual(expect.arrayContaining(["twin", "state"]));
      for (const [name, source] of Object.entries(b.env.implementation.tools)) expect(source).toContain(`def ${name}(data=None, **params):`);
    }
  });

  it("changes nothing but the implementation: same candidates, tools, states, final states and tasks as the JavaScript build", async () => {
    for (const [i, request] of writeSuiteRequests().entries()) {
      const js = await buildWrite(request);
      const strip = (e: Environment) => ({ ...e, implementation: null, provenance: { ...e.provenance, stages: { ...e.provenance.stages, validate: null } } });
      expect(strip(python[i]!.env)).toEqual(strip(js.env));
      expect([python[i]!.candidates, python[i]!.rejected]).toEqual([js.candidates, js.rejected]);
    }
  }, 300_000);

  it("fails the twin check when a Python write changes the state differently, even where its outputs agree", async () => {
    const b = python.find((x) => x.env.tasks.some((t) => t.id.endsWith("-cancel")))!;
    const js = generateWrites({ ...writeSuiteRequests().find((r) => b.env.id.startsWith(`${r.domain}-`) && b.env.scenario === r.scenario && b.env.id.includes(`-write${r.index}-`))!, seed: Number(b.env.provenance.seed) });
    // A cancellation that gives no seats back: its output is the same, only the venue's availability differs.
    const prelude = b.env.implementation.prelude.replace(`    v["available"] += b["quantity"]\n    b["status"] = "cancelled"`, `    b["status"] = "cancelled"`);
    expect(prelude).not.toBe(b.env.implementation.prelude);
    const report = await gate({ ...b.env, implementation: { ...b.env.implementation, prelude } }, {}, { twin: js.implementation });
    // The calls that show availability (a look-up after a cancellation) differ too; the final-state check says so on its own.
    const twins = report.issues.filter((i) => i.check === "twin").map((i) => i.message);
    expect(twins.filter((m) => m.startsWith("the final-state check differs"))).toEqual([expect.stringMatching(/^the final-state check differs on (the gold plan|the near miss "[\w-]+" of step s\d+): python \{.*\}, javascript \{.*\}$/)]);
    expect(twins.length).toBeLessThanOrEqual(2);
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

/** Random calls of the write engines on one world, in order, in the host's python3 and in JavaScript: each output (or error) as JSON text, the state after each call included. */
describe("Python write engines keep JavaScript's semantics", () => {
  const env = generateWrites(writeSuiteRequests().find((r) => r.domain === "retail" && r.scenario === "parallel-multi-hop")!);
  const state = env.initial_state as unknown as { venues: { name: string }[]; bookings: { id: string; customer: string; date: string }[] };
  const cfg = { venue: "product", booking: "order", idArg: "order_id", prefix: "RO", qty: "units", price: "unit_price", available: "in_stock" };
  const engines = ["ew_find", "ew_get", "ew_cancel", "ew_change", "ew_return", "ew_create"];
  const value = fc.oneof(text, fc.integer({ min: -2, max: 70 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom("", "  ", "2026-02-30", "2026-13-01", "RO-1", 2 ** 60, 1e21, 0.5, null, true, [1], { a: 1 }));
  /** Mostly a value the world knows (in another case, padded), sometimes anything. */
  const known = (xs: string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...xs).chain((x) => fc.constantFrom(x, ` ${x.toUpperCase()}\u00a0`)) }, { weight: 1, arbitrary: value });
  const args = fc.record(
    {
      customer: known(state.bookings.map((b) => b.customer)),
      product: known(state.venues.map((v) => v.name)),
      order_id: known(state.bookings.map((b) => b.id)),
      units: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 9 }) }, { weight: 1, arbitrary: value }),
      date: known(state.bookings.map((b) => b.date)),
    },
    { requiredKeys: [] },
  );
  const calls = fc.array(fc.tuple(fc.constantFrom(...engines), args), { minLength: 1, maxLength: 25 });

  const jsRun = (seq: [string, Record<string, unknown>][]): string[] => {
    const engine = new Function(`${WRITE_PRELUDE}\nreturn { ${engines.join(", ")} };`)() as Record<string, (a: unknown, s: unknown, c: unknown) => unknown>;
    const s = JSON.parse(JSON.stringify(state));
    return seq.map(([fn, a]) => {
      try {
        return `${JSON.stringify(engine[fn]!(JSON.parse(JSON.stringify(a)), s, cfg))} ${JSON.stringify(s)}`;
      } catch (err) {
        return `! ${(err as Error).message}`;
      }
    });
  };
  const pyRun = (seqs: [string, Record<string, unknown>][][]): string[][] => {
    const program = `${COMMON_PY}\n\n${WRITE_PY}\n\nimport sys\nfor line in sys.stdin:\n    state, cfg, seq = json.loads(line)\n    out = []\n    for fn, a in seq:\n        try:\n            out.append(ef_json(ef_out(globals()[fn](ef_in(a), state, cfg))) + " " + ef_json(ef_out(state)))\n        except ValueError as e:\n            out.append("! " + str(e))\n    print(json.dumps(out))\n`;
    const r = spawnSync("python3", ["-c", program], { input: seqs.map((seq) => JSON.stringify([state, cfg, seq])).join("\n"), encoding: "utf8", maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as string[]);
  };

  it("look-ups, cancellations, changes, returns and new bookings give the same outputs, errors and states", () => {
    fc.assert(
      fc.property(fc.array(calls, { minLength: 1, maxLength: 20 }), (seqs) => {
        expect(pyRun(seqs)).toEqual(seqs.map(jsRun));
      }),
      { numRuns: 10 },
    );
  });
});
