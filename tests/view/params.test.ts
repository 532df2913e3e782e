// Property tests for the viewer's two parsers of untrusted input: the HTML escaper and the query-string parser.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EPISODE_SORTS } from "../../src/store/index.ts";
import { EpisodeStatus, SCENARIOS } from "../../src/schema/index.ts";
import { esc, html, ParamError, parseParams, queryString, type ListParams } from "../../src/view/index.ts";

const unescape = (s: string): string => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e]!);

describe("html escaping", () => {
  it("leaves no markup character of a value unescaped, and loses nothing", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const out = html`<td title="${s}">${s}</td>`.text;
        const inner = out.slice('<td title="'.length, out.length - "</td>".length);
        const [attr, text] = inner.split('">');
        expect(attr).toBe(text);
        expect(text).not.toMatch(/[<>"']/);
        expect(unescape(text!)).toBe(s);
      }),
    );
  });

  it("inserts nested markup once and never double-escapes it", () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 5 }), (items) => {
        const out = html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`.text;
        expect(out).toBe(`<ul>${items.map((i) => `<li>${esc(i)}</li>`).join("")}</ul>`);
      }),
    );
  });
});

const listParams: fc.Arbitrary<ListParams> = fc.record({
  filters: fc.record(
    {
      // "recorded" is the default and leaves the query string: only the other value round-trips as itself.
      source: fc.constant("imported" as const),
      env: fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/),
      task: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() === s && s !== ""),
      model: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() === s && s !== "" && !s.includes(",")),
      client: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() === s && s !== ""),
      scenario: fc.constantFrom(...SCENARIOS),
      complexity: fc.integer({ min: 0, max: 3 }),
      status: fc.uniqueArray(fc.constantFrom(...EpisodeStatus.options), { minLength: 1 }),
      minScore: fc.double({ min: 0, max: 0.5, noNaN: true }),
      maxScore: fc.double({ min: 0.5, max: 1, noNaN: true }),
    },
    { requiredKeys: [] },
  ),
  mode: fc.constantFrom("ftrl" as const, "strict" as const),
  sort: fc.constantFrom(...EPISODE_SORTS),
  dir: fc.constantFrom("asc" as const, "desc" as const),
  page: fc.integer({ min: 1, max: 100_000 }),
  perPage: fc.integer({ min: 1, max: 500 }),
  groupsPage: fc.integer({ min: 1, max: 1000 }),
  includeEmpty: fc.boolean(),
});

describe("query parameters", () => {
  it("reads back every set of parameters it writes", () => {
    fc.assert(
      fc.property(listParams, (p) => {
        expect(parseParams(new URLSearchParams(queryString(p)))).toEqual(p);
      }),
    );
  });

  it("turns any query string into parameters or a ParamError, never anything else", () => {
    const keys = fc.constantFrom("env", "task", "model", "status", "min_score", "max_score", "sort", "dir", "page", "per_page", "complexity", "scenario", "mode", "x");
    fc.assert(
      fc.property(fc.array(fc.tuple(keys, fc.string({ maxLength: 12 })), { maxLength: 6 }), (pairs) => {
        const q = new URLSearchParams(pairs);
        try {
          const p = parseParams(q);
          expect(p.page).toBeGreaterThanOrEqual(1);
          expect(p.perPage).toBeLessThanOrEqual(500);
          if (p.filters.minScore !== undefined) expect(p.filters.minScore).toBeGreaterThanOrEqual(0);
        } catch (err) {
          expect(err).toBeInstanceOf(ParamError);
        }
      }),
    );
  });

  it("treats blank fields as absent, as a submitted form sends them", () => {
    expect(parseParams(new URLSearchParams("env=&task=%20&status=&min_score=&sort=score"))).toMatchObject({ filters: {}, sort: "score" });
  });
});
