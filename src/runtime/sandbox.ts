// One episode's QuickJS runtime and context inside its own instance: setup, calls under a deadline, checkpoints, teardown.
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten-core";
import type { SandboxLimits } from "../schema/index.ts";
import { BOOTSTRAP } from "./bootstrap.ts";
import type { Instance } from "./engine.ts";

/** The environment code a sandbox evaluates: the prelude, then one function per tool. */
export interface Program {
  prelude: string;
  tools: readonly { name: string; source: string }[];
}

/** The failures that stop a call and roll it back. */
export type LimitKind = "timeout" | "out_of_memory" | "stack_overflow";

/** What one sandboxed call produced, before the episode turns it into a CallResult. */
export type Outcome =
  | { type: "value"; json: string }
  | { type: "error"; kind: "tool_error" | "invalid_output"; message: string }
  | { type: "too_large"; chars: number }
  | { type: "limit"; kind: LimitKind; detail: string };

/** Why a sandbox could not be set up, and in which part of the program. */
export interface SetupFailure {
  where: "prelude" | "tool" | "state" | "sandbox";
  tool?: string;
  kind: LimitKind | "error";
  message: string;
}

type LimitFail = { type: "limit"; kind: LimitKind; detail: string };
type Fail = LimitFail | { type: "error"; kind: "tool_error"; message: string };

/** The current call's deadline, shared by the sandbox and its interrupt handler. */
interface Clock {
  deadline: number;
  interrupted: boolean;
}

/**
 * A QuickJS runtime and context holding one episode's live state. All methods are
 * synchronous and run QuickJS on the calling thread, so a call blocks the event loop for up
 * to `timeoutMs`; the class holds no reference to the event loop, so it could live in a
 * worker thread unchanged.
 */
export class Sandbox {
  private alive = true;
  /** Raw pointers for the per-call path: the context, `undefined`, and a two-slot argument vector in wasm memory. */
  private readonly ctxPtr: number;
  private readonly undefinedPtr: number;
  private readonly argv: number;

  private constructor(
    readonly instance: Instance,
    private readonly limits: SandboxLimits,
    private readonly clock: Clock,
    private readonly rt: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    private readonly callFn: QuickJSHandle,
    private readonly settleFn: QuickJSHandle,
    private readonly saveFn: QuickJSHandle,
    private readonly indices: QuickJSHandle[],
  ) {
    this.ctxPtr = (ctx as unknown as { ctx: { value: number } }).ctx.value;
    this.undefinedPtr = instance.c.QTS_GetUndefined();
    this.argv = instance.heap._malloc(8);
    if (this.argv === 0) throw new RangeError("out of memory");
  }

