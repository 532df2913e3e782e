// Matching and consuming: normalize/verify against the reference rules, and the tracker's invariants under random episodes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EpisodeTracker, normalize, pyStrip, scoreEpisode, verify } from "../../src/score/index.ts";
import type { ExecutedCall, Turn, UnsolvedSet } from "../../src/schema/index.ts";

// Final sigma is the one context-sensitive lower-casing rule (in Python as in JS): "ΑΣ" alone
// lowers to "ας" but inside "ΑΣΑ" to "ασα", so substrings do not survive it. Leave it out.
const text = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replaceAll("Σ", ""));
const asciiText = fc.string({ unit: "grapheme-ascii", maxLength: 30 });

describe("normalize", () => {
  it("lower-cases, removes every comma and strips Python whitespace", () => {
    expect(normalize("  Elena, VASTROVA \n")).toBe("elena vastrova");
    expect(normalize("1,234")).toBe("1234");
    // Python strips U+001C-U+001F and U+0085 and keeps U+FEFF; JS trim() does the opposite.
    expect(normalize("\x1cA\x85")).toBe("a");
    expect(normalize("\ufeffA")).toBe("\ufeffa");
  });

  it("is idempotent and never leaves a comma or outer whitespace", () => {
    fc.assert(
      fc.property(text, (s) => {
        const n = normalize(s);
        expect(normalize(n)).toBe(n);
        expect(n).not.toContain(",");
        expect(pyStrip(n)).toBe(n);
      }),
    );
  });
});

describe("verify", () => {
  it("follows the reference on hand cases", () => {
    expect(verify('{"result": "1,234"}', "1234")).toBe(true);
    expect(verify("Elena Vastrova was born in 1961", "1961, elena vastrova")).toBe(true);
    expect(verify("Elena Vastrova", "1961, Elena Vastrova")).toBe(false);
    // Only ", " splits: "a,b" is one piece, normalized to "ab".
    expect(verify("ab", "a,b")).toBe(true);
    expect(verify("a b", "a,b")).toBe(false);
    // An empty golden piece is in every output, as in the reference.
    expect(verify("anything", "")).toBe(true);
  });

  it("holds whenever the golden occurs in the output", () => {
    fc.assert(
      fc.property(text, text, text, (before, piece, after) => {
        expect(verify(before + piece + after, piece)).toBe(true);
      }),
    );
  });

  it("ignores case and commas in the output", () => {
    fc.assert(
      fc.property(asciiText, asciiText, fc.array(fc.boolean(), { maxLength: 60 }), (output, golden, flips) => {
        const recased = [...output].map((ch, i) => (flips[i % Math.max(flips.length, 1)] ? ch.toUpperCase() : ch.toLowerCase())).join("");
        const commas = recased.replace(/(.)/g, (ch, _c, i: number) => (flips[i % Math.max(flips.length, 1)] ? `${ch},` : ch));
        expect(verify(commas, golden)).toBe(verify(output, golden));
        expect(verify(output, golden.toUpperCase())).toBe(verify(output, golden));
      }),
    );
  });

  it('splits the golden on ", ": a joined golden needs every part', () => {
    fc.assert(
      fc.property(text, text, text, (output, a, b) => {
        expect(verify(output, `${a}, ${b}`)).toBe(verify(output, a) && verify(output, b));
      }),
    );
  });
});

const toolName = fc.constantFrom("get_a", "get_b", "get_c");
const token = fc.constantFrom("Paris", "1961", "Elena Vastrova", "1,234", "tokyo", "");
const unsolvedSet: fc.Arbitrary<UnsolvedSet> = fc.dictionary(toolName, fc.array(token.chain((t) => fc.constantFrom(t, `${t}, Paris`)), { maxLength: 3 }));
const call: fc.Arbitrary<ExecutedCall> = fc.record({
  name: toolName,
  arguments: fc.dictionary(fc.constantFrom("q", "x"), token),
  output: fc.array(token, { maxLength: 3 }).map((ts) => `result: ${ts.join(" and ")}`),
  is_error: fc.option(fc.boolean(), { nil: undefined }),
});
const mode = fc.constantFrom("ftrl" as const, "strict" as const);

const count = (set: UnsolvedSet): number => Object.values(set).reduce((n, l) => n + l.length, 0);
const multiset = (xs: string[]): string[] => [...xs].sort();

