// An episode: its own sandbox and state, calls validated and run in arrival order, and rollback of calls stopped by a limit.
import type { ValidateFunction } from "ajv";
import type { CallErrorKind, CallResult, SandboxLimits } from "../spec/index.ts";
import { checkArguments } from "./args.ts";
import { acquireInstance, releaseInstance, takeIdleInstance, type Instance } from "./engine.ts";
import { Sandbox, type LimitKind, type Outcome, type Program, type SetupFailure } from "./sandbox.ts";
import { toolOutputText } from "./text.ts";

export interface Episode {
  /** Validates the arguments, runs the tool in this episode's sandbox, and never rejects for anything the tool does. */
  call(name: string, args: unknown): Promise<CallResult>;
  /** A deep copy of this episode's state as of the last finished call. */
  snapshot(): unknown;
  close(): void;
  readonly closed: boolean;
  /** Calls made while the episode was open, failed ones included. */
  readonly callCount: number;
  [Symbol.dispose](): void;
}

/** What every episode of one compiled environment shares. */
export interface EpisodeParts {
  program: Program;
  limits: SandboxLimits;
  maxBytes: number;
  tools: ReadonlyMap<string, { index: number; validate: ValidateFunction }>;
  initialStateJson: string;
}

const LIMIT_MESSAGES: Record<LimitKind, (limits: SandboxLimits) => string> = {
  timeout: (l) => `the call ran longer than ${l.timeoutMs} ms and was stopped`,
  out_of_memory: (l) => `the call used more than ${Math.round(l.memoryBytes / 2 ** 20)} MiB of memory and was stopped`,
  stack_overflow: () => "the call nested too deeply (recursion beyond the stack limit) and was stopped",
};

/**
 * Rollback works from a checkpoint (the state and random-generator position as JSON, held
 * by the host) plus the log of calls made since: a fresh sandbox installs the checkpoint and
 * replays the log, which is exact because the sandbox is deterministic. Checkpoints are
 * taken every so often rather than per call, so a call costs nothing extra; these bounds
 * keep a replay short and the checkpoint cost under a tenth of the time spent in calls.
 */
const CHECKPOINT_EVERY_CALLS = 16;
const CHECKPOINT_COST_SHARE = 10;
const MAX_LOGGED_MS = 1000;
const MAX_LOGGED_CALLS = 1024;

export class SandboxEpisode implements Episode {
  private sandbox: Sandbox | undefined;
  private checkpointJson: string;
  private log: { index: number; args: string }[] = [];
  private loggedMs = 0;
  private checkpointMs = 0;
  private broken: { kind: CallErrorKind; error: string } | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private calls = 0;

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

  call(name: string, args: unknown): Promise<CallResult> {
    if (this.isClosed) return Promise.resolve(closedResult(0));
    this.calls++;
    // Calls run one at a time in arrival order, each from a fresh microtask (a shallow native stack for QuickJS).
    const go = () => this.run(name, args);
    const result = this.tail.then(go, go);
    this.tail = result.catch(() => undefined);
    return result;
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

  private async run(name: string, args: unknown): Promise<CallResult> {
    const started = performance.now();
    const failed = (kind: CallErrorKind, error: string): CallResult => ({ ok: false, kind, error, ms: performance.now() - started });
    if (this.isClosed) return closedResult(performance.now() - started);
    const tool = this.parts.tools.get(name);
    if (!tool) return failed("unknown_tool", `unknown tool "${name}"; available tools: ${[...this.parts.tools.keys()].join(", ")}`);
    const checked = checkArguments(tool.validate, args);
    if (!checked.ok) return failed("invalid_arguments", checked.message);
    let sandbox = this.sandbox;
    if (!sandbox?.usable) sandbox = await this.restore();
    if (!sandbox) return failed(this.broken?.kind ?? "episode_closed", this.broken?.error ?? "the episode is closed");
    const callStarted = performance.now();
    const outcome = sandbox.call(tool.index, checked.json);
    const callMs = performance.now() - callStarted;
    if (outcome.type === "limit") {
      const message = `${LIMIT_MESSAGES[outcome.kind](this.parts.limits)}; it had no effect on the episode's state`;
      await this.restore();
      const restoreFailed = this.broken ? ` (and the episode could not be restored: ${this.broken.error})` : "";
      return failed(outcome.kind, message + restoreFailed);
    }
    this.record(sandbox, tool.index, checked.json, callMs);
    return this.result(outcome, started);
  }

  private result(outcome: Exclude<Outcome, { type: "limit" }>, started: number): CallResult {
    const ms = () => performance.now() - started;
    const max = this.parts.limits.maxOutputChars;
    const tooLarge = (chars: number): CallResult => ({
      ok: false,
      kind: "output_too_large",
      error: `the output has ${chars} characters, more than the limit of ${max}`,
      ms: ms(),
    });
    switch (outcome.type) {
      case "string":
        return { ok: true, text: outcome.text, value: outcome.text, ms: ms() };
      case "too_large":
        return tooLarge(outcome.chars);
      case "error":
        return { ok: false, kind: outcome.kind, error: outcome.message, ms: ms() };
      case "value": {
        let value: Extract<CallResult, { ok: true }>["value"];
        let text: string;
        try {
          value = JSON.parse(outcome.json);
          text = toolOutputText(value);
        } catch (err) {
          return { ok: false, kind: "invalid_output", error: `the output cannot be shown as text: ${(err as Error).message}`, ms: ms() };
        }
        if (text.length > max) return tooLarge(text.length);
        return { ok: true, text, value, ms: ms() };
      }
    }
  }

  /** Logs a finished call for replay, and checkpoints when the log has grown enough to be worth it. */
  private record(sandbox: Sandbox, index: number, args: string, ms: number): void {
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
    const instance = old && !old.instance.poisoned ? old.instance : await acquireInstance(this.parts.maxBytes);
    if (this.isClosed) {
      releaseInstance(instance);
      return undefined;
    }
    return this.build(instance);
  }
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
