// Rebuilding an episode from its seed and the calls that took effect: the same state and the same next outputs, or a clear mismatch.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileJavaScript, rebuildEpisode, recordCall, ReplayMismatchError, type LocalEpisode, type RecordedCall } from "../../src/runtime/index.ts";
import { makeEnv } from "./helpers.ts";

/** State, module-level variables, the seeded generator, calls that throw after writing, and arguments that are refused. */
const ENV = makeEnv(
  {
    put: { source: "function put(args, state) { const item = args.x + ':' + Math.floor(Math.random() * 1000); state.items.push(item); counter++; return { item: item, n: state.items.length, counter: counter }; }", schema: { type: "object", properties: { x: { type: "string" } }, required: ["x"] } },
    half: { source: "function half(args, state) { state.items.push('half'); throw new Error('failed after writing'); }" },
    peek: { source: "function peek(args, state) { return { items: state.items, counter: counter, r: Math.random() }; }" },
  },
  { prelude: "let counter = 0;", state: { items: [] } },
);

const call = fc.oneof(
  fc.record({ tool: fc.constant("put"), args: fc.record({ x: fc.string({ maxLength: 5 }) }) }),
  fc.record({ tool: fc.constant("put"), args: fc.record({ x: fc.integer() }) }),
  fc.record({ tool: fc.constantFrom("half", "peek", "nope"), args: fc.constant({}) }),
);

/** Runs the calls and records those that took effect, as the pool does. */
async function run(episode: LocalEpisode, calls: readonly { tool: string; args: unknown }[]): Promise<RecordedCall[]> {
  const recorded: RecordedCall[] = [];
  for (const c of calls) {
    const before = episode.applied;
    const r = await episode.call(c.tool, c.args);
    if (episode.applied > before) recorded.push(recordCall(c.tool, c.args, r));
  }
  return recorded;
}

describe("rebuildEpisode", () => {
  it("continues exactly where the original is: state, module variables, generator", async () => {
    const compiled = await compileJavaScript(ENV);
    await fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 12 }), fc.integer({ min: 0, max: 2 ** 31 }), async (calls, seed) => {
        using original = compiled.openEpisode({ seed });
        const recorded = await run(original, calls);
        expect(recorded.length).toBe(original.applied);
        using rebuilt = await rebuildEpisode(compiled, seed, recorded);
        expect(rebuilt.snapshot()).toEqual(original.snapshot());
        expect(await rebuilt.call("peek", {})).toEqual({ ...(await original.call("peek", {})), ms: expect.any(Number) });
      }),
      { numRuns: 30 },
    );
  });

  it("refuses a record the replay does not reproduce, naming the call", async () => {
    const compiled = await compileJavaScript(ENV);
    using original = compiled.openEpisode({ seed: 3 });
    const recorded = await run(original, [{ tool: "put", args: { x: "a" } }, { tool: "half", args: {} }, { tool: "put", args: { x: "b" } }]);
    const changed = recorded.map((r, i) => (i === 2 ? { ...r, digest: "0".repeat(64) } : r));
    await expect(rebuildEpisode(compiled, 3, changed)).rejects.toThrow(new ReplayMismatchError(2, "put", "gave a different output"));
    // Another seed draws other numbers, so the first put already differs.
    await expect(rebuildEpisode(compiled, 4, recorded)).rejects.toMatchObject({ index: 0, tool: "put" });
    // A call that would be refused never took effect, so it cannot be part of a record.
    await expect(rebuildEpisode(compiled, 3, [{ tool: "nope", arguments: {}, digest: recorded[0]!.digest }])).rejects.toThrow(/call 1 \(nope\) did not take effect \(unknown_tool/);
  });
});