describe("consuming", () => {
  it("solves at most one sub-answer per call, and only one of the called tool", () => {
    fc.assert(
      fc.property(unsolvedSet, fc.array(call, { maxLength: 12 }), mode, (set, calls, m) => {
        const tracker = new EpisodeTracker(set, m);
        for (const c of calls) {
          const before = tracker.pending();
          const solved = tracker.solved;
          const got = tracker.record(c);
          expect(tracker.solved - solved).toBe(got === null ? 0 : 1);
          if (got !== null) {
            expect(before[c.name]).toContain(got);
            expect(verify(c.output, got)).toBe(true);
            for (const [name, list] of Object.entries(tracker.pending())) if (name !== c.name) expect(list).toEqual(before[name]);
          }
        }
      }),
    );
  });

  it("keeps solved + pending = needed, and what was solved plus what is pending is what was asked", () => {
    fc.assert(
      fc.property(unsolvedSet, fc.array(call, { maxLength: 12 }), mode, (set, calls, m) => {
        const original = structuredClone(set);
        const tracker = new EpisodeTracker(set, m);
        const solved = calls.map((c) => tracker.record(c)).filter((x): x is string => x !== null);
        expect(tracker.needed).toBe(count(original));
        expect(tracker.solved + tracker.pendingCount).toBe(tracker.needed);
        expect(count(tracker.pending())).toBe(tracker.pendingCount);
        expect(multiset([...solved, ...Object.values(tracker.pending()).flat()])).toEqual(multiset(Object.values(original).flat()));
        expect(set).toEqual(original);
        expect(tracker.calls).toBe(calls.length);
      }),
    );
  });

  it("hands out copies: changing pending() changes nothing inside", () => {
    const tracker = new EpisodeTracker({ get_a: ["Paris"] });
    tracker.pending().get_a!.pop();
    expect(tracker.pending()).toEqual({ get_a: ["Paris"] });
    expect(tracker.record({ name: "get_a", arguments: {}, output: "PARIS" })).toBe("Paris");
    expect(tracker.metrics()).toEqual({ solved: 1, calls: 1, needed: 1, solve_precision: 1, solve_rate: 1, solve_f1: 1 });
  });

  it("does not depend on how calls to different tools interleave, nor on turn boundaries", () => {
    fc.assert(
      fc.property(unsolvedSet, fc.array(fc.tuple(call, fc.nat(5)), { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 12 }), mode, (set, tagged, sizes, m) => {
        const calls = tagged.map(([c]) => c);
        // Stable sort by a random key per tool group: each tool's own calls keep their order.
        const key = new Map(tagged.map(([c, k]) => [c.name, k]));
        const interleaved = [...calls].sort((a, b) => key.get(a.name)! - key.get(b.name)!);
        const turns = (cs: ExecutedCall[]): Turn[] => {
          const out: Turn[] = [];
          for (let i = 0, t = 0; i < cs.length; t++) {
            const n = sizes[t % sizes.length]!;
            out.push({ content: null, tool_calls: cs.slice(i, i + n) });
            i += n;
          }
          return out;
        };
        const a = scoreEpisode(set, [{ content: null, tool_calls: calls }], { mode: m });
        const b = scoreEpisode(set, turns(interleaved), { mode: m });
        expect({ ...b, solved_by: undefined }).toEqual({ ...a, solved_by: undefined });
      }),
    );
  });

  it("stops at the first turn without calls and lists later turns as solving nothing", () => {
    const set = { get_a: ["Paris", "Tokyo"] };
    const hit = (output: string): ExecutedCall => ({ name: "get_a", arguments: {}, output });
    const s = scoreEpisode(set, [
      { content: null, tool_calls: [hit("Paris"), hit("nothing")] },
      { content: "Done.", tool_calls: [] },
      { content: null, tool_calls: [hit("Tokyo")] },
    ]);
    expect(s).toMatchObject({ solved: 1, calls: 2, needed: 2, solve_precision: 0.5, solve_rate: 0.5, solve_f1: 0.5, answer_correct: null });
    expect(s.solved_by).toEqual([["Paris", null], [], [null]]);
  });

  it("checks the final answer in the turn that ended the episode, or in finalText", () => {
    const set = { get_a: ["1961"] };
    const turns: Turn[] = [
      { content: null, tool_calls: [{ name: "get_a", arguments: {}, output: "1961" }] },
      { content: "She was born in 1961.", tool_calls: [] },
    ];
    expect(scoreEpisode(set, turns, { answer: "1961" }).answer_correct).toBe(true);
    expect(scoreEpisode(set, turns, { answer: "1958" }).answer_correct).toBe(false);
    expect(scoreEpisode(set, turns, { answer: "1958", finalText: "1958" }).answer_correct).toBe(true);
    expect(scoreEpisode(set, turns.slice(0, 1), { answer: "1961" }).answer_correct).toBe(false);
  });

  it("defines an episode with nothing to solve as complete", () => {
    expect(scoreEpisode({}, [{ content: "Hi", tool_calls: [] }])).toMatchObject({ solve_precision: 1, solve_rate: 1, solve_f1: 1 });
    expect(scoreEpisode({}, [{ content: null, tool_calls: [{ name: "x", arguments: {}, output: "" }] }])).toMatchObject({ solve_precision: 0, solve_rate: 1, solve_f1: 0 });
  });
});