  /**
   * Evaluates the bootstrap, starts the seeded generator, evaluates the prelude and the
   * tools, then installs the state from `checkpointJson` (`{"state": ..., "rng": [..] | null}`).
   * The whole setup shares one deadline of `timeoutMs`.
   */
  static create(
    instance: Instance,
    program: Program,
    limits: SandboxLimits,
    seed: number,
    checkpointJson: string,
  ): { ok: true; sandbox: Sandbox } | { ok: false; failure: SetupFailure } {
    let rt: QuickJSRuntime | undefined;
    let ctx: QuickJSContext | undefined;
    const handles: QuickJSHandle[] = [];
    const clock: Clock = { deadline: performance.now() + limits.timeoutMs, interrupted: false };
    const fail = (where: SetupFailure["where"], f: Fail, tool?: string): { ok: false; failure: SetupFailure } => {
      for (const h of handles) h.alive && h.dispose();
      if (!instance.poisoned) {
        try {
          ctx?.dispose();
          rt?.dispose();
        } catch {
          instance.poisoned = true;
        }
      }
      const failure: SetupFailure = f.type === "limit" ? { where, kind: f.kind, message: f.detail } : { where, kind: "error", message: f.message };
      return { ok: false, failure: tool === undefined ? failure : { ...failure, tool } };
    };
    try {
      rt = instance.qjs.newRuntime();
      rt.setMaxStackSize(limits.stackBytes);
      rt.setInterruptHandler(() => {
        if (performance.now() <= clock.deadline) return false;
        clock.interrupted = true;
        return true;
      });
      ctx = rt.newContext();
      const c = ctx;
      const escaped = (error: QuickJSHandle) => classifyEscape(c, error, clock.interrupted);
      const boot = ctx.evalCode(BOOTSTRAP, "envforge-bootstrap.js", { type: "global" });
      if (boot.error) return fail("sandbox", escaped(boot.error));
      const api = boot.value;
      const fn = (name: string) => {
        const h = c.getProp(api, name);
        handles.push(h);
        return h;
      };
      const [start, install, register, callFn, settleFn, saveFn] = ["start", "install", "register", "call", "settle", "save"].map(fn) as [
        QuickJSHandle, QuickJSHandle, QuickJSHandle, QuickJSHandle, QuickJSHandle, QuickJSHandle,
      ];
      api.dispose();
      const invoke = (f: QuickJSHandle, ...args: (string | number | QuickJSHandle)[]): Fail | undefined => {
        const hs = args.map((a) => (typeof a === "string" ? c.newString(a) : typeof a === "number" ? c.newNumber(a) : a));
        const r = c.callFunction(f, c.undefined, ...hs);
        hs.forEach((h, i) => typeof args[i] !== "object" && h.dispose());
        if (r.error) return escaped(r.error);
        r.value.dispose();
        return undefined;
      };
      const started = invoke(start, seed, limits.maxOutputChars);
      if (started) return fail("sandbox", started);
      if (program.prelude.trim() !== "") {
        const r = ctx.evalCode(program.prelude, "prelude.js", { type: "global" });
        if (r.error) return fail("prelude", escaped(r.error));
        r.value.dispose();
      }
      for (const tool of program.tools) {
        const r = ctx.evalCode(toolExpression(tool.source), `tools/${tool.name}.js`, { type: "global" });
        if (r.error) return fail("tool", escaped(r.error), tool.name);
        const registered = invoke(register, tool.name, r.value);
        r.value.dispose();
        if (registered) return fail("tool", registered, tool.name);
      }
      const installed = invoke(install, checkpointJson);
      if (installed) return fail("state", installed);
      for (const h of [start, install, register]) h.dispose();
      const indices = program.tools.map((_, i) => c.newNumber(i));
      return { ok: true, sandbox: new Sandbox(instance, limits, clock, rt, ctx, callFn, settleFn, saveFn, indices) };
    } catch (err) {
      instance.poisoned = true;
      return fail("sandbox", hostFailure(err));
    }
  }

  get usable(): boolean {
    return this.alive && !this.instance.poisoned;
  }

  /**
   * Calls tool number `index` with its arguments as JSON text: one string into the
   * sandbox, one QTS_Call, one string out, through the C API without wrapper objects.
   */
  call(index: number, argsJson: string): Outcome {
    this.arm();
    const { c, heap } = this.instance;
    const ctx = this.ctxPtr;
    try {
      const bytes = heap.lengthBytesUTF8(argsJson) + 1;
      const utf8 = heap._malloc(bytes);
      if (utf8 === 0) return { type: "limit", kind: "out_of_memory", detail: "no memory left for the arguments" };
      heap.stringToUTF8(argsJson, utf8, bytes);
      const arg = c.QTS_NewString(ctx, utf8);
      heap._free(utf8);
      const argError = c.QTS_ResolveException(ctx, arg);
      if (argError) {
        c.QTS_FreeValuePointer(ctx, arg);
        return this.escapedPointer(argError);
      }
      const words = this.instance.words();
      words[this.argv >> 2] = this.indices[index]!.value;
      words[(this.argv >> 2) + 1] = arg;
      const result = c.QTS_Call(ctx, this.callFn.value, this.undefinedPtr, 2, this.argv);
      c.QTS_FreeValuePointer(ctx, arg);
      const error = c.QTS_ResolveException(ctx, result);
      if (error) {
        c.QTS_FreeValuePointer(ctx, result);
        return this.escapedPointer(error);
      }
      const out = c.QTS_GetString(ctx, result);
      let raw = heap.UTF8ToString(out);
      c.QTS_FreeCString(ctx, out);
      c.QTS_FreeValuePointer(ctx, result);
      if (raw === "p" || this.rt.hasPendingJob()) {
        const drained = this.drainJobs();
        if (drained) return drained;
        if (raw === "p") raw = this.text(this.settleFn) ?? "p";
      }
      // Async code can catch the deadline's interrupt as a rejection; past the deadline is a timeout all the same.
      if (this.clock.interrupted) return { type: "limit", kind: "timeout", detail: "the deadline passed while promise jobs ran" };
      return decode(raw);
    } catch (err) {
      return this.crash(err);
    }
  }

