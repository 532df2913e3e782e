// The message helpers every layer counts with: plurals and file sizes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plural, size } from "../../src/schema/index.ts";

describe("plural", () => {
  it("is singular for exactly one", () => {
    expect(plural(1, "problem")).toBe("1 problem");
    expect(plural(0, "problem")).toBe("0 problems");
    expect(plural(2, "environment")).toBe("2 environments");
    expect(plural(1, "match", "matches")).toBe("1 match");
    expect(plural(3, "match", "matches")).toBe("3 matches");
  });

  it("puts the count first and picks the form by it alone", () => {
    fc.assert(
      fc.property(fc.nat(), (n) => {
        const text = plural(n, "session");
        expect(text).toBe(`${n} ${n === 1 ? "session" : "sessions"}`);
      }),
    );
  });
});

describe("size", () => {
  it("writes decimal units with three significant digits", () => {
    expect(size(0)).toBe("0 B");
    expect(size(999)).toBe("999 B");
    expect(size(1000)).toBe("1.00 KB");
    expect(size(2_800_000)).toBe("2.80 MB");
    expect(size(1_210_000_000)).toBe("1.21 GB");
    expect(size(999_999)).toBe("1.00 MB");
  });

  it("reads back within half a unit of the third digit", () => {
    const scale: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (bytes) => {
        const [value, unit] = size(bytes).split(" ");
        const back = Number(value) * scale[unit!]!;
        expect(Math.abs(back - bytes)).toBeLessThanOrEqual(Math.max(0.5, bytes * 0.005));
        if (unit !== "TB") expect(Number(value)).toBeLessThan(1000);
      }),
    );
  });
});
