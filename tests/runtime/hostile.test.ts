// Hostile tool code: each attack is stopped with a clear error kind, rolled back, and the runtime keeps working,
// in a sandbox on the test's own thread and in the worker-thread pool alike.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileEnvironment, SandboxPool, type CompiledEnvironment, type Episode } from "../../src/runtime/index.ts";
import type { Environment, SandboxLimitsInput } from "../../src/schema/index.ts";
import type { CallResult } from "../../src/schema/index.ts";
import { makeEnv } from "./helpers.ts";

/** One environment holding every attack, plus an honest `get` and `put` to check the episode afterwards. */
const HOSTILE = makeEnv(
  {
    get: { source: "function get(args, state) { return { items: state.items, marker: globalThis.marker ?? null, polluted: ({}).polluted ?? null }; }" },
    put: { source: "function put(args, state) { state.items.push(args.item); return state.items.length; }" },
    loop: { source: "function loop(args, state) { state.items.push('half-done'); while (true) {} }" },
    loopCatching: { source: "function loopCatching() { for (;;) { try { while (true) {} } catch (e) {} } }" },
    bomb: { source: "function bomb(args, state) { state.items.push('half-done'); const a = []; for (let i = 0; ; i++) a.push(new Array(100000).fill(i)); }" },
    stringBomb: { source: "function stringBomb() { const keep = []; for (let i = 0; ; i++) keep.push('x'.repeat(1 << 20) + i); }" },
    redos: { source: "function redos() { return /(a+)+$/.test('a'.repeat(40) + 'b'); }" },
    normalizeBomb: { source: "function normalizeBomb() { return 'é'.repeat(4e6).normalize('NFD').length; }" },
    recurse: { source: "function recurse(args, state) { state.items.push('half-done'); return recurse(args, state) + 1; }" },
    deepEval: { source: "function deepEval() { return eval('['.repeat(100000) + ']'.repeat(100000)); }" },
    deepJson: { source: "function deepJson() { let o = []; for (let i = 0; i < 30000; i++) o = [o]; return o; }" },
    huge: { source: "function huge(args) { return 'x'.repeat(args.n); }" },
    hugeObject: { source: "function hugeObject(args) { return Array.from({ length: args.n }, (_, i) => ({ i })); }" },
    hugeError: { source: "function hugeError() { throw new Error('e'.repeat(200000)); }" },
    probe: {
      source: `function probe() {
        const out = {};
        out.require = typeof require;
        out.process = typeof process;
        out.fetch = typeof fetch;
        out.setTimeout = typeof setTimeout;
        out.setInterval = typeof setInterval;
        out.WebAssembly = typeof WebAssembly;
        out.XMLHttpRequest = typeof XMLHttpRequest;
        out.Deno = typeof Deno;
        out.Bun = typeof Bun;
        out.std = typeof std;
        out.os = typeof os;
        out.globalThisViaFunction = Object.keys(Function("return this")()).sort().join(",");
        out.globalThisViaEval = Object.keys((0, eval)("this")).sort().join(",");
        out.constructorEscape = (function () {}).constructor("return typeof process")();
        out.asyncConstructor = typeof (async function () {}).constructor;
        return out;
      }`,
    },
    whoAmI: { source: "function whoAmI() { return this === globalThis ? 'the global' : String(this); }" },
    dynamicImport: { source: "async function dynamicImport() { return await import('node:fs'); }" },
    requireFs: { source: "function requireFs() { return require('fs').readFileSync('/etc/passwd', 'utf8'); }" },
    pollute: {
      source: `function pollute(args, state) {
        Object.prototype.polluted = 'yes';
        Array.prototype.push = function () { return -1; };
        JSON.stringify = () => '"hijacked"';
        globalThis.marker = 'left behind';
        Math.random = () => 4;
        Date.now = () => 0;
        state.items.length = 0;
        return 'done';
      }`,
    },
  },
  { state: { items: ["seed"] } },
);

