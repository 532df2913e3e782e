// The Python runtime: FTRL-style tools run in Pyodide with the JavaScript runtime's contract, and hostile Python is stopped and rolled back.
import { describe, expect, it } from "vitest";
import { compileEnvironment, EnvironmentCompileError, type CompiledEnvironment, type PythonEpisode } from "../../src/runtime/index.ts";
import type { Environment } from "../../src/schema/index.ts";
import { makeEnv } from "./helpers.ts";

/** An environment of Python tools. */
const pyEnv = (tools: Record<string, string>, options: { prelude?: string; state?: Record<string, unknown> } = {}): Environment =>
  makeEnv(Object.fromEntries(Object.entries(tools).map(([name, source]) => [name, { source }])), { ...options, language: "python", id: "python-test" });

const def = (name: string, params: string, ...body: string[]) => `def ${name}(${params}):\n${body.map((l) => `    ${l}`).join("\n")}\n`;

const HOSTILE = pyEnv(
  {
    get: def("get", "data", "return {'items': data['items'], 'r': random.random()}"),
    put: def("put", "data, item", "data['items'].append(item)", "return len(data['items'])"),
    loop: def("loop", "data", "data['items'].append('half-done')", "while True:", "    pass"),
    loopCatching: def("loopCatching", "data", "while True:", "    try:", "        while True:", "            pass", "    except Exception:", "        pass"),
    bomb: def("bomb", "data", "data['items'].append('half-done')", "keep = []", "while True:", "    keep.append([0] * 1000000)"),
    stringBomb: def("stringBomb", "", "return len('x' * (2 ** 28))"),
    recurse: def("recurse", "data, n=0", "data['items'].append('half-done')", "return recurse(data, n + 1) + 1"),
    importOs: def("importOs", "", "import os", "return os.listdir('/')"),
    importSys: def("importSys", "", "import sys", "return list(sys.modules)"),
    importJs: def("importJs", "", "import js", "return str(js)"),
    importPyodide: def("importPyodide", "", "import pyodide", "return 1"),
    importSubprocess: def("importSubprocess", "", "import subprocess", "return 1"),
    importSocket: def("importSocket", "", "import socket", "return 1"),
    openFile: def("openFile", "", "return open('/etc/passwd').read()"),
    evalCode: def("evalCode", "", "return eval('1 + 1')"),
    getattrEscape: def("getattrEscape", "", "return str(getattr((), '__class__'))"),
    annotationEscape: "from dataclasses import dataclass, fields\n@dataclass\nclass P:\n    x: undefined_name\n" + def("annotationEscape", "", "return str(fields(P)[0].type.evaluate(globals={}))"),
    monkeypatch: "import json\n" + def("monkeypatch", "", "json.dumps = lambda *a, **k: 'hijacked'", "return 'done'"),
    patchClass: "import json\n" + def("patchClass", "", "json.JSONEncoder.item_separator = '!'", "return 'done'"),
    leaveGlobal: "seen = []\n" + def("leaveGlobal", "", "seen.append(1)", "return len(seen)"),
    clock: "import time, datetime\n" + def("clock", "", "return [time.time(), datetime.datetime.now().isoformat(), datetime.date.today().isoformat()]"),
    hashOrder: def("hashOrder", "", "return list({'apple', 'pear', 'fig', 'kiwi', 'plum', 'lime'})"),
    throwAfterWrite: def("throwAfterWrite", "data", "data['items'].append('kept')", "raise ValueError('no such order')"),
    returnsSet: def("returnsSet", "", "return {1, 2}"),
    floats: def("floats", "", "return {'a': 2.0, 'b': 1e16, 'c': 1.5e-7, 'd': float('nan'), 'e': 'é', 'f': True, 'g': None}"),
    huge: def("huge", "n", "return 'x' * n"),
    plain: def("plain", "title, year=None", "return {'title': title, 'year': year}"),
  },
  { prelude: "import random\n", state: { items: ["seed"] } },
);

