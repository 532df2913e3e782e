// An episode: its own sandbox and state, calls validated and run in arrival order, and rollback of calls stopped by a limit.
import type { ValidateFunction } from "ajv";
import type { CallErrorKind, CallResult, SandboxLimits } from "../schema/index.ts";
import { checkArguments } from "./args.ts";
import { acquireInstance, releaseInstance, takeIdleInstance, type Instance } from "./engine.ts";
import { Sandbox, type LimitKind, type Outcome, type Program, type SetupFailure } from "./sandbox.ts";
import { pythonTextOfJson } from "./text.ts";

export interface Episode {
  /** Validates the arguments, runs the tool in this episode's sandbox, and never rejects for anything the tool does. */
  call(name: string, args: unknown): Promise<CallResult>;
  /** A deep copy of this episode's state once the calls made so far have finished. */
  state(): Promise<unknown>;
  /**
   * Takes back the last call if it took effect, as a limit does (its record could not be stored,
   * so it must not take effect): the next call sees the state from before it, and `applied` drops
   * by one. Only the last call can be.
   */
  undo(): Promise<void>;
  close(): void;
  readonly closed: boolean;
  /** Calls made while the episode was open, failed ones included. */
  readonly callCount: number;
  /**
   * Calls that reached the tool code and were kept (a tool error counts: the code ran; a call
   * stopped by a limit and rolled back, refused arguments or an unknown tool do not). Replaying
   * exactly these calls, in order, on a new episode with the same seed rebuilds this one.
   */
  readonly applied: number;
  [Symbol.dispose](): void;
}

/** An episode whose sandbox runs on the calling thread, so its state can be read synchronously. */
export interface LocalEpisode extends Episode {
  /** A deep copy of this episode's state as of the last finished call. */
  snapshot(): unknown;
}

/** What every episode of one compiled environment shares. */
export interface EpisodeParts {
  program: Program;
  limits: SandboxLimits;
  maxBytes: number;
  tools: ReadonlyMap<string, { index: number; validate: ValidateFunction }>;
  initialStateJson: string;
}

type Json = Extract<CallResult, { ok: true }>["value"];

export const LIMIT_MESSAGES: Record<LimitKind, (limits: SandboxLimits) => string> = {
  timeout: (l) => `the call ran longer than ${l.timeoutMs} ms and was stopped`,
  out_of_memory: (l) => `the call used more than ${Math.round(l.memoryBytes / 2 ** 20)} MiB of memory and was stopped`,
  stack_overflow: () => "the call nested too deeply (recursion beyond the stack limit) and was stopped",
};

/**
 * Rollback works from a checkpoint (the state and random-generator position as JSON, held
 * by the host) plus the log of calls made since: a fresh sandbox runs the prelude, installs
 * the checkpoint and replays the log, which reproduces the calls exactly because the sandbox
 * is deterministic (module-level variables, which no checkpoint holds, come back as the
 * prelude and the replayed calls leave them). Checkpoints are taken every so often rather
 * than per call, so a call costs nothing extra; these bounds keep a replay short and the
 * checkpoint cost under a tenth of the time spent in calls.
 */
const CHECKPOINT_EVERY_CALLS = 16;
const CHECKPOINT_COST_SHARE = 10;
const MAX_LOGGED_MS = 1000;
const MAX_LOGGED_CALLS = 1024;

export class SandboxEpisode implements LocalEpisode {
  private sandbox: Sandbox | undefined;
  private checkpointJson: string;
  private log: { index: number; args: string }[] = [];
  private loggedMs = 0;
  private checkpointMs = 0;
  private broken: { kind: CallErrorKind; error: string } | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private calls = 0;
  private kept = 0;
  /** The checkpoint and log from before the last call, when it took effect, for `undo`. */
  private undoPoint: { checkpointJson: string; log: { index: number; args: string }[]; length: number; loggedMs: number } | undefined;

