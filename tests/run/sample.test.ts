// Random arguments are valid for their schema (checked by Ajv), and a seed replays the same draws.
import { Ajv } from "ajv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadEnvironments } from "../../src/load/index.ts";
import { hashSeed, Rng } from "../../src/run/rng.ts";
import { sampleArguments } from "../../src/run/sample.ts";

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });

/** Schemas built from the keywords the sampler understands. */
const scalar = fc.oneof(
  fc.record({ type: fc.constant("string"), minLength: fc.integer({ min: 0, max: 5 }), maxLength: fc.integer({ min: 5, max: 12 }) }),
  fc.record({ type: fc.constant("integer"), minimum: fc.integer({ min: -50, max: 0 }), maximum: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ type: fc.constant("number"), exclusiveMinimum: fc.integer({ min: -5, max: 0 }), exclusiveMaximum: fc.integer({ min: 1, max: 5 }) }),
  fc.constant({ type: "boolean" }),
  fc.constant({ type: ["string", "null"] }),
  fc.record({ enum: fc.uniqueArray(fc.oneof(fc.string(), fc.integer()), { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) }) }),
  fc.constant({ type: "string", format: "date" }),
  fc.record({ const: fc.string() }),
);
const schema = fc.letrec<{ node: object }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    scalar,
    fc.record({ type: fc.constant("array"), items: tie("node"), minItems: fc.integer({ min: 0, max: 2 }), maxItems: fc.integer({ min: 2, max: 4 }) }),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), tie("node"), { maxKeys: 4 }).map((properties) => ({
      type: "object",
      properties,
      required: Object.keys(properties).filter((_, i) => i % 2 === 0),
      additionalProperties: false,
    })),
    fc.record({ anyOf: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
  ),
})).node;

describe("sampleArguments", () => {
  it("draws values every generated schema accepts", () => {
    fc.assert(
      fc.property(schema, fc.integer(), (s, seed) => {
        const wrapped = { type: "object", properties: { x: s }, required: ["x"], additionalProperties: false };
        const args = sampleArguments(wrapped, new Rng(seed), { words: ["Crimson Harbor", "film"] });
        const valid = ajv.validate(wrapped, args);
        if (!valid) throw new Error(`${JSON.stringify(args)} fails ${JSON.stringify(wrapped)}: ${ajv.errorsText()}`);
      }),
      { numRuns: 300 },
    );
  });

  it("draws valid arguments for every tool of the example environments", async () => {
    const { environments } = await loadEnvironments([new URL("../../environments/examples", import.meta.url).pathname]);
    expect(environments.length).toBeGreaterThan(0);
    const rng = new Rng("examples");
    for (const { env } of environments) {
      for (const tool of env.tools) {
        const validate = ajv.compile(tool.input_schema);
        for (let i = 0; i < 50; i++) {
          const args = sampleArguments(tool.input_schema, rng);
          expect(validate(args), `${tool.name} ${JSON.stringify(args)}`).toBe(true);
        }
      }
    }
  });

  it("replays the same draws for the same seed", () => {
    const s = { type: "object", properties: { a: { type: "string" }, b: { type: "number" }, c: { type: "array", items: { type: "integer" } } } };
    const draw = (seed: string) => Array.from({ length: 5 }, (_, i) => sampleArguments(s, new Rng(`${seed}:${i}`)));
    expect(draw("x")).toEqual(draw("x"));
    expect(draw("x")).not.toEqual(draw("y"));
  });
});

describe("Rng", () => {
  it("stays in range and covers it", () => {
    const rng = new Rng(42);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(3, 7);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(7);
      seen.add(v);
      const u = rng.next();
      expect(u >= 0 && u < 1).toBe(true);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  it("hashes strings to distinct seeds", () => {
    expect(hashSeed("a/b/random/0")).not.toBe(hashSeed("a/b/random/1"));
    expect(hashSeed("same")).toBe(hashSeed("same"));
  });
});
