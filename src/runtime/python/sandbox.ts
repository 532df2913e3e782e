// Python environments: compiled once per interpreter, each episode its own namespace, state and random generator, with rollback.
import { createHash } from "node:crypto";
import type { ValidateFunction } from "ajv";
import type { CallErrorKind, CallResult, Environment, SandboxLimits } from "../../schema/index.ts";
import { checkArguments, compileTools } from "../args.ts";
import { failed, LIMIT_MESSAGES, type Episode } from "../episode.ts";
import { decode, type LimitKind } from "../sandbox.ts";
import { sharedInterpreter, type PythonInterpreter, type WorkerAnswer } from "./interpreter.ts";

type Json = Extract<CallResult, { ok: true }>["value"];

/** What every episode of one compiled Python environment shares. */
interface PythonParts {
  interpreter: PythonInterpreter;
  key: string;
  programJson: string;
  limits: SandboxLimits;
  tools: ReadonlyMap<string, ValidateFunction>;
  initialStateJson: string;
}

/** As in the QuickJS runtime: checkpoint every so many calls, and keep the log between checkpoints for replay. */
const CHECKPOINT_EVERY_CALLS = 16;

let nextEpisode = 0;

/** An episode whose tools run in the shared Python interpreter; `state()` reads its state (Python holds it). */
export class PythonEpisode implements Episode {
  private readonly eid = `e${nextEpisode++}`;
  private checkpointJson: string;
  private log: { name: string; args: string }[] = [];
  /** The interpreter generation this episode's namespace lives in, or undefined when it must be (re)built. */
  private openIn: number | undefined;
  private broken: { kind: CallErrorKind; error: string } | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private calls = 0;
  private kept = 0;
  /** The checkpoint and log from before the last call, when it took effect, for `undo`. */
  private undoPoint: { checkpointJson: string; log: { name: string; args: string }[] } | undefined;

  constructor(
    private readonly parts: PythonParts,
    private readonly seed: number,
  ) {
    this.checkpointJson = `{"state":${parts.initialStateJson},"rng":null}`;
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
    if (this.isClosed) return Promise.resolve(failed(performance.now(), "episode_closed", "the episode is closed"));
    this.calls++;
    return this.serial(() => this.run(name, args));
  }

  /** A copy of the state once the calls made so far have finished (Python holds it, so it is read asynchronously). */
  state(): Promise<unknown> {
    return this.serial(async () => {
      if (!(await this.ensureOpen())) throw new Error(`cannot read the episode's state: ${this.broken?.error ?? "the episode is closed"}`);
      const a = await this.request("state", [this.eid]);
      if (a.kind !== "ok") throw new Error(`cannot read the episode's state: ${describe(a)}`);
      return JSON.parse(a.result) as unknown;
    });
  }

  undo(): Promise<void> {
    return this.serial(async () => {
      const point = this.undoPoint;
      this.undoPoint = undefined;
      if (!point || this.isClosed) return;
      this.kept--;
      this.checkpointJson = point.checkpointJson;
      this.log = point.log;
      // The namespace rebuilt from the earlier checkpoint and log is the state before the call.
      await this.rollback();
    });
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.openIn !== undefined) void this.parts.interpreter.request("close", [this.eid], this.limits(), this.openIn);
    this.openIn = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private limits(): { timeoutMs: number; memoryBytes: number } {
    return { timeoutMs: this.parts.limits.timeoutMs, memoryBytes: this.parts.limits.memoryBytes };
  }

  private request(op: "open" | "call" | "save" | "state" | "close" | "load", args: (string | number)[]): Promise<WorkerAnswer> {
    return this.parts.interpreter.request(op, args, this.limits(), op === "load" ? undefined : this.openIn);
  }