  /** `{"state": ..., "rng": [a, b, c, d]}`: everything a new sandbox needs to continue from here. */
  checkpoint(): { ok: true; json: string } | { ok: false; failure: Fail } {
    this.arm();
    try {
      const r = this.ctx.callFunction(this.saveFn, this.ctx.undefined);
      if (r.error) return { ok: false, failure: this.escaped(r.error) };
      const json = this.ctx.getString(r.value);
      r.value.dispose();
      return { ok: true, json };
    } catch (err) {
      return { ok: false, failure: this.crash(err) };
    }
  }

  /** Frees the runtime; a poisoned instance is not touched again, only dropped. */
  dispose(): void {
    if (!this.alive) return;
    this.alive = false;
    if (this.instance.poisoned) return;
    try {
      for (const h of [this.callFn, this.settleFn, this.saveFn, ...this.indices]) h.dispose();
      this.instance.heap._free(this.argv);
      this.ctx.dispose();
      this.rt.dispose();
    } catch {
      this.instance.poisoned = true;
    }
  }

  private arm(): void {
    this.clock.interrupted = false;
    this.clock.deadline = performance.now() + this.limits.timeoutMs;
  }

  /** Runs promise jobs until none is left, still under the call's deadline. */
  private drainJobs(): Outcome | undefined {
    while (this.rt.hasPendingJob()) {
      if (performance.now() > this.clock.deadline) return { type: "limit", kind: "timeout", detail: "promise jobs still pending" };
      const r = this.rt.executePendingJobs(1000);
      if (r.error) return this.escaped(r.error);
    }
    return undefined;
  }

  private text(fn: QuickJSHandle): string | undefined {
    const r = this.ctx.callFunction(fn, this.ctx.undefined);
    if (r.error) {
      r.error.dispose();
      return undefined;
    }
    const s = this.ctx.getString(r.value);
    r.value.dispose();
    return s;
  }

  private escaped(error: QuickJSHandle): Fail {
    return classifyEscape(this.ctx, error, this.clock.interrupted);
  }

  private escapedPointer(error: number): Fail {
    const { c, heap } = this.instance;
    let dumped: unknown;
    try {
      const utf8 = c.QTS_Dump(this.ctxPtr, error);
      const text = heap.UTF8ToString(utf8);
      c.QTS_FreeCString(this.ctxPtr, utf8);
      dumped = parseDump(text);
    } catch {
      dumped = "out of memory";
    } finally {
      c.QTS_FreeValuePointer(this.ctxPtr, error);
    }
    return classify(describe(dumped), this.clock.interrupted);
  }

  private crash(err: unknown): Fail {
    this.instance.poisoned = true;
    this.alive = false;
    return hostFailure(err);
  }
}

/** Parenthesised, a function declaration and a function expression both evaluate to the function. */
function toolExpression(source: string): string {
  return `(${source.trim().replace(/;+$/, "")}\n)`;
}

/**
 * Parses the prelude and every tool without running them, so every syntax error is
 * reported at once, each naming its tool, rather than only the first one setup meets.
 */
