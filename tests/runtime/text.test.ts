// toolOutputText against outputs of Python's json.dumps(value, ensure_ascii=False), and properties of its number format.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatCallError, toolOutputText } from "../../src/runtime/index.ts";
import { pythonTextOfJson } from "../../src/runtime/text.ts";
import { awkwardJson } from "./helpers.ts";

/** Each expected string was printed by CPython 3 for the same value (a float wherever JavaScript's number is not a safe integer). */
const PYTHON: [unknown, string][] = [
  [1e16, "1e+16"],
  [1.5e-7, "1.5e-07"],
  [0.0001, "0.0001"],
  [1e-5, "1e-05"],
  [-0, "-0.0"],
  [1e21, "1e+21"],
  [1e22, "1e+22"],
  [123456789012345.6, "123456789012345.6"],
  [0.1 + 0.2, "0.30000000000000004"],
  [5e-324, "5e-324"],
  [1.7976931348623157e308, "1.7976931348623157e+308"],
  [2 ** 53, "9007199254740992.0"],
  [2 ** 53 + 2, "9007199254740994.0"],
  [1e100, "1e+100"],
  [-1.25e-10, "-1.25e-10"],
  [3.14, "3.14"],
  [-2.5, "-2.5"],
  [1234567.125, "1234567.125"],
  [0.000123, "0.000123"],
  [9.999999999999999e22, "1e+23"],
  [[NaN, Infinity, -Infinity], "[NaN, Infinity, -Infinity]"],
  [42, "42"],
  [-7, "-7"],
  [null, "null"],
  [true, "true"],
  [[], "[]"],
  [{}, "{}"],
  [
    { a: [], b: {}, c: [1, { d: null, e: true }], é: "ü\u2028\u007f\u0000\u001f\"\\/\b\f\n\r\t", emoji: "😀", lone: "\ud800x\udc00" },
    '{"a": [], "b": {}, "c": [1, {"d": null, "e": true}], "é": "ü\u2028\u007f\\u0000\\u001f\\"\\\\/\\b\\f\\n\\r\\t", "emoji": "😀", "lone": "\ud800x\udc00"}',
  ],
];

describe("toolOutputText", () => {
  it.each(PYTHON)("writes %o as Python does", (value, python) => {
    expect(toolOutputText(value)).toBe(python);
  });

  it("returns strings as they are, even ones that look like JSON", () => {
    expect(toolOutputText('{"a": 1}')).toBe('{"a": 1}');
    expect(toolOutputText("")).toBe("");
  });

  it("names the path of a value that is not JSON", () => {
    expect(() => toolOutputText({ a: [1, undefined] })).toThrow(/\$\.a\[1\] is undefined/);
    expect(() => toolOutputText({ f: () => 1 })).toThrow(/\$\.f is function/);
    expect(() => toolOutputText(10n)).toThrow(/\$ is bigint/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = { again: cyclic };
    expect(() => toolOutputText(cyclic)).toThrow(/\$\.self\.again refers to itself/);
  });

  it("handles nesting far deeper than the host's stack would allow a recursive writer", () => {
    let deep: unknown = [];
    for (let i = 0; i < 30_000; i++) deep = [deep];
    const text = toolOutputText(deep);
    expect(text.length).toBe(60_002);
    expect(text.startsWith("[[[")).toBe(true);
  });

  it("keeps the same value: the text of anything but a string parses back to it", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = toolOutputText(value);
        if (typeof value === "string") expect(text).toBe(value);
        else expect(JSON.parse(text)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it("differs from JSON.stringify only by Python's separators when there are no floats or lone surrogates", () => {
    const scalar = fc.oneof(fc.string({ unit: "grapheme" }), fc.integer(), fc.boolean(), fc.constant(null));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, scalar, fc.array(tie("node")), fc.dictionary(fc.string({ unit: "grapheme" }), tie("node"))),
    })).node;
    fc.assert(
      fc.property(fc.array(value), (arr) => {
        expect(toolOutputText(arr)).toBe(JSON.stringify(arr, null, 1).replace(/\n */g, (_gap, offset: number, s: string) => pythonGap(s, offset)));
      }),
      { numRuns: 100 },
    );
  });

  it("writes every double in Python's float format: shortest round-trip digits, exponent form outside 1e-4..1e16", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = toolOutputText(x);
        expect(Number(text)).toBe(x);
        if (Number.isSafeInteger(x) && !Object.is(x, -0)) {
          expect(text).toBe(String(x));
          return;
        }
        const match = /^-?(?:(\d+)\.(\d+)|(\d)(?:\.(\d+))?e([+-])(\d{2,3}))$/.exec(text);
        expect(match, text).not.toBeNull();
        const magnitude = x === 0 ? 0 : Math.floor(Math.log10(Math.abs(x)));
        const scientific = match![3] !== undefined;
        // log10 is inexact at exact powers of ten, so only decide well inside each range.
        if (magnitude < -5 || magnitude > 16) expect(scientific, text).toBe(true);
        if (magnitude > -4 && magnitude < 15) expect(scientific, text).toBe(false);
        const digits = scientific ? match![3]! + (match![4] ?? "") : (match![1]! + match![2]!).replace(/^0+/, "").replace(/0+$/, "") || "0";
        expect(digits.length, text).toBeLessThanOrEqual(17);
        expect(shortestDigits(x), text).toBe(digits.length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("pythonTextOfJson", () => {
  it("gives toolOutputText's text straight from JSON.stringify's output (strings aside: they are shown as they are)", () => {
    fc.assert(
      fc.property(awkwardJson.filter((v) => typeof v !== "string"), (value) => {
        const json = JSON.stringify(value);
        expect(pythonTextOfJson(json)).toBe(toolOutputText(JSON.parse(json)));
      }),
      { numRuns: 1000 },
    );
  });

  it.each(PYTHON.filter(([v]) => JSON.stringify(v) === JSON.stringify(JSON.parse(JSON.stringify(v))) && !Object.is(v, -0)).filter(([v]) => !(Array.isArray(v) && v.some((x) => typeof x === "number" && !Number.isFinite(x)))))(
    "writes the JSON of %o as Python does",
    (value, python) => {
      expect(pythonTextOfJson(JSON.stringify(value))).toBe(python);
    },
  );
});

/** Python puts one space after "," and ":" where JSON.stringify(v, null, 1) puts a newline and indentation, and none inside "[]"/"{}". */
function pythonGap(s: string, offset: number): string {
  const before = s[offset - 1];
  return before === "," ? " " : "";
}

/** How many significant digits the shortest round-tripping form of x has, found by search. */
function shortestDigits(x: number): number {
  if (x === 0) return 1;
  for (let p = 1; p <= 17; p++) if (Number(x.toPrecision(p)) === x) return p;
  return 17;
}

describe("formatCallError", () => {
  it("keeps the reference's wording, typo included", () => {
    expect(formatCallError("get_film", "No film titled \"X\" was found.")).toBe('an error occured when call get_film: No film titled "X" was found.');
  });
});