/** A short deadline for the attacks aimed at it; everything else gets the default 10 s, so a busy machine cannot turn another limit into a timeout. */
const QUICK = { timeoutMs: 300, memoryBytes: 8 * 2 ** 20 };
const ROOMY = { memoryBytes: 8 * 2 ** 20 };
const pool = new SandboxPool({ workers: 1 });
afterAll(() => pool.close());
const COMPILERS: [string, (env: Environment, limits: SandboxLimitsInput) => Promise<CompiledEnvironment>][] = [
  ["on this thread", compileEnvironment],
  ["in a worker thread", (e, l) => pool.compile(e, l)],
];
let compileEnv = COMPILERS[0]![1];
const compiled = new Map<string, CompiledEnvironment>();

async function env(limits: object = ROOMY): Promise<CompiledEnvironment> {
  const key = `${COMPILERS.findIndex((c) => c[1] === compileEnv)} ${JSON.stringify(limits)}`;
  if (!compiled.has(key)) compiled.set(key, await compileEnv(HOSTILE, limits));
  return compiled.get(key)!;
}

async function expectHealthy(episode: Episode, items: unknown[]): Promise<void> {
  const r = await episode.call("get", {});
  expect(r).toMatchObject({ ok: true, value: { items, marker: null, polluted: null } });
  const fresh = (await env()).openEpisode();
  expect(await fresh.call("get", {})).toMatchObject({ ok: true, value: { items: ["seed"], marker: null, polluted: null } });
  fresh.close();
}

function failure(r: CallResult): { kind: string; error: string } {
  if (r.ok) throw new Error(`expected a failure, got ${r.text.slice(0, 200)}`);
  return r;
}

