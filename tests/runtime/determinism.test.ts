// Reproducibility: a fixed clock in UTC whatever the host's zone, Math.random seeded per episode, and rollback that keeps both exact.
import { afterEach, describe, expect, it } from "vitest";
import { compileEnvironment, SANDBOX_EPOCH_MS } from "../../src/runtime/index.ts";
import { makeEnv } from "./helpers.ts";

const ENV = makeEnv(
  {
    clock: {
      source: `function clock() {
        const local = new Date(2024, 6, 1, 10, 30);
        return {
          now: Date.now(),
          iso: new Date().toISOString(),
          text: new Date().toString(),
          offset: new Date().getTimezoneOffset(),
          localHours: local.getHours(),
          localIso: local.toISOString(),
          parsedLocal: new Date("2024-07-01T10:30:00").getTime(),
        };
      }`,
    },
    rand: { source: "function rand(args) { return Array.from({ length: args.n }, () => Math.random()); }" },
    randThenLoop: { source: "function randThenLoop() { Math.random(); Math.random(); while (true) {} }" },
    startup: { source: "function startup() { return drawnAtStartup; }" },
  },
  { prelude: "const drawnAtStartup = Math.random();" },
);

const savedTz = process.env.TZ;
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

describe("the clock", () => {
  it("stands still at 2025-01-01T00:00:00Z, in UTC, whatever the host's time zone", async () => {
    const compiled = await compileEnvironment(ENV);
    const seen: unknown[] = [];
    for (const tz of ["UTC", "America/New_York", "Asia/Kolkata"]) {
      process.env.TZ = tz;
      using episode = compiled.openEpisode();
      const r = await episode.call("clock", {});
      if (!r.ok) throw new Error(r.error);
      seen.push(r.value);
    }
    expect(new Date(2024, 6, 1, 10, 30).getTimezoneOffset()).not.toBe(0); // the host really is elsewhere now
    expect(seen[0]).toEqual({
      now: SANDBOX_EPOCH_MS,
      iso: "2025-01-01T00:00:00.000Z",
      text: expect.stringMatching(/^Wed Jan 01 2025 00:00:00 GMT\+0000/),
      offset: 0,
      localHours: 10,
      localIso: "2024-07-01T10:30:00.000Z",
      parsedLocal: Date.UTC(2024, 6, 1, 10, 30),
    });
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });
});

describe("Math.random", () => {
  it("gives the same numbers for the same seed, others for another seed, in [0, 1)", async () => {
    const compiled = await compileEnvironment(ENV);
    const draw = async (seed: number) => {
      using episode = compiled.openEpisode({ seed });
      const r = await episode.call("rand", { n: 5 });
      if (!r.ok) throw new Error(r.error);
      return r.value as number[];
    };
    const a = await draw(7);
    expect(await draw(7)).toEqual(a);
    expect(await draw(8)).not.toEqual(a);
    expect(await draw(2 ** 40 + 7)).not.toEqual(a);
    for (const x of [...a, ...(await draw(0))]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(new Set(a).size).toBe(5);
  });

  it("is seeded before the prelude runs", async () => {
    const compiled = await compileEnvironment(ENV);
    using a = compiled.openEpisode({ seed: 3 });
    using b = compiled.openEpisode({ seed: 3 });
    using c = compiled.openEpisode({ seed: 4 });
    const first = await a.call("startup", {});
    expect(await b.call("startup", {})).toMatchObject({ value: first.ok ? first.value : NaN });
    expect(await c.call("startup", {})).not.toMatchObject({ value: first.ok ? first.value : NaN });
  });

  it("continues after a rolled-back call as if that call had never happened", async () => {
    const compiled = await compileEnvironment(ENV, { timeoutMs: 200 });
    using plain = compiled.openEpisode({ seed: 11 });
    using interrupted = compiled.openEpisode({ seed: 11 });
    const expected = [await plain.call("rand", { n: 2 }), await plain.call("rand", { n: 2 })];
    const first = await interrupted.call("rand", { n: 2 });
    expect(await interrupted.call("randThenLoop", {})).toMatchObject({ ok: false, kind: "timeout" });
    const second = await interrupted.call("rand", { n: 2 });
    expect([first, second].map((r) => r.ok && r.value)).toEqual(expected.map((r) => r.ok && r.value));
  });
});
