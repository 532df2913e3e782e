// Argument checking: messages that name the field, never a throw for any input, and JSON arguments reaching the tool unchanged.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { compileEnvironment, toolOutputText, type CompiledEnvironment, type Episode } from "../../src/runtime/index.ts";
import { awkwardJson, ECHO, makeEnv } from "./helpers.ts";

const SCHEMA = {
  type: "object",
  properties: {
    title: { type: "string", minLength: 2 },
    count: { type: ["integer", "null"], minimum: 1 },
    unit: { enum: ["c", "f"] },
    mode: { const: "fast" },
    email: { type: "string", format: "email" },
    id: { anyOf: [{ type: "string" }, { type: "number" }] },
    when: { oneOf: [{ type: "string", pattern: "^\\d{4}$" }, { type: "object", required: ["year"] }] },
    filters: { type: "array", items: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false } },
    "max results": { type: "integer" },
  },
  required: ["title"],
  additionalProperties: false,
};

let compiled: CompiledEnvironment;
let episode: Episode;

beforeAll(async () => {
  compiled = await compileEnvironment(makeEnv({ strict: { source: ECHO.source, schema: SCHEMA }, echo: ECHO }));
  episode = compiled.openEpisode();
});

async function message(args: unknown): Promise<string> {
  const r = await episode.call("strict", args);
  if (r.ok || r.kind !== "invalid_arguments") throw new Error(`expected invalid_arguments, got ${JSON.stringify(r)}`);
  return r.error;
}

describe("argument messages", () => {
  it.each([
    [{ title: 1 }, 'argument "title" must be string'],
    [{}, 'missing required argument "title"'],
    [{ title: "ok", extra: true }, 'unexpected argument "extra"'],
    [{ title: "x" }, 'argument "title" must NOT have fewer than 2 characters'],
    [{ title: "ok", count: "3" }, 'argument "count" must be integer or null'],
    [{ title: "ok", count: 0 }, 'argument "count" must be >= 1'],
    [{ title: "ok", unit: "k" }, 'argument "unit" must be one of "c", "f"'],
    [{ title: "ok", mode: "slow" }, 'argument "mode" must be "fast"'],
    [{ title: "ok", id: true }, 'argument "id" must be string or number'],
    [{ title: "ok", when: 12 }, 'argument "when" must be string or object'],
    [{ title: "ok", when: "12" }, 'argument "when" must match one of the allowed forms'],
    [{ title: "ok", filters: [{ name: "a" }, {}] }, 'missing required argument "filters[1].name"'],
    [{ title: "ok", filters: [{ name: 3 }] }, 'argument "filters[0].name" must be string'],
    [{ title: "ok", filters: [{ name: "a", x: 1 }] }, 'unexpected argument "filters[0].x"'],
    [{ title: "ok", "max results": 1.5 }, 'argument "max results" must be integer'],
    [{ title: 1, extra: 2 }, 'unexpected argument "extra"; argument "title" must be string'],
    [null, "arguments must be an object"],
  ])("%j -> %s", async (args, expected) => {
    expect(await message(args)).toBe(expected);
  });

  it("tolerates formats it does not check and reports arguments that are not JSON", async () => {
    expect(await episode.call("strict", { title: "ok", email: "not an email" })).toMatchObject({ ok: true });
    expect(await message({ title: 10n })).toMatch(/^arguments are not JSON: .*BigInt/);
    const cyclic: Record<string, unknown> = { title: "ok" };
    cyclic.self = cyclic;
    expect(await message(cyclic)).toMatch(/^arguments are not JSON: .*circular/i);
    expect(await message(() => 1)).toBe("arguments must be an object, not function");
  });

  it("treats missing arguments as an empty object", async () => {
    expect(await episode.call("echo", undefined)).toMatchObject({ ok: true, value: {} });
  });
});

describe("argument properties", () => {
  it("never throws or rejects, whatever the arguments", async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true }), async (args) => {
        const r = await episode.call("strict", args);
        expect(r.ok || r.kind === "invalid_arguments", JSON.stringify(r)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("delivers any JSON object to the tool exactly as JSON would carry it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue()), async (args) => {
        const r = await episode.call("echo", args);
        if (!r.ok) throw new Error(r.error);
        expect(r.value).toEqual(JSON.parse(JSON.stringify(args)));
      }),
      { numRuns: 300 },
    );
  });

  it("shows what a tool returns exactly as toolOutputText shows the value", async () => {
    await fc.assert(
      fc.asyncProperty(awkwardJson, async (value) => {
        const r = await episode.call("echo", { value });
        if (!r.ok) throw new Error(r.error);
        const returned = (r.value as { value: unknown }).value;
        expect(returned).toEqual(JSON.parse(JSON.stringify(value)));
        expect(r.text).toBe(toolOutputText(r.value));
      }),
      { numRuns: 500 },
    );
  });
});
