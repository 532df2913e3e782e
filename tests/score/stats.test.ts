// Statistics of rollout groups: hand-computed values, printed t tables, and properties of GRPO and pass@k.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { confidenceInterval, grpoAdvantages, GRPO_EPSILON, mean, passAtK, sampleStd, tCdf, tQuantile } from "../../src/score/stats.ts";

const choose = (n: number, k: number): bigint => {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
};

describe("mean and sample std", () => {
  it("match hand-computed values", () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(sampleStd([7])).toBe(0);
    expect(Number.isNaN(mean([]))).toBe(true);
  });
});

describe("t distribution", () => {
  it("gives the two-sided 95% quantiles of printed tables", () => {
    const table: [number, number][] = [
      [1, 12.7062047],
      [2, 4.3026527],
      [4, 2.7764451],
      [9, 2.2621572],
      [29, 2.0452296],
      [120, 1.9799304],
    ];
    for (const [df, t] of table) expect(tQuantile(0.975, df)).toBeCloseTo(t, 6);
    expect(tQuantile(0.975, 1e7)).toBeCloseTo(1.959964, 5);
    expect(tQuantile(0.025, 4)).toBeCloseTo(-2.7764451, 6);
    expect(tQuantile(0.5, 3)).toBe(0);
  });

  it("inverts the CDF", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.integer({ min: 1, max: 500 }), (p, df) => {
        expect(tCdf(tQuantile(p, df), df)).toBeCloseTo(p, 8);
      }),
    );
  });

  it("rejects probabilities outside (0, 1)", () => {
    expect(() => tQuantile(1, 3)).toThrow(RangeError);
    expect(() => tQuantile(0.9, 0)).toThrow(RangeError);
  });
});

describe("confidence interval", () => {
  it("uses t(0.975, n-1) · s / √n", () => {
    const ci = confidenceInterval([1, 2, 3, 4]);
    const half = (3.182446305 * Math.sqrt(5 / 3)) / 2;
    expect(ci.n).toBe(4);
    expect(ci.mean).toBe(2.5);
    expect(ci.half_width).toBeCloseTo(half, 6);
    expect(ci.low).toBeCloseTo(2.5 - half, 6);
    expect(ci.high).toBeCloseTo(2.5 + half, 6);
  });

  it("has no bounds for a single value and zero width for constant values", () => {
    expect(confidenceInterval([0.3])).toMatchObject({ n: 1, mean: 0.3, half_width: null, low: null, high: null });
    expect(confidenceInterval([1, 1, 1]).half_width).toBe(0);
  });

  it("always contains the mean, and widens at a higher level", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 40 }), (xs) => {
        const ci = confidenceInterval(xs);
        expect(ci.low!).toBeLessThanOrEqual(ci.mean);
        expect(ci.high!).toBeGreaterThanOrEqual(ci.mean);
        expect(confidenceInterval(xs, 0.99).half_width!).toBeGreaterThanOrEqual(ci.half_width!);
      }),
    );
  });
});

describe("GRPO advantages (verl compute_grpo_outcome_advantage)", () => {
  it("match hand-computed values", () => {
    // mean 0.25, sample std 0.5
    const adv = grpoAdvantages([1, 0, 0, 0]);
    expect(adv[0]).toBeCloseTo(0.75 / (0.5 + GRPO_EPSILON), 12);
    expect(adv[1]).toBeCloseTo(-0.25 / (0.5 + GRPO_EPSILON), 12);
    expect(grpoAdvantages([0.7])).toEqual([0.7 / (1 + GRPO_EPSILON)]);
    expect(grpoAdvantages([1, 1, 1])).toEqual([0, 0, 0]);
    expect(grpoAdvantages([1, 0], GRPO_EPSILON, false)).toEqual([0.5, -0.5]);
  });

  it("sum to about zero in every group of two or more", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 64 }), (rs) => {
        const sum = grpoAdvantages(rs).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum)).toBeLessThan(1e-6 * rs.length);
      }),
    );
  });

  it("keep the order of the rewards", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 16 }), (rs) => {
        const adv = grpoAdvantages(rs);
        for (let i = 0; i < rs.length; i++) for (let j = 0; j < rs.length; j++) if (rs[i]! > rs[j]!) expect(adv[i]!).toBeGreaterThanOrEqual(adv[j]!);
      }),
    );
  });
});

describe("pass@k (Chen et al. 2021)", () => {
  it("matches hand-computed values", () => {
    expect(passAtK(5, 2, 1)).toBeCloseTo(0.4, 12);
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    expect(passAtK(5, 0, 3)).toBe(0);
    expect(passAtK(5, 5, 1)).toBe(1);
    expect(passAtK(5, 2, 4)).toBe(1);
  });

  const nck = fc.integer({ min: 1, max: 30 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }), fc.integer({ min: 1, max: n })));

  it("equals 1 - C(n-c,k)/C(n,k) computed exactly", () => {
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        const exact = 1 - Number(choose(n - c, k)) / Number(choose(n, k));
        expect(passAtK(n, c, k)).toBeCloseTo(exact, 9);
      }),
    );
  });

  it("is monotone in k and in c", () => {
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        const p = passAtK(n, c, k);
        if (k < n) expect(passAtK(n, c, k + 1)).toBeGreaterThanOrEqual(p - 1e-12);
        if (c < n) expect(passAtK(n, c + 1, k)).toBeGreaterThanOrEqual(p - 1e-12);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("rejects impossible counts", () => {
    expect(() => passAtK(3, 4, 1)).toThrow(RangeError);
    expect(() => passAtK(3, 1, 0)).toThrow(RangeError);
    expect(() => passAtK(3, 1, 4)).toThrow(RangeError);
  });
});