describe.each(COMPILERS)("%s", (_, compile) => {
  beforeAll(() => {
    compileEnv = compile;
  });

  describe("limits", () => {
    it("stops an endless loop at the deadline, rolls its writes back, and the next call works", async () => {
      using episode = (await env(QUICK)).openEpisode();
      await episode.call("put", { item: "kept" });
      const r = failure(await episode.call("loop", {}));
      expect(r.kind).toBe("timeout");
      expect(r.error).toMatch(/longer than 300 ms.*no effect on the episode's state/);
      await expectHealthy(episode, ["seed", "kept"]);
    });

    it("stops a loop that catches everything it can", async () => {
      using episode = (await env(QUICK)).openEpisode();
      expect(failure(await episode.call("loopCatching", {})).kind).toBe("timeout");
      await expectHealthy(episode, ["seed"]);
    });

    it("stops catastrophic regular-expression backtracking at the deadline", async () => {
      using episode = (await env(QUICK)).openEpisode();
      expect(failure(await episode.call("redos", {})).kind).toBe("timeout");
      await expectHealthy(episode, ["seed"]);
    });

    it("reports a built-in that fails an allocation without an error as out of memory", async () => {
      using episode = (await env()).openEpisode();
      expect(failure(await episode.call("normalizeBomb", {})).kind).toBe("out_of_memory");
      await expectHealthy(episode, ["seed"]);
    });

    it("stops a memory bomb at the memory limit", async () => {
      using episode = (await env()).openEpisode();
      await episode.call("put", { item: "kept" });
      const r = failure(await episode.call("bomb", {}));
      expect(r.kind).toBe("out_of_memory");
      expect(r.error).toMatch(/more than 8 MiB/);
      await expectHealthy(episode, ["seed", "kept"]);
      expect(failure(await episode.call("stringBomb", {})).kind).toBe("out_of_memory");
      await expectHealthy(episode, ["seed", "kept"]);
    });

    it("stops endless recursion", async () => {
      using episode = (await env()).openEpisode();
      const r = failure(await episode.call("recurse", {}));
      expect(r.kind).toBe("stack_overflow");
      await expectHealthy(episode, ["seed"]);
    });

    it("survives nesting deep enough to exhaust the host's native stack, in the episode's own instance only", async () => {
      const bystander = (await env()).openEpisode();
      await bystander.call("put", { item: "bystander" });
      using episode = (await env()).openEpisode();
      await episode.call("put", { item: "kept" });
      for (const tool of ["deepEval", "deepJson"]) {
        const r = failure(await episode.call(tool, {}));
        expect(r.kind, tool).toBe("stack_overflow");
        await expectHealthy(episode, ["seed", "kept"]);
      }
      expect(await bystander.call("get", {})).toMatchObject({ ok: true, value: { items: ["seed", "bystander"] } });
      bystander.close();
    });

    it("refuses outputs and error messages over the size limit", async () => {
      const small = await compile(HOSTILE, { ...ROOMY, maxOutputChars: 1000 });
      using episode = small.openEpisode();
      expect(await episode.call("huge", { n: 1000 })).toMatchObject({ ok: true });
      for (const [tool, args] of [
        ["huge", { n: 1001 }],
        ["huge", { n: 5_000_000 }],
        ["hugeObject", { n: 100 }],
        ["hugeObject", { n: 100_000 }],
        ["hugeError", {}],
      ] as const) {
        const r = failure(await episode.call(tool, args));
        expect(r.kind, `${tool} ${JSON.stringify(args)}`).toBe("output_too_large");
        expect(r.error).toMatch(/more than the limit of 1000/);
      }
      await expectHealthy(episode, ["seed"]);
    });
  });

  describe("no way out of the sandbox", () => {
    it("has no host objects: no require, process, fetch, timers, WebAssembly, or host globals", async () => {
      using episode = (await env()).openEpisode();
      const r = await episode.call("probe", {});
      if (!r.ok) throw new Error(r.error);
      const out = r.value as Record<string, string>;
      for (const name of ["require", "process", "fetch", "setTimeout", "setInterval", "WebAssembly", "XMLHttpRequest", "Deno", "Bun", "std", "os"]) {
        expect(out[name], name).toBe("undefined");
      }
      expect(out.constructorEscape).toBe("undefined");
      expect(out.asyncConstructor).toBe("function");
      // The sandbox's own global is all Function("return this") can reach: its enumerable names are the console and the tools.
      expect(out.globalThisViaFunction).toBe(out.globalThisViaEval);
      expect(out.globalThisViaFunction).toBe(["console", ...HOSTILE.tools.map((t) => t.name)].sort().join(","));
    });

    it("calls tools without a `this` that could lead to the sandbox's internals", async () => {
      using episode = (await env()).openEpisode();
      // A sloppy-mode function called plainly sees the global object, as anywhere else.
      expect(await episode.call("whoAmI", {})).toMatchObject({ ok: true, text: "the global" });
    });

    it("turns import() and require() into tool errors", async () => {
      using episode = (await env()).openEpisode();
      const imported = failure(await episode.call("dynamicImport", {}));
      expect(imported.kind).toBe("tool_error");
      expect(imported.error).toMatch(/could not load module|not supported|node:fs/);
      expect(await episode.call("requireFs", {})).toMatchObject({ ok: false, kind: "tool_error", error: "'require' is not defined" });
    });

    it("keeps prototype pollution, replaced globals and state writes inside their own episode", async () => {
      const compiled = await env();
      using attacker = compiled.openEpisode();
      using victim = compiled.openEpisode();
      expect(await attacker.call("pollute", {})).toMatchObject({ ok: true, text: "done" });
      // Inside the attacker's episode the damage stays, as in any program that breaks its own globals
      // (outputs are still real JSON: the dispatcher kept its own JSON.stringify) ...
      expect(await attacker.call("get", {})).toMatchObject({ ok: true, value: { items: [], marker: "left behind", polluted: "yes" } });
      expect(await attacker.call("put", { item: "x" })).toMatchObject({ ok: true, value: 0 });
      // ... but no other episode, existing or new, sees any of it.
      expect(await victim.call("put", { item: "mine" })).toMatchObject({ ok: true, value: 2 });
      await expectHealthy(victim, ["seed", "mine"]);
    });
  });
});