  constructor(
    private readonly parts: EpisodeParts,
    private readonly seed: number,
  ) {
    this.checkpointJson = `{"state":${parts.initialStateJson},"rng":null}`;
    // With an idle instance at hand the episode is ready now; otherwise its first call builds it.
    const instance = takeIdleInstance(parts.maxBytes);
    if (instance) this.build(instance);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get callCount(): number {
    return this.calls;
  }

  get applied(): number {
    return this.kept;
  }

  call(name: string, args: unknown): Promise<CallResult> {
    if (this.isClosed) return Promise.resolve(closedResult(0));
    this.calls++;
    // Calls run one at a time in arrival order, each from a fresh microtask (a shallow native stack for QuickJS).
    const go = this.run.bind(this, name, args);
    const result = this.tail.then(go, go);
    this.tail = result;
    return result;
  }

  state(): Promise<unknown> {
    const read = () => this.snapshot();
    return this.tail.then(read, read);
  }

  undo(): Promise<void> {
    const point = this.undoPoint;
    this.undoPoint = undefined;
    if (!point || this.isClosed) return Promise.resolve();
    this.kept--;
    this.checkpointJson = point.checkpointJson;
    this.log = point.log.slice(0, point.length);
    this.loggedMs = point.loggedMs;
    // A sandbox rebuilt from the earlier checkpoint and log is the state before the call.
    const rebuilt = this.tail.then(() => this.restore()).then(() => undefined);
    this.tail = rebuilt;
    return rebuilt;
  }

  snapshot(): unknown {
    if (this.sandbox?.usable) {
      const saved = this.sandbox.checkpoint();
      if (saved.ok) return (JSON.parse(saved.json) as { state: unknown }).state;
      if (saved.failure.type === "error") throw new Error(`cannot copy the episode's state: ${saved.failure.message}`);
    }
    if (this.log.length === 0) return (JSON.parse(this.checkpointJson) as { state: unknown }).state;
    throw new Error("cannot copy the episode's state: its sandbox is being rebuilt; try again after the next call");
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    if (sandbox) {
      sandbox.dispose();
      releaseInstance(sandbox.instance);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Synchronous unless the sandbox must be rebuilt first, so a call costs no extra promise. */
  private run(name: string, args: unknown): CallResult | Promise<CallResult> {
    const started = performance.now();
    this.undoPoint = undefined;
    if (this.isClosed) return closedResult(0);
    const tool = this.parts.tools.get(name);
    if (!tool) return failed(started, "unknown_tool", `unknown tool "${name}"; available tools: ${[...this.parts.tools.keys()].join(", ")}`);
    const checked = checkArguments(tool.validate, args);
    if (!checked.ok) return failed(started, "invalid_arguments", checked.message);
    const sandbox = this.sandbox;
    if (sandbox?.usable) return this.execute(sandbox, tool.index, checked.json, started);
    return this.restore().then((rebuilt) =>
      rebuilt
        ? this.execute(rebuilt, tool.index, checked.json, started)
        : failed(started, this.broken?.kind ?? "episode_closed", this.broken?.error ?? "the episode is closed"),
    );
  }

  private execute(sandbox: Sandbox, index: number, argsJson: string, started: number): CallResult | Promise<CallResult> {
    const callStarted = performance.now();
    const outcome = sandbox.call(index, argsJson);
    const callMs = performance.now() - callStarted;
    if (outcome.type === "limit") {
      const message = `${LIMIT_MESSAGES[outcome.kind](this.parts.limits)}; it had no effect on the episode's state`;
      return this.restore().then(() => {
        const restoreFailed = this.broken ? ` (and the episode could not be restored: ${this.broken.error})` : "";
        return failed(started, outcome.kind, message + restoreFailed);
      });
    }
    this.record(sandbox, index, argsJson, callMs);
    return this.result(outcome, started);
  }

  private result(outcome: Exclude<Outcome, { type: "limit" }>, started: number): CallResult {
    const max = this.parts.limits.maxOutputChars;
    let chars: number;
    switch (outcome.type) {
      case "error":
        return failed(started, outcome.kind, outcome.message);
      case "too_large":
        chars = outcome.chars;
        break;
      case "value": {
        const value = JSON.parse(outcome.json) as Json;
        const text = typeof value === "string" ? value : pythonTextOfJson(outcome.json);
        if (text.length <= max) return { ok: true, text, value, ms: performance.now() - started };
        chars = text.length;
      }
    }
    return failed(started, "output_too_large", `the output has ${chars} characters, more than the limit of ${max}`);
  }

  /** Logs a finished call for replay, and checkpoints when the log has grown enough to be worth it. */
  private record(sandbox: Sandbox, index: number, args: string, ms: number): void {
    this.undoPoint = { checkpointJson: this.checkpointJson, log: this.log, length: this.log.length, loggedMs: this.loggedMs };
    this.kept++;
    this.log.push({ index, args });
    this.loggedMs += ms;
    const due =
      (this.log.length >= CHECKPOINT_EVERY_CALLS && this.loggedMs >= CHECKPOINT_COST_SHARE * this.checkpointMs) ||
      this.loggedMs >= MAX_LOGGED_MS ||
      this.log.length >= MAX_LOGGED_CALLS;
    if (!due || !sandbox.usable) return;
    const t = performance.now();
    const saved = sandbox.checkpoint();
    this.checkpointMs = performance.now() - t;
    // A state that cannot be saved (not JSON, or too large to save in time) keeps the log growing instead.
    if (!saved.ok) return;
    this.checkpointJson = saved.json;
    this.log = [];
    this.loggedMs = 0;
  }

  /** Builds a sandbox in `instance` from the checkpoint and replays the log; on failure the episode is broken. */
  private build(instance: Instance): Sandbox | undefined {
    const made = Sandbox.create(instance, this.parts.program, this.parts.limits, this.seed, this.checkpointJson);
    if (!made.ok) {
      this.broken = { kind: setupKind(made.failure), error: setupMessage(made.failure) };
      releaseInstance(instance);
      return undefined;
    }
    for (const entry of this.log) {
      const replayed = made.sandbox.call(entry.index, entry.args);
      if (replayed.type === "limit") {
        made.sandbox.dispose();
        releaseInstance(instance);
        this.broken = { kind: replayed.kind, error: `replaying an earlier call hit a limit (${replayed.detail})` };
        return undefined;
      }
    }
    this.sandbox = made.sandbox;
    return made.sandbox;
  }

  /** A fresh sandbox in the same instance, or a new instance when the old one was poisoned. */
  private async restore(): Promise<Sandbox | undefined> {
    const old = this.sandbox;
    this.sandbox = undefined;
    old?.dispose();
    if (this.broken) return undefined;
    let instance: Instance;
    try {
      instance = old && !old.instance.poisoned ? old.instance : await acquireInstance(this.parts.maxBytes);
    } catch (err) {
      // WebAssembly memory is reserved up front; a process out of address space cannot make more.
      this.broken = { kind: "out_of_memory", error: `no sandbox could be created: ${(err as Error).message}` };
      return undefined;
    }
    if (this.isClosed) {
      releaseInstance(instance);
      return undefined;
    }
    return this.build(instance);
  }
}

export function failed(started: number, kind: CallErrorKind, error: string): CallResult {
  return { ok: false, kind, error, ms: performance.now() - started };
}

function closedResult(ms: number): CallResult {
  return { ok: false, kind: "episode_closed", error: "the episode is closed", ms };
}

function setupKind(f: SetupFailure): CallErrorKind {
  return f.kind === "error" ? "tool_error" : f.kind;
}

export function setupMessage(f: SetupFailure): string {
  const where = f.where === "tool" ? `tool "${f.tool}"` : f.where === "state" ? "initial state" : f.where;
  return `${where}: ${f.message}`;
}