/** A short deadline for the attacks aimed at it; the rest get the default 10 s, so a busy machine cannot turn another limit into a timeout. */
const QUICK = { timeoutMs: 500, memoryBytes: 32 * 2 ** 20 };
const ROOMY = { memoryBytes: 32 * 2 ** 20 };
const compiled = new Map<object, CompiledEnvironment>();
async function env(limits: object = ROOMY): Promise<CompiledEnvironment> {
  if (!compiled.has(limits)) compiled.set(limits, await compileEnvironment(HOSTILE, limits));
  return compiled.get(limits)!;
}
const open = async (seed = 0, limits: object = ROOMY) => (await env(limits)).openEpisode({ seed }) as PythonEpisode;

async function expectHealthy(episode: PythonEpisode, items: unknown[]): Promise<void> {
  expect(await episode.call("get", {})).toMatchObject({ ok: true, value: { items } });
  const fresh = await open();
  expect(await fresh.call("get", {})).toMatchObject({ ok: true, value: { items: ["seed"] } });
  fresh.close();
}

describe("Python runtime", { timeout: 120_000 }, () => {
  it("calls def name(data, **params) with the state and def name(**params) without it; json.dumps text", async () => {
    const e = await open();
    expect(await e.call("put", { item: "a" })).toMatchObject({ ok: true, text: "2", value: 2 });
    expect(await e.call("plain", { title: "Crimson Harbor" })).toMatchObject({ ok: true, text: '{"title": "Crimson Harbor", "year": null}' });
    const f = await e.call("floats", {});
    expect(f).toMatchObject({ ok: true, text: '{"a": 2.0, "b": 1e+16, "c": 1.5e-07, "d": NaN, "e": "é", "f": true, "g": null}' });
    expect(f.ok && f.value).toEqual({ a: 2, b: 1e16, c: 1.5e-7, d: null, e: "é", f: true, g: null });
    expect(await e.state()).toEqual({ items: ["seed", "a"] });
    e.close();
  });

  it("takes back the last call that took effect (undo, for a record the store could not write), and only that one", async () => {
    const e = await open();
    await e.call("put", { item: "a" });
    await e.call("put", { item: "b" });
    expect(e.applied).toBe(2);
    await e.undo();
    expect(e.applied).toBe(1);
    expect(await e.state()).toEqual({ items: ["seed", "a"] });
    // Nothing left to take back until the next call: a second undo changes nothing.
    await e.undo();
    expect(await e.state()).toEqual({ items: ["seed", "a"] });
    expect(await e.call("put", { item: "c" })).toMatchObject({ ok: true, value: 3 });
    expect(await e.state()).toEqual({ items: ["seed", "a", "c"] });
    e.close();
  });

  it("is deterministic: seeded random, pinned clock, fixed hash order", async () => {
    const a = await open(7);
    const b = await open(7);
    const c = await open(8);
    const ra = await a.call("get", {});
    expect(await b.call("get", {})).toEqual({ ...ra, ms: expect.any(Number) });
    expect(await c.call("get", {})).not.toMatchObject({ text: ra.ok ? ra.text : "" });
    expect(await a.call("clock", {})).toMatchObject({ ok: true, value: [1735689600, "2025-01-01T00:00:00", "2025-01-01"] });
    const h1 = await a.call("hashOrder", {});
    expect(await b.call("hashOrder", {})).toMatchObject({ text: h1.ok ? h1.text : "" });
    for (const e of [a, b, c]) e.close();
  });

  it("keeps each episode's state, module variables and modules to itself", async () => {
    const a = await open();
    const b = await open();
    await a.call("put", { item: "only-a" });
    expect(await a.call("leaveGlobal", {})).toMatchObject({ text: "1" });
    expect(await a.call("leaveGlobal", {})).toMatchObject({ text: "2" });
    expect(await b.call("leaveGlobal", {})).toMatchObject({ text: "1" });
    expect(await b.call("get", {})).toMatchObject({ value: { items: ["seed"] } });
    expect(await a.call("monkeypatch", {})).toMatchObject({ ok: false, kind: "tool_error", error: expect.stringMatching(/cannot set/) });
    expect(await a.call("patchClass", {})).toMatchObject({ ok: false, kind: "tool_error", error: expect.stringMatching(/cannot set/) });
    expect(await b.call("floats", {})).toMatchObject({ ok: true, text: expect.stringContaining('"a": 2.0, "b"') });
    a.close();
    b.close();
  });

  it("stops an endless loop at the deadline and rolls the call back", async () => {
    const e = await open(0, QUICK);
    await e.call("put", { item: "a" });
    expect(await e.call("loop", {})).toMatchObject({ ok: false, kind: "timeout", error: expect.stringMatching(/no effect/) });
    expect(await e.call("loopCatching", {})).toMatchObject({ ok: false, kind: "timeout" });
    await expectHealthy(e, ["seed", "a"]);
    e.close();
  });

  it("stops memory bombs and runaway recursion, rolled back", async () => {
    const e = await open();
    expect(await e.call("bomb", {})).toMatchObject({ ok: false, kind: "out_of_memory" });
    expect(await e.call("stringBomb", {})).toMatchObject({ ok: false, kind: "out_of_memory" });
    expect(await e.call("recurse", {})).toMatchObject({ ok: false, kind: "stack_overflow" });
    await expectHealthy(e, ["seed"]);
    e.close();
  });

  it("reaches nothing of the host: os, sys, js, pyodide, subprocess, socket, open, eval, dunders", async () => {
    const e = await open();
    for (const tool of ["importOs", "importSys", "importJs", "importPyodide", "importSubprocess", "importSocket"]) {
      expect(await e.call(tool, {}), tool).toMatchObject({ ok: false, kind: "tool_error", error: expect.stringMatching(/not available in the sandbox/) });
    }
    expect(await e.call("openFile", {})).toMatchObject({ ok: false, error: "name 'open' is not defined" });
    expect(await e.call("evalCode", {})).toMatchObject({ ok: false, error: "name 'eval' is not defined" });
    expect(await e.call("getattrEscape", {})).toMatchObject({ ok: false, error: expect.stringMatching(/__class__.*not allowed/) });
    expect(await e.call("annotationEscape", {})).toMatchObject({ ok: false, error: expect.stringMatching(/not allowed/) });
    await expectHealthy(e, ["seed"]);
    e.close();
  });

  it("refuses code that names dunders, frames, __import__ or catches the interrupt, every problem at once", async () => {
    const bad = pyEnv({
      a: def("a", "", "return ().__class__.__base__.__subclasses__()"),
      b: def("b", "", "g = (x for x in [1])", "return g.gi_frame.f_back.f_globals"),
      c: def("c", "", "return __import__('os')"),
      d: def("d", "", "try:", "    pass", "except:", "    pass"),
      e: def("e", "", "try:", "    pass", "except (ValueError, BaseException):", "    pass"),
      f: def("f", "", "match 1:", "    case int(__class__=k):", "        return k"),
      g: def("g", "", "import sys.modules"),
      h: "def h(:\n",
    });
    const err = await compileEnvironment(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentCompileError);
    const text = (err as Error).message;
    for (const part of ["'__class__'", "'__subclasses__'", "'gi_frame'", "'f_globals'", "'__import__'", "bare 'except:'", "catching BaseException", "tools/h.py:1: SyntaxError"]) {
      expect(text).toContain(part);
    }
  });

  it("keeps the changes a tool made before it raised, as Python does, and words the error", async () => {
    const e = await open();
    expect(await e.call("throwAfterWrite", {})).toMatchObject({ ok: false, kind: "tool_error", error: "no such order" });
    expect(await e.call("returnsSet", {})).toMatchObject({ ok: false, kind: "invalid_output" });
    expect(await e.call("huge", { n: 200_000 })).toMatchObject({ ok: false, kind: "output_too_large" });
    expect(await e.call("nope", {})).toMatchObject({ ok: false, kind: "unknown_tool" });
    expect(await e.state()).toEqual({ items: ["seed", "kept"] });
    e.close();
    expect(await e.call("get", {})).toMatchObject({ ok: false, kind: "episode_closed" });
  });

  it("replays from its checkpoint past many calls", async () => {
    const e = await open(3);
    for (let i = 0; i < 40; i++) await e.call("put", { item: i });
    const before = await e.call("get", {});
    const twin = await open(3, QUICK);
    for (let i = 0; i < 40; i++) await twin.call("put", { item: i });
    await twin.call("loop", {});
    expect(await twin.call("get", {})).toMatchObject({ ok: true, text: before.ok ? before.text : "" });
    e.close();
    twin.close();
  });
});
