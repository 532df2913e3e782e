// The sandbox pool on real worker threads: same answers as in process, hostile calls delay only their own episode, compiles cached.
import { afterAll, describe, expect, it } from "vitest";
import { compileEnvironment, EnvironmentCompileError, SandboxPool, type Episode } from "../../src/runtime/index.ts";
import type { CallResult } from "../../src/schema/index.ts";
import { makeEnv } from "./helpers.ts";

const BENIGN = makeEnv(
  {
    put: { source: "function put(args, state) { state.items.push(args.x + ':' + Math.floor(Math.random() * 100)); return state.items.length; }" },
    get: { source: "function get(args, state) { return state.items; }" },
  },
  { id: "benign", state: { items: [] } },
);
const HOSTILE = makeEnv(
  {
    put: { source: "function put(args, state) { state.items.push(args.x); return state.items.length; }" },
    loop: { source: "function loop(args, state) { state.items.push('half-done'); while (true) {} }" },
    // Catastrophic backtracking on the argument: exponential in its length.
    redos: { source: "function redos(args) { return /^(a+)+$/.test(args.s); }" },
  },
  { id: "hostile", state: { items: [] } },
);

const pool = new SandboxPool({ workers: 2, stallMs: 100 });
afterAll(() => pool.close());

/** The outputs and the final state of a fixed sequence of calls. */
async function script(episode: Episode, n: number): Promise<{ outputs: CallResult[]; state: unknown }> {
  const outputs: CallResult[] = [];
  for (let k = 0; k < n; k++) outputs.push(await episode.call("put", { x: k }));
  outputs.push(await episode.call("put", "not an object"), await episode.call("get", {}));
  return { outputs: outputs.map((o) => ({ ...o, ms: 0 })), state: await episode.state() };
}