export function syntaxErrors(instance: Instance, program: Program, limits: SandboxLimits): SetupFailure[] {
  const failures: SetupFailure[] = [];
  try {
    const rt = instance.qjs.newRuntime();
    rt.setMaxStackSize(limits.stackBytes);
    const ctx = rt.newContext();
    const check = (code: string, file: string, where: SetupFailure["where"], tool?: string) => {
      const r = ctx.evalCode(code, file, { type: "global", compileOnly: true });
      if (r.error) {
        const f = classifyEscape(ctx, r.error, false);
        const message = f.type === "error" ? f.message : f.detail;
        failures.push(tool === undefined ? { where, kind: "error", message } : { where, tool, kind: "error", message });
      } else r.value.dispose();
    };
    check(program.prelude, "prelude.js", "prelude");
    for (const tool of program.tools) check(toolExpression(tool.source), `tools/${tool.name}.js`, "tool", tool.name);
    ctx.dispose();
    rt.dispose();
  } catch (err) {
    instance.poisoned = true;
    const f = hostFailure(err);
    failures.push({ where: "sandbox", kind: f.kind, message: f.detail });
  }
  return failures;
}

export function decode(raw: string): Outcome {
  const body = raw.slice(1);
  switch (raw[0]) {
    case "j":
      return { type: "value", json: body };
    case "e":
      return { type: "error", kind: "tool_error", message: JSON.parse(body) as string };
    case "u":
      return { type: "error", kind: "invalid_output", message: body };
    case "l":
      return { type: "too_large", chars: Number(body) };
    case "m":
      return { type: "limit", kind: "out_of_memory", detail: body };
    case "o":
      return { type: "limit", kind: "stack_overflow", detail: body };
    default:
      return { type: "error", kind: "invalid_output", message: "the tool returned a promise that never settled" };
  }
}

/**
 * An exception the dispatcher could not catch: the deadline's uncatchable interrupt, or an
 * out-of-memory or stack error raised while handling another error. Reading it may itself
 * fail when memory is exhausted, which then counts as out of memory.
 */
function classifyEscape(ctx: QuickJSContext, error: QuickJSHandle, interrupted: boolean): Fail {
  let text: string;
  try {
    text = describe(ctx.dump(error));
  } catch {
    text = "out of memory";
  } finally {
    error.dispose();
  }
  return classify(text, interrupted);
}

function classify(text: string, interrupted: boolean): Fail {
  if (interrupted) return { type: "limit", kind: "timeout", detail: text };
  if (text === "null" || text === "[unsupported type]" || /out of memory/.test(text)) return { type: "limit", kind: "out_of_memory", detail: text };
  // An interrupt we did not ask for: the host ran out of native stack inside QuickJS's interrupt callback.
  if (/stack overflow|interrupted/.test(text)) return { type: "limit", kind: "stack_overflow", detail: text };
  return { type: "error", kind: "tool_error", message: text };
}

/** QTS_Dump writes JSON for values it can, and plain text otherwise. */
function parseDump(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `SyntaxError: unexpected token (at tools/get_film.js:3:7)` from a dumped QuickJS error. */
function describe(dumped: unknown): string {
  if (dumped !== null && typeof dumped === "object" && "message" in dumped) {
    const e = dumped as { name?: unknown; message?: unknown; stack?: unknown };
    const where = typeof e.stack === "string" ? /([\w./-]+\.js:\d+:\d+)/.exec(e.stack)?.[1] : undefined;
    return `${String(e.name ?? "Error")}: ${String(e.message)}${where && !where.startsWith("envforge-") ? ` (at ${where})` : ""}`;
  }
  return String(dumped);
}

/**
 * An exception thrown by the WebAssembly code itself, not by QuickJS: V8 ran out of native
 * stack inside deeply nested QuickJS C code (parsers and JSON use far more native stack than
 * QuickJS's own stack check measures), or the C code aborted.
 */
function hostFailure(err: unknown): LimitFail {
  if (err instanceof RangeError) return { type: "limit", kind: "stack_overflow", detail: err.message };
  return { type: "limit", kind: "out_of_memory", detail: `the sandbox crashed: ${err instanceof Error ? err.message : String(err)}` };
}
