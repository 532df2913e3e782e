// The runtime on real sandboxes: outputs and their text, tool errors, argument checks, state per episode, compile errors.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadEnvironmentFile } from "../../src/load/index.ts";
import { compileEnvironment, EnvironmentCompileError, formatCallError, type CompiledEnvironment } from "../../src/runtime/index.ts";
import type { CallResult } from "../../src/schema/index.ts";
import { ECHO, makeEnv } from "./helpers.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../environments/examples/films-director-birth.json");

async function example(): Promise<CompiledEnvironment> {
  const loaded = await loadEnvironmentFile(EXAMPLE);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return compileEnvironment(loaded.env);
}

function ok(r: CallResult): Extract<CallResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected success, got ${r.kind}: ${r.error}`);
  return r;
}

describe("the example environment", () => {
  it("replays both gold plans and shows objects as Python's json.dumps would", async () => {
    const compiled = await example();
    for (const task of compiled.env.tasks) {
      using episode = compiled.openEpisode();
      for (const step of task.gold_plan) {
        const r = ok(await episode.call(step.tool, step.arguments));
        expect(r.text).toContain(step.yields);
      }
    }
    using episode = compiled.openEpisode();
    const r = ok(await episode.call("get_film", { title: "crimson harbor" }));
    expect(r.value).toEqual({ title: "Crimson Harbor", director: "Elena Vastrova", year: 1994, genre: "drama" });
    expect(r.text).toBe('{"title": "Crimson Harbor", "director": "Elena Vastrova", "year": 1994, "genre": "drama"}');
  });

  it("passes a tool's thrown message to the agent, in the reference's wording when formatted", async () => {
    using episode = (await example()).openEpisode();
    const r = await episode.call("get_person", { name: "Nobody" });
    expect(r).toMatchObject({ ok: false, kind: "tool_error", error: 'No person named "Nobody" was found.' });
    expect(formatCallError("get_person", r.ok ? "" : r.error)).toBe('an error occured when call get_person: No person named "Nobody" was found.');
  });

  it("names the bad field when arguments do not match the schema", async () => {
    using episode = (await example()).openEpisode();
    const cases: [unknown, string][] = [
      [{ title: 7 }, 'argument "title" must be string'],
      [{}, 'missing required argument "title"'],
      [{ title: "x", year: 1 }, 'unexpected argument "year"'],
      [[], "arguments must be an object"],
      ["Crimson Harbor", "arguments must be an object"],
    ];
    for (const [args, message] of cases) {
      expect(await episode.call("get_film", args)).toMatchObject({ ok: false, kind: "invalid_arguments", error: message });
    }
    expect(episode.callCount).toBe(cases.length);
  });

  it("lists the available tools for an unknown one", async () => {
    using episode = (await example()).openEpisode();
    expect(await episode.call("get_director", {})).toMatchObject({
      ok: false,
      kind: "unknown_tool",
      error: 'unknown tool "get_director"; available tools: get_film, get_person',
    });
  });

  it("refuses calls after close, and counts only calls made while open", async () => {
    const episode = (await example()).openEpisode();
    ok(await episode.call("get_film", { title: "Salt Meridian" }));
    episode.close();
    expect(episode.closed).toBe(true);
    expect(await episode.call("get_film", { title: "Salt Meridian" })).toMatchObject({ ok: false, kind: "episode_closed" });
    expect(episode.callCount).toBe(1);
  });
});

describe("state", () => {
  const shop = makeEnv(
    {
      buy: {
        source: `function buy(args, state) {
          const item = state.stock[args.item];
          if (item === undefined) throw new Error("no such item: " + args.item);
          if (item < args.qty) throw new Error("only " + item + " left");
          state.stock[args.item] = item - args.qty;
          state.orders.push({ item: args.item, qty: args.qty });
          return { order: state.orders.length, left: state.stock[args.item] };
        }`,
        schema: { type: "object", properties: { item: { type: "string" }, qty: { type: "integer", minimum: 1 } }, required: ["item", "qty"] },
      },
    },
    { state: { stock: { apple: 3, pear: 1 }, orders: [] } },
  );

  it("persists mutations within an episode and starts every episode from its own copy", async () => {
    const compiled = await compileEnvironment(shop);
    using a = compiled.openEpisode();
    using b = compiled.openEpisode();
    expect(ok(await a.call("buy", { item: "apple", qty: 2 })).value).toEqual({ order: 1, left: 1 });
    expect(await a.call("buy", { item: "apple", qty: 2 })).toMatchObject({ kind: "tool_error", error: "only 1 left" });
    expect(ok(await a.call("buy", { item: "apple", qty: 1 })).text).toBe('{"order": 2, "left": 0}');
    expect(ok(await b.call("buy", { item: "apple", qty: 3 })).value).toEqual({ order: 1, left: 0 });
    expect(await a.state()).toEqual({ stock: { apple: 0, pear: 1 }, orders: [{ item: "apple", qty: 2 }, { item: "apple", qty: 1 }] });
    expect(compiled.env.initial_state).toEqual({ stock: { apple: 3, pear: 1 }, orders: [] });
    using c = compiled.openEpisode();
    expect(await c.state()).toEqual(compiled.env.initial_state);
  });

  it("gives a snapshot that is a copy, not a view", async () => {
    using episode = (await compileEnvironment(shop)).openEpisode();
    const snap = (await episode.state()) as { stock: Record<string, number> };
    snap.stock.apple = 99;
    expect(await episode.state()).toEqual({ stock: { apple: 3, pear: 1 }, orders: [] });
  });

  it("keeps the state through many calls, across checkpoints", async () => {
    const counter = makeEnv({ bump: { source: "function bump(args, state) { state.n += 1; return state.n; }" } }, { state: { n: 0 } });
    using episode = (await compileEnvironment(counter)).openEpisode();
    for (let i = 1; i <= 100; i++) expect(ok(await episode.call("bump", {})).value).toBe(i);
    expect(await episode.state()).toEqual({ n: 100 });
  });

  it("runs calls made without waiting one at a time, in the order they were made", async () => {
    const log = makeEnv({ add: { source: "function add(args, state) { state.seen.push(args.x); return state.seen.length; }" } }, { state: { seen: [] } });
    using episode = (await compileEnvironment(log)).openEpisode();
    const results = await Promise.all([1, 2, 3, 4].map((x) => episode.call("add", { x })));
    expect(results.map((r) => ok(r).value)).toEqual([1, 2, 3, 4]);
    expect(await episode.state()).toEqual({ seen: [1, 2, 3, 4] });
  });
});

describe("tool code", () => {
  it("shares the prelude between tools and lets tools call each other by name", async () => {
    const env = makeEnv(
      {
        shout: { source: "(args) => loud(args.word)" },
        twice: { source: "function twice(args) { return shout(args) + ' ' + shout(args); }" },
      },
      { prelude: "function loud(s) { return String(s).toUpperCase() + '!'; }" },
    );
    using episode = (await compileEnvironment(env)).openEpisode();
    expect(ok(await episode.call("shout", { word: "hi" })).text).toBe("HI!");
    expect(ok(await episode.call("twice", { word: "ho" })).text).toBe("HO! HO!");
  });

  it("shows strings as they are and other values in Python's JSON style", async () => {
    const env = makeEnv({
      give: {
        source: `function give(args) {
          return { s: "plain", n: null, t: true, f: 0.5, big: 1e16, tiny: 1.5e-7, e: [], o: {}, u: "Zürich ☃", nested: [{ a: [1, 2] }] }[args.key];
        }`,
      },
    });
    using episode = (await compileEnvironment(env)).openEpisode();
    const text = async (key: string) => ok(await episode.call("give", { key })).text;
    expect(await text("s")).toBe("plain");
    expect(await text("n")).toBe("null");
    expect(await text("t")).toBe("true");
    expect(await text("f")).toBe("0.5");
    expect(await text("big")).toBe("1e+16");
    expect(await text("tiny")).toBe("1.5e-07");
    expect(await text("e")).toBe("[]");
    expect(await text("o")).toBe("{}");
    expect(await text("u")).toBe("Zürich ☃");
    expect(await text("nested")).toBe('[{"a": [1, 2]}]');
  });

  it("awaits async tools", async () => {
    const env = makeEnv({
      slow: { source: "async function slow(args, state) { await null; state.done = true; return { got: args.v }; }" },
      bad: { source: "async (args) => { await Promise.resolve(); throw new Error('async failure'); }" },
    });
    using episode = (await compileEnvironment(env)).openEpisode();
    expect(ok(await episode.call("slow", { v: 2 })).value).toEqual({ got: 2 });
    expect(await episode.state()).toEqual({ done: true });
    expect(await episode.call("bad", {})).toMatchObject({ ok: false, kind: "tool_error", error: "async failure" });
  });

  it("reports values that are not JSON as invalid output", async () => {
    const env = makeEnv({
      give: {
        source: `function give(args) {
          if (args.kind === "undefined") return undefined;
          if (args.kind === "function") return () => 1;
          if (args.kind === "bigint") return 10n;
          if (args.kind === "never") return new Promise(() => {});
          const a = {}; a.self = a; return a;
        }`,
      },
    });
    using episode = (await compileEnvironment(env)).openEpisode();
    for (const [kind, text] of [
      ["undefined", "returned undefined"],
      ["function", "returned a function"],
      ["bigint", "not JSON"],
      ["cyclic", "not JSON"],
      ["never", "never settled"],
    ]) {
      const r = await episode.call("give", { kind });
      expect(r).toMatchObject({ ok: false, kind: "invalid_output" });
      expect(r.ok ? "" : r.error).toContain(text);
    }
  });

  it("carries strings and messages with lone surrogates unchanged", async () => {
    const env = makeEnv({
      odd: { source: "function odd(args) { if (args.fail) throw new Error('bad \\ud800 half'); return 'half \\udc00 pair 😀'; }" },
    });
    using episode = (await compileEnvironment(env)).openEpisode();
    expect(await episode.call("odd", {})).toMatchObject({ ok: true, text: "half \udc00 pair 😀", value: "half \udc00 pair 😀" });
    expect(await episode.call("odd", { fail: true })).toMatchObject({ ok: false, kind: "tool_error", error: "bad \ud800 half" });
  });

  it("takes a thrown non-Error value's text as the message", async () => {
    const env = makeEnv({ fail: { source: "function fail(args) { throw 'plain text ' + args.n; }" } });
    using episode = (await compileEnvironment(env)).openEpisode();
    expect(await episode.call("fail", { n: 1 })).toMatchObject({ ok: false, kind: "tool_error", error: "plain text 1" });
  });
});

describe("compiling", () => {
  it("reports every syntax error, each naming its tool", async () => {
    const env = makeEnv({ good: ECHO, broken: { source: "function broken(args) { return args.; }" }, worse: { source: "function (" } });
    const err = await compileEnvironment(env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentCompileError);
    const problems = (err as EnvironmentCompileError).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^tool "broken": SyntaxError: .*tools\/broken\.js:1/);
    expect(problems[1]).toMatch(/^tool "worse": SyntaxError/);
  });

  it("reports a tool that is not a function, a prelude that throws, a bad schema and bad limits", async () => {
    const notFunction = makeEnv({ x: { source: "42" } });
    await expect(compileEnvironment(notFunction)).rejects.toThrow(/tool "x": TypeError: the implementation must evaluate to a function, not number/);
    const throwing = makeEnv({ x: ECHO }, { prelude: "throw new Error('prelude broke')" });
    await expect(compileEnvironment(throwing)).rejects.toThrow(/prelude: Error: prelude broke/);
    const badSchema = makeEnv({ x: { source: ECHO.source, schema: { type: "object", properties: { a: { type: "strin" } } } } });
    await expect(compileEnvironment(badSchema)).rejects.toThrow(/tool "x": invalid input_schema/);
    await expect(compileEnvironment(makeEnv({ x: ECHO }), { timeoutMs: -1 })).rejects.toThrow(/limits\.timeoutMs/);
  });

  it("reports an initial state too large for the memory limit", async () => {
    const big = makeEnv({ x: ECHO }, { state: { rows: Array.from({ length: 40_000 }, (_, i) => ({ id: i, name: `row number ${i}`, tags: ["a", "b"] })) } });
    await expect(compileEnvironment(big, { memoryBytes: 1 })).rejects.toThrow(/out of memory|initial state/);
    await expect(compileEnvironment(big)).resolves.toBeDefined();
  });

  it("compiles schemas that share an $id, in one environment or across several", async () => {
    const schema = { $id: "https://example.com/args", $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", properties: { a: { type: "string" } } };
    const env = makeEnv({ one: { source: ECHO.source, schema }, two: { source: ECHO.source, schema } });
    const [first] = await Promise.all([compileEnvironment(env), compileEnvironment(env)]);
    using episode = first.openEpisode();
    expect(await episode.call("two", { a: 1 })).toMatchObject({ ok: false, error: 'argument "a" must be string' });
  });

  it("rejects a seed that is not a safe integer", async () => {
    const compiled = await compileEnvironment(makeEnv({ x: ECHO }));
    expect(() => compiled.openEpisode({ seed: 1.5 })).toThrow(/safe integer/);
  });
});