  private async run(name: string, args: unknown): Promise<CallResult> {
    const started = performance.now();
    this.undoPoint = undefined;
    if (this.isClosed) return failed(started, "episode_closed", "the episode is closed");
    const validate = this.parts.tools.get(name);
    if (!validate) return failed(started, "unknown_tool", `unknown tool "${name}"; available tools: ${[...this.parts.tools.keys()].join(", ")}`);
    const checked = checkArguments(validate, args);
    if (!checked.ok) return failed(started, "invalid_arguments", checked.message);
    if (!(await this.ensureOpen())) return failed(started, this.broken?.kind ?? "episode_closed", this.broken?.error ?? "the episode is closed");
    const answer = await this.request("call", [this.eid, name, checked.json, this.parts.limits.maxOutputChars]);
    const outcome = classify(answer);
    if (outcome.type === "lost") {
      // The worker was replaced while this call waited: rebuild and run it once more.
      this.openIn = undefined;
      if (!(await this.ensureOpen())) return failed(started, this.broken?.kind ?? "episode_closed", this.broken?.error ?? "the episode is closed");
      return this.finish(classify(await this.request("call", [this.eid, name, checked.json, this.parts.limits.maxOutputChars])), name, checked.json, started);
    }
    return this.finish(outcome, name, checked.json, started);
  }

  private async finish(outcome: Outcome, name: string, argsJson: string, started: number): Promise<CallResult> {
    const max = this.parts.limits.maxOutputChars;
    switch (outcome.type) {
      case "limit":
      case "lost": {
        const kind: LimitKind = outcome.type === "lost" ? "timeout" : outcome.kind;
        await this.rollback();
        const restoreFailed = this.broken ? ` (and the episode could not be restored: ${this.broken.error})` : "";
        return failed(started, kind, `${LIMIT_MESSAGES[kind](this.parts.limits)}; it had no effect on the episode's state${restoreFailed}`);
      }
      case "host":
        return failed(started, "tool_error", outcome.message);
      case "done":
        return failed(started, "invalid_output", "the tool returned nothing");
    }
    await this.record(name, argsJson);
    switch (outcome.type) {
      case "error":
        return failed(started, outcome.kind, outcome.message);
      case "too_large":
        return failed(started, "output_too_large", `the output has ${outcome.chars} characters, more than the limit of ${max}`);
      case "value":
        return { ok: true, text: outcome.text, value: outcome.value, ms: performance.now() - started };
    }
  }

  /** Drops the namespace; the next call rebuilds it from the checkpoint and replays the log. */
  private async rollback(): Promise<void> {
    if (this.openIn !== undefined) await this.request("close", [this.eid]);
    this.openIn = undefined;
    if (!this.isClosed) await this.ensureOpen();
  }

  private async record(name: string, args: string): Promise<void> {
    this.undoPoint = { checkpointJson: this.checkpointJson, log: [...this.log] };
    this.kept++;
    this.log.push({ name, args });
    if (this.log.length < CHECKPOINT_EVERY_CALLS) return;
    const saved = await this.request("save", [this.eid]);
    if (saved.kind !== "ok") return;
    this.checkpointJson = saved.result;
    this.log = [];
  }

  /** Opens the namespace in the current interpreter if it is not there: program, checkpoint, then the logged calls. */
  private async ensureOpen(): Promise<boolean> {
    if (this.broken || this.isClosed) return false;
    const interp = this.parts.interpreter;
    if (this.openIn !== undefined && this.openIn === interp.generation) return true;
    this.openIn = undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const loaded = await interp.request("load", [this.parts.key, this.parts.programJson], this.limits());
      if (loaded.kind === "lost") continue;
      if (loaded.kind !== "ok") return this.fail("tool_error", `the environment's code could not be loaded: ${describe(loaded)}`);
      const problems = JSON.parse(loaded.result) as string[];
      if (problems.length > 0) return this.fail("tool_error", problems.join("; "));
      const generation = interp.generation;
      const opened = classify(await interp.request("open", [this.eid, this.parts.key, this.seed, this.checkpointJson], this.limits(), generation));
      if (opened.type === "lost") continue;
      if (opened.type !== "done") {
        if (opened.type === "limit") return this.fail(opened.kind, `setting up the episode hit a limit (${opened.detail})`);
        return this.fail("tool_error", `setting up the episode failed: ${"message" in opened ? opened.message : opened.type}`);
      }
      this.openIn = generation;
      for (const entry of this.log) {
        const replayed = classify(await this.request("call", [this.eid, entry.name, entry.args, this.parts.limits.maxOutputChars]));
        if (replayed.type === "limit" || replayed.type === "lost" || replayed.type === "host") {
          this.openIn = undefined;
          return this.fail(replayed.type === "limit" ? replayed.kind : "timeout", `replaying an earlier call failed (${replayed.type})`);
        }
      }
      return true;
    }
    return this.fail("timeout", "the Python interpreter kept being replaced");
  }

  private fail(kind: CallErrorKind, error: string): false {
    this.broken = { kind, error };
    return false;
  }
}