describe("sandbox pool", () => {
  it("answers as the sandbox in process does, seed for seed", async () => {
    const pooled = await pool.compile(BENIGN);
    const local = await compileEnvironment(BENIGN);
    for (const seed of [0, 7, 2 ** 40]) {
      using a = pooled.openEpisode({ seed });
      using b = local.openEpisode({ seed });
      expect(await script(a, 6)).toEqual(await script(b, 6));
      expect(a.applied).toBe(7);
    }
  });

  it("takes back the last call on its worker, as the sandbox in process does", async () => {
    const pooled = await pool.compile(BENIGN);
    const local = await compileEnvironment(BENIGN);
    using a = pooled.openEpisode({ seed: 3 });
    using b = local.openEpisode({ seed: 3 });
    for (const e of [a, b]) {
      await e.call("put", { x: "kept" });
      await e.call("put", { x: "taken back" });
      await e.undo();
    }
    expect(a.applied).toBe(1);
    expect(await a.state()).toEqual(await b.state());
    // The next call draws the random number the undone call drew, in both.
    expect({ ...(await a.call("put", { x: "next" })), ms: 0 }).toEqual({ ...(await b.call("put", { x: "next" })), ms: 0 });
    expect(await a.state()).toEqual(await b.state());
  });

  it("keeps 50 benign episodes going beside a looping call and a ReDoS argument", async () => {
    const hostile = await pool.compile(HOSTILE);
    const benign = await pool.compile(BENIGN);
    const reference = await compileEnvironment(BENIGN);
    // Both workers started and holding one hostile episode each.
    const looping = hostile.openEpisode();
    const backtracking = hostile.openEpisode();
    expect(await Promise.all([looping.call("put", { x: "kept" }), backtracking.call("put", { x: "kept" })])).toMatchObject([{ ok: true }, { ok: true }]);
    const finished: string[] = [];
    const slow = [
      looping.call("loop", {}).then((r) => (finished.push("loop"), r)),
      backtracking.call("redos", { s: `${"a".repeat(40)}!` }).then((r) => (finished.push("redos"), r)),
    ];
    const benignRuns = Array.from({ length: 50 }, async (_, i) => {
      using episode = benign.openEpisode({ seed: i });
      const run = await script(episode, 5);
      finished.push("benign");
      return run;
    });
    const runs = await Promise.all(benignRuns);
    const [loop, redos] = await Promise.all(slow);
    // Every benign episode finished before either hostile call was stopped, with no error but the refused arguments,
    // and each one's outputs are those of the same episode run alone in process.
    expect(finished).toEqual([...Array<string>(50).fill("benign"), ...finished.slice(50)]);
    expect(finished.slice(50).sort()).toEqual(["loop", "redos"]);
    for (const [i, run] of runs.entries()) {
      using alone = reference.openEpisode({ seed: i });
      expect(run).toEqual(await script(alone, 5));
      expect(run.outputs.filter((o) => !o.ok).map((o) => !o.ok && o.kind)).toEqual(["invalid_arguments"]);
    }
    expect(loop).toMatchObject({ ok: false, kind: "timeout" });
    expect(redos).toMatchObject({ ok: false, kind: "timeout" });
    // The hostile episodes were rolled back and go on.
    expect(await looping.state()).toEqual({ items: ["kept"] });
    expect(await backtracking.call("put", { x: "next" })).toMatchObject({ ok: true, value: 2 });
    expect(pool.stats().moves).toBeGreaterThan(0);
    looping.close();
    backtracking.close();
  });

  it("stops a worker stuck outside the sandbox's deadline and rebuilds its episodes on a new one", async () => {
    // The argument check runs on the worker's own V8, not in QuickJS: a backtracking schema pattern is not under the call's deadline.
    const patterned = makeEnv(
      { put: { source: "function put(args, state) { state.items.push(args.s); return state.items.length; }", schema: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } } } },
      { id: "patterned", state: { items: [] } },
    );
    const small = new SandboxPool({ workers: 1, graceMs: 500 });
    try {
      const compiled = await small.compile(patterned, { timeoutMs: 200 });
      using victim = compiled.openEpisode();
      using bystander = compiled.openEpisode();
      expect([await victim.call("put", { s: "aaa" }), await bystander.call("put", { s: "a" })]).toMatchObject([{ ok: true }, { ok: true }]);
      const stuck = await victim.call("put", { s: `${"a".repeat(40)}!` });
      expect(stuck).toMatchObject({ ok: false, kind: "timeout", error: expect.stringMatching(/worker thread was stopped.*no effect on the episode's state/) });
      expect(await victim.call("put", { s: "aa" })).toMatchObject({ ok: true, value: 2 });
      expect(await bystander.call("put", { s: "a" })).toMatchObject({ ok: true, value: 2 });
      expect(await victim.state()).toEqual({ items: ["aaa", "aa"] });
      expect(small.stats()).toMatchObject({ stopped: 1, moves: 2, replayedCalls: 2 });
      await small.close();
      expect(await victim.call("put", { s: "a" })).toMatchObject({ ok: false, kind: "episode_closed" });
    } finally {
      await small.close();
    }
  });

  it("compiles an environment once per content, keeping a failure", async () => {
    const slowPrelude = makeEnv({ put: { source: "function put() { return 1; }" } }, { id: "slow-prelude", prelude: "while (true) {}" });
    const before = pool.stats().compiles;
    const first = pool.compile(slowPrelude, { timeoutMs: 500 });
    await expect(first).rejects.toThrow(EnvironmentCompileError);
    await expect(first).rejects.toThrow(/prelude: .*interrupted/);
    expect(pool.compile(slowPrelude, { timeoutMs: 500 })).toBe(first);
    expect(pool.compile(structuredClone(slowPrelude), { timeoutMs: 500 })).toBe(first);
    expect(pool.stats().compiles).toBe(before + 1);
    // Other limits are another compile.
    await expect(pool.compile(slowPrelude, { timeoutMs: 400 })).rejects.toThrow(EnvironmentCompileError);
    expect(pool.stats().compiles).toBe(before + 2);
  });
});