type Outcome =
  | { type: "value"; text: string; value: Json }
  | { type: "error"; kind: "tool_error" | "invalid_output"; message: string }
  | { type: "too_large"; chars: number }
  | { type: "limit"; kind: LimitKind; detail: string }
  | { type: "host"; message: string }
  | { type: "lost" }
  /** An operation without a value (opening an episode) succeeded. */
  | { type: "done" };

/** Decodes the harness's one-letter outcome codes (see `call` and `open_episode` in the harness). */
function classify(a: WorkerAnswer): Outcome {
  if (a.kind === "lost") return { type: "lost" };
  if (a.kind === "timeout") return { type: "limit", kind: "timeout", detail: "interrupted" };
  if (a.kind === "error") {
    if (/KeyboardInterrupt/.test(a.message)) return { type: "limit", kind: "timeout", detail: "interrupted" };
    if (/out of memory|MemoryError/.test(a.message)) return { type: "limit", kind: "out_of_memory", detail: a.message };
    if (/RecursionError|stack/i.test(a.message)) return { type: "limit", kind: "stack_overflow", detail: a.message };
    return { type: "host", message: a.message };
  }
  const raw = a.result;
  const body = raw.slice(1);
  switch (raw[0]) {
    case "k":
      return { type: "done" };
    case "j": {
      const cut = body.lastIndexOf("\x00");
      const text = body.slice(0, cut);
      return { type: "value", text, value: JSON.parse(body.slice(cut + 1)) as Json };
    }
    case "e":
    case "u":
    case "l":
    case "m":
    case "o": {
      // The codes the QuickJS bootstrap uses too.
      const o = decode(raw);
      if (o.type === "value") throw new Error("unreachable");
      return o;
    }
    case "t":
      return { type: "limit", kind: "timeout", detail: body };
    default:
      return { type: "host", message: `unexpected answer from the Python harness: ${raw.slice(0, 80)}` };
  }
}

function describe(a: WorkerAnswer): string {
  return a.kind === "error" ? a.message : a.kind;
}

/**
 * Checks every tool's code with the harness's guard and opens a trial episode, so an
 * environment that compiles will open episodes; returns the problems found, or the parts.
 */
export async function compilePython(
  env: Environment,
  limits: SandboxLimits,
  interpreter: PythonInterpreter = sharedInterpreter(),
): Promise<{ ok: true; openEpisode: (seed: number) => PythonEpisode } | { ok: false; problems: string[] }> {
  const compiledTools = compileTools(env);
  const problems = compiledTools.problems;
  const tools = new Map(compiledTools.tools.map((t) => [t.name, t.validate]));
  const sources = compiledTools.tools.map((t) => [t.name, t.source]);
  let initialStateJson = "{}";
  try {
    initialStateJson = JSON.stringify(env.initial_state ?? {});
  } catch (err) {
    problems.push(`initial state is not JSON: ${(err as Error).message}`);
  }
  if (problems.length > 0) return { ok: false, problems };
  const programJson = JSON.stringify({ prelude: env.implementation.prelude ?? "", tools: sources });
  const key = createHash("sha256").update(programJson).digest("hex");
  const parts: PythonParts = { interpreter, key, programJson, limits, tools, initialStateJson };
  const loaded = await interpreter.request("load", [key, programJson], limits);
  if (loaded.kind !== "ok") return { ok: false, problems: [`the Python interpreter failed: ${describe(loaded)}`] };
  const guardProblems = JSON.parse(loaded.result) as string[];
  if (guardProblems.length > 0) return { ok: false, problems: guardProblems };
  const trial = new PythonEpisode(parts, 0);
  try {
    await trial.state();
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] };
  } finally {
    trial.close();
  }
  return { ok: true, openEpisode: (seed) => new PythonEpisode(parts, seed) };
}
