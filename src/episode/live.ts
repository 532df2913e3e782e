// One live episode below every face: a task, its own sandbox state, live reward tracking with per-step rewards, and its record.
import { randomUUID } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { RecordedCall, Recorder } from "../store/index.ts";
import { now, StoreError } from "../store/index.ts";
import { formatCallError, type CompiledEnvironment, type Episode as SandboxEpisode } from "../runtime/index.ts";
import { EpisodeTracker, failingArguments, finalAnswerFound, scoreState, scoreStep } from "../score/index.ts";
import { agentDescriptions, agentSubmitResult, type ServeMode } from "./views.ts";
import { replayRecorded, ReplayError, tookEffect, type Residency } from "./resident.ts";
import { RAW_ARGUMENTS_KEY, type CallResult, type Environment, type EpisodeScore, type EpisodeScores, type EpisodeStatus, type ParsedResponse, type StateScore, type StepScore, type StepState, type Task, type Tool, type TransportKind } from "../schema/index.ts";

export const SUBMIT_TOOL = "submit_answer";
export const DEFAULT_MAX_CALLS = 100;

/** The submit_answer tool as clients list it. */
export const SUBMIT_TOOL_DOC = {
  name: SUBMIT_TOOL,
  title: "Submit the final answer",
  description:
    "Hand in your final answer to the task. This ends the episode: no tool works after it. Returns the episode's score.",
  inputSchema: {
    type: "object" as const,
    properties: { answer: { type: "string", description: "Your final answer to the task's question." } },
    required: ["answer"],
    additionalProperties: false,
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
};

/** A tool document as MCP lists it: the environment file's JSON Schemas verbatim. */
export interface ToolDoc {
  name: string;
  title?: string;
  description: string;
  inputSchema: { type: "object"; [key: string]: unknown };
  outputSchema?: { type: "object"; [key: string]: unknown };
  annotations?: Tool["annotations"];
}

/** A tool document exactly as the environment file gives it. */
export function toolDoc(tool: Tool): ToolDoc {
  return {
    name: tool.name,
    ...(tool.annotations?.title ? { title: tool.annotations.title } : {}),
    description: tool.description,
    inputSchema: tool.input_schema as ToolDoc["inputSchema"],
    ...(tool.output_schema ? { outputSchema: tool.output_schema as ToolDoc["outputSchema"] } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
  };
}

export interface EpisodeOptions {
  env: Environment;
  task: Task;
  /** The compiled environment; called at the first tool call, so idle sessions cost no sandbox. */
  compiled: () => Promise<CompiledEnvironment>;
  recorder: Recorder;
  transport: TransportKind;
  /** A client-supplied id (a trainer's rollout id); generated when absent. */
  id?: string;
  envSha256?: string | null;
  sessionId?: string | null;
  /** Environment tool calls allowed; the call after the last one ends the episode as `limit_exceeded`. */
  maxCalls?: number;
  /** Offer the submit_answer tool (default true). */
  submitTool?: boolean;
  /** Seed of the sandbox's Math.random; recorded with the episode. */
  seed?: number;
  /** Which face opened it (mcp, rest, ors); recorded in the episode's meta. */
  face?: string;
  /** `train` keeps progress counts and the score off the agent plane (see views.ts); default `eval`. */
  mode?: ServeMode;
  /** Runs once when the episode ends, with its final status. */
  onEnd?: (status: EpisodeStatus) => void;
  /**
   * The store is shared with other processes: every call runs under the episode's lease (waiting up
   * to `leaseMs` for another process's call to finish), and when another process ran calls since
   * this one last held it, the episode catches up from the store first. Absent: the episode is this
   * process's alone.
   */
  shared?: { leaseMs: number; epoch: number };
  /** The service's memory budget, told when the sandbox opens and when calls come and go (see ResidentSet). */
  residency?: Residency;
  /** Runs once per environment call once its record is stored (ok) or failed to be (not ok, no effect). */
  onCall?: (ok: boolean, seconds: number) => void;
}

/** What `envforge://episode` shows: counts and limits, never the sub-answers or the answer. */
export interface EpisodeProgress {
  episode: string;
  environment: string;
  task: string;
  status: EpisodeStatus;
  calls: { made: number; limit: number };
  /** Sub-answer counts as the reference (ftrl) reward tracks them. */
  sub_answers: { needed: number; solved: number; pending: number };
  submit_tool: boolean;
  /** Set once the episode has ended. */
  score: EpisodeScores | null;
}

export interface CallContext {
  /** The JSON-RPC id of the tools/call request. */
  requestId?: string | number | null;
  /** The request's `_meta` (the runner puts the assistant turn there); recorded verbatim. */
  meta?: unknown;
}

/** One executed environment call as the REST and ORS faces report it: what the agent saw, never a sub-answer. */
export interface ExecutedCall {
  tool: string;
  arguments: Record<string, unknown>;
  output: string;
  is_error: boolean;
}

/** A tool call's result with the FTRL per-step reward it earned, as if it were a response of that one call. */
export interface CallOutcome {
  result: CallToolResult;
  /** Null when the call did not run (the episode had ended, or bad submit arguments). */
  step: StepScore | null;
  /** Whether the episode has ended after this call. */
  done: boolean;
}

/** A whole model response run against the episode's current state. */
export interface ResponseOutcome {
  /** What the parser read: the content and the calls. */
  parsed: ParsedResponse;
  /** Each parsed call as executed, in order, against the episode's state. */
  calls: ExecutedCall[];
  /** The FTRL per-step reward of the response (`rewards.f1` is the default) with its components. */
  step: StepScore;
  /** True once the episode has ended: a response without tool calls is the final answer and ends it. */
  done: boolean;
}

/** Another process is running a call of this episode right now and did not finish within the lease; the faces answer 503 (retry). */
export class EpisodeBusyError extends Error {
  constructor(readonly episodeId: string) {
    super(`episode "${episodeId}" is running a call in another server process; retry`);
  }
}

/** Thrown when an episode that has ended is used; the faces answer 410 Gone. */
export class EpisodeEndedError extends Error {
  constructor(
    readonly episodeId: string,
    readonly status: EpisodeStatus,
  ) {
    super(`episode "${episodeId}" has ended (${status}); open a new episode`);
  }
}

const textResult = (text: string, isError = false): CallToolResult => ({ content: [{ type: "text", text }], ...(isError ? { isError: true } : {}) });

/** The text a tool result shows the agent. */
export const textOf = (r: CallToolResult): string => r.content.map((c) => (c.type === "text" ? c.text : "")).join("");

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The result of a call whose arguments text is not a JSON object: an invalid-arguments error that counts as a call. */
export const notAnObject = (raw: string): CallResult => ({ ok: false, kind: "invalid_arguments", error: `the arguments are not a JSON object: ${raw}`, ms: 0 });

/** The model's arguments text when it was not a JSON object (see RAW_ARGUMENTS_KEY), else null. */
function rawArguments(meta: unknown): string | null {
  const raw = isPlainObject(meta) ? meta[RAW_ARGUMENTS_KEY] : undefined;
  return typeof raw === "string" ? raw : null;
}

export class EpisodeSession {
  readonly id: string;
  readonly env: Environment;
  readonly task: Task;
  readonly maxCalls: number;
  readonly submitTool: boolean;
  readonly mode: ServeMode;
  private readonly options: EpisodeOptions;
  private readonly tools: Map<string, Tool>;
  private ftrl: EpisodeTracker;
  private strict: EpisodeTracker;
  /** The lease epoch this process's state reflects, in a shared store (see `EpisodeOptions.shared`). */
  private epoch: number | null;
  /** Calls (and answers) queued or running, their records not yet committed: such an episode is never evicted. */
  private inFlight = 0;
  /**
   * Set while there is no sandbox but calls took effect (evicted, or taken over from another
   * process): the next call rebuilds it from the record. `applied` is how many calls had taken
   * effect here (null: as many as the store holds). After a replay that did not match the record it
   * stays set and `replayFailed` is true.
   */
  private rebuild: { applied: number | null } | null = null;
  private replayFailed = false;
  private currentStatus: EpisodeStatus = "running";
  private ending: Promise<void> | null = null;
  private begun = false;
  private seq = 0;
  private sandbox: Promise<SandboxEpisode> | null = null;
  /** The sandbox once it is running, so the final state can be read when the episode ends. */
  private opened: SandboxEpisode | null = null;
  /** Calls run one at a time in arrival order, so seq order is execution order and state changes never interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private finalScore: EpisodeScores | null = null;
  /** The last call until its record is committed: the commit, and how to take the call back if it fails. */
  private uncommitted: { committed: Promise<unknown>; undo: () => Promise<void> } | null = null;

  constructor(options: EpisodeOptions) {
    this.options = options;
    this.id = options.id ?? randomUUID();
    this.env = options.env;
    this.task = options.task;
    this.maxCalls = options.maxCalls ?? DEFAULT_MAX_CALLS;
    this.submitTool = options.submitTool ?? true;
    this.mode = options.mode ?? "eval";
    this.tools = new Map(options.env.tools.map((t) => [t.name, t]));
    if (this.submitTool && this.tools.has(SUBMIT_TOOL)) {
      throw new Error(`environment "${options.env.id}" has its own tool named ${SUBMIT_TOOL}; serve it with the submit tool turned off`);
    }
    this.ftrl = new EpisodeTracker(options.task.unsolved_set, "ftrl");
    this.strict = new EpisodeTracker(options.task.unsolved_set, "strict");
    this.epoch = options.shared?.epoch ?? null;
  }

  get status(): EpisodeStatus {
    return this.currentStatus;
  }

  /** Whether the episode is leased per call in a store shared with other processes. */
  get shared(): boolean {
    return this.options.shared !== undefined;
  }

  /** Lets a shared episode go from this process without ending it (after its calls in flight): another process, or this one later, takes it up from the store. */
  dispose(): Promise<void> {
    const done = this.queue.then(() => this.dropSandbox());
    this.queue = done;
    return done;
  }

  /** Whether the episode has ended or is ending: no call runs any more. */
  get ended(): boolean {
    return this.ending !== null;
  }

  /** The tools the agent gets: the environment's, then submit_answer when it is offered. */
  toolDocs(): ToolDoc[] {
    return [...this.env.tools.map(toolDoc), ...(this.submitTool ? [{ ...SUBMIT_TOOL_DOC, description: agentDescriptions(this.mode).submit }] : [])];
  }

  /** The prompt: the task's question, and how to hand in the answer. */
  get instructions(): string {
    return `${this.task.question}${this.submitTool ? `\n\nWhen you know the answer, call the ${SUBMIT_TOOL} tool with it; that ends the episode.` : ""}`;
  }

  get recorder(): Recorder {
    return this.options.recorder;
  }

  /** Inserts the episode's row; the recording transport calls it at the first message. Idempotent. */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    const o = this.options;
    o.recorder.beginEpisode({
      id: this.id,
      kind: "episode",
      envId: this.env.id,
      envSha256: o.envSha256 ?? null,
      taskId: this.task.id,
      transport: o.transport,
      sessionId: o.sessionId ?? null,
      needed: this.ftrl.needed,
      meta: { max_calls: this.maxCalls, submit_tool: this.submitTool, ...(this.mode === "train" ? { mode: "train" } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.face ? { face: o.face } : {}) },
      // In a shared store the episode is leased from the start (expired, so any process may take it between calls).
      ...(o.shared ? { leaseUntil: 0 } : {}),
    });
  }

  /**
   * Runs `job` after every call that arrived before it: one episode, one line of calls, whatever face
   * sends them. The next job (or the ending) waits for this one's record: a call that could not be
   * stored is taken back first.
   */
  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.options.residency?.used(this);
    const run = this.queue.then(this.options.shared ? () => this.leased(job) : job);
    const settle = () => this.settle().catch(() => undefined);
    this.queue = run.then(settle, settle).then(() => {
      if (--this.inFlight === 0) this.options.residency?.idle(this);
    });
    return run;
  }

  /**
   * Closes the sandbox of an idle episode to save its memory; the session (trackers, counters)
   * stays, and the next call rebuilds the sandbox from the seed and the calls in the store. False,
   * and nothing done, when a call is in flight, the episode is ending, or no sandbox is open.
   */
  evict(): boolean {
    const sandbox = this.opened;
    if (this.inFlight > 0 || this.ending || !sandbox) return false;
    this.rebuild = { applied: sandbox.applied };
    this.sandbox = null;
    this.opened = null;
    sandbox.close();
    return true;
  }

  /** Whether a call (or answer) is queued or running: such an episode is neither evicted nor reclaimed. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Whether the sandbox is open now: false before the first call, and while evicted (the next call rebuilds it). */
  get resident(): boolean {
    return this.opened !== null;
  }

  /** Runs a job under the episode's lease in a shared store, and lets the lease go once its record is in. */
  private async leased<T>(job: () => Promise<T>): Promise<T> {
    if (this.ending) return job();
    await this.acquire();
    try {
      return await job();
    } finally {
      await this.settle().catch(() => undefined);
      if (!this.ending) await this.options.recorder.release(this.id).catch(() => undefined);
    }
  }

  /**
   * Takes the episode's lease, waiting while another process runs a call (up to the lease time).
   * When the epoch moved, other processes ran calls since this one last did: the state is rebuilt
   * from the store. An episode ended elsewhere ends here too.
   */
  private async acquire(): Promise<void> {
    const { recorder, shared } = this.options;
    const deadline = performance.now() + shared!.leaseMs;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      const lease = await recorder.lease(this.id, now() + shared!.leaseMs);
      if (lease) return this.holding(lease.epoch);
      const row = await recorder.loadEpisode(this.id);
      if (!row || row.status !== "running") {
        const status = (row?.status ?? "closed") as Exclude<EpisodeStatus, "running">;
        this.adoptEnd(status);
        throw new EpisodeEndedError(this.id, status);
      }
      if (performance.now() >= deadline) throw new EpisodeBusyError(this.id);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** The lease is this process's at `epoch`: when that moved, other processes ran calls since this one last did, and the state catches up. */
  private async holding(epoch: number): Promise<void> {
    if (epoch !== this.epoch) await this.catchUp();
    this.epoch = epoch;
  }

  /** Rebuilds counts and sub-answers from the record, and drops the sandbox: the next call replays the record into a new one. */
  private async catchUp(): Promise<void> {
    await this.recount();
    this.dropSandbox();
    this.rebuild = { applied: null };
  }

  /**
   * A shared episode's progress as the store has it (other processes may have run calls since this
   * one last did), after the calls queued here. The sandbox is left as it is: a call that finds the
   * lease moved rebuilds it anyway.
   */
  async refresh(): Promise<void> {
    if (!this.options.shared || this.ending) return;
    const done = this.queue.then(async () => {
      if (!this.ending) await this.recount();
    });
    this.queue = done.catch(() => undefined);
    await done;
  }

  /** Counts and sub-answers from the record; returns the recorded calls. */
  private async recount(): Promise<RecordedCall[]> {
    const calls = await this.options.recorder.recordedCalls(this.id);
    this.ftrl = new EpisodeTracker(this.task.unsolved_set, "ftrl");
    this.strict = new EpisodeTracker(this.task.unsolved_set, "strict");
    for (const c of calls) {
      const executed = { name: c.tool, arguments: c.arguments, output: c.output, is_error: c.isError };
      this.ftrl.record(executed);
      this.strict.record(executed);
    }
    this.seq = calls.at(-1)?.seq ?? 0;
    this.begun = true;
    return calls;
  }

  /** Frees the sandbox; the next call opens a new one. */
  private dropSandbox(): void {
    const sandbox = this.sandbox;
    this.sandbox = null;
    this.opened = null;
    // Out of the budget's count too: a sandbox dropped for a takeover would otherwise stay listed, never evictable.
    this.options.residency?.forget(this.id);
    sandbox?.then((s) => s.close(), () => undefined);
  }

  /** A new sandbox from the seed; after an eviction or a takeover, brought back to where the record says the episode was. */
  private async openSandbox(): Promise<SandboxEpisode> {
    const compiled = await this.options.compiled();
    const seed = this.options.seed !== undefined ? { seed: this.options.seed } : {};
    const rebuild = this.rebuild;
    if (!rebuild) return compiled.openEpisode(seed);
    const calls = (await this.options.recorder.recordedCalls(this.id)).filter(tookEffect);
    const sandbox = compiled.openEpisode(seed);
    try {
      await replayRecorded(this.id, sandbox, calls, rebuild.applied ?? calls.length);
    } catch (err) {
      sandbox.close();
      if (err instanceof ReplayError) {
        this.replayFailed = true;
        this.options.residency?.rebuilt(calls.length, false);
      }
      throw err;
    }
    this.options.residency?.rebuilt(calls.length, true);
    this.rebuild = null;
    return sandbox;
  }

  /** The episode was ended by another process: end it here without writing (the first ending won). */
  private adoptEnd(status: Exclude<EpisodeStatus, "running">): void {
    if (this.currentStatus !== "running") return;
    this.ending = Promise.resolve();
    this.currentStatus = status;
    this.dropSandbox();
    this.options.onEnd?.(status);
  }

  /** Waits for the last call's commit; when it failed, the call takes no effect (state, counts and sub-answers as before it) and the failure is thrown. */
  private async settle(): Promise<void> {
    const last = this.uncommitted;
    this.uncommitted = null;
    if (!last) return;
    try {
      await last.committed;
    } catch (err) {
      await last.undo();
      throw err;
    }
  }

  /**
   * Runs a tools/call: an environment tool in the sandbox, or submit_answer. Failures are isError
   * results. Its record commits with the response (the recording transport holds the response until
   * then), so the call is not waited for here; a store failure is a JSON-RPC internal error that says
   * the call did not take effect, without the server's paths.
   */
  async callTool(name: string, args: Record<string, unknown>, ctx: CallContext = {}): Promise<CallToolResult> {
    try {
      return (await this.enqueue(() => this.callNow(name, args, ctx))).result;
    } catch (err) {
      throw err instanceof StoreError ? Object.assign(new Error(err.publicMessage), { code: -32603 }) : err;
    }
  }

  /**
   * Runs one call and scores it as a response of that one call in the state before it (an
   * environment tool: `f1 = 2q/2`), or, for submit_answer, as a final answer with no calls.
   * Resolves once its record is stored; a StoreError means it did not take effect.
   */
  call(name: string, args: Record<string, unknown>, ctx: CallContext = {}): Promise<CallOutcome> {
    return this.enqueue(async () => {
      const outcome = await this.callNow(name, args, ctx);
      await this.settle();
      return outcome;
    });
  }

  private async callNow(name: string, args: Record<string, unknown>, ctx: CallContext): Promise<CallOutcome> {
    if (this.submitTool && name === SUBMIT_TOOL) return this.answerNow(args, ctx);
    const state = this.stepState();
    const ran = await this.execute(name, args, ctx);
    const step = ran.executed ? scoreStep(state, { content: "", tool_calls: [{ name, arguments: args as ParsedResponse["tool_calls"][number]["arguments"] }] }, [ran.executed.output], { errors: [ran.executed.is_error] }) : null;
    return { result: ran.result, step, done: this.ending !== null };
  }

  /** Hands in the final answer (whether or not the submit tool is offered), scored as a final answer with no calls. */
  answer(answer: string, ctx: CallContext = {}): Promise<CallOutcome> {
    return this.enqueue(async () => this.answerNow({ answer }, ctx));
  }

  private async answerNow(args: Record<string, unknown>, ctx: CallContext): Promise<CallOutcome> {
    const state = this.stepState();
    const result = await this.submit(args, ctx);
    const answered = !result.isError;
    return { result, step: answered ? scoreStep(state, { content: args.answer as string, tool_calls: [] }, []) : null, done: this.ending !== null };
  }

  /**
   * Runs a whole model response against the episode's current state: its calls in order, as
   * one uninterrupted turn. A response without calls is the episode's final answer and ends
   * it as `submitted`, as the method's episode ends at the first turn without tool calls.
   */
  respond(parsed: ParsedResponse, ctx: CallContext = {}): Promise<ResponseOutcome> {
    return this.enqueue(async () => {
      if (this.ending) throw new EpisodeEndedError(this.id, this.currentStatus);
      const state = this.stepState();
      const calls: ExecutedCall[] = [];
      for (const call of parsed.tool_calls) {
        // A call the reference keeps only to fail (arguments "[1]") fails here too, rather than running with {}.
        const text = failingArguments(call);
        const ran = await this.execute(call.name, call.arguments, text === undefined ? ctx : { ...ctx, meta: { ...(isPlainObject(ctx.meta) ? ctx.meta : {}), [RAW_ARGUMENTS_KEY]: text } });
        // Each call's record is stored before the next runs: one that cannot be is taken back, and the response stops there.
        await this.settle();
        if (ran.executed) calls.push(ran.executed);
        else calls.push({ tool: call.name, arguments: call.arguments, output: textOf(ran.result), is_error: true });
      }
      if (parsed.tool_calls.length === 0) await this.submit({ answer: parsed.content }, ctx);
      const step = scoreStep(state, parsed, calls.map((c) => c.output), { errors: calls.map((c) => c.is_error) });
      return { parsed, calls, step, done: this.ending !== null };
    });
  }

  /** The ftrl training state right now: what is pending, the solve rate, and the task's answer. */
  private stepState(): StepState {
    return { unsolved_set: this.ftrl.pending(), solve_rate: this.ftrl.metrics().solve_rate, answer: this.task.answer };
  }

  progress(): EpisodeProgress {
    return {
      episode: this.id,
      environment: this.env.id,
      task: this.task.id,
      status: this.currentStatus,
      calls: { made: this.ftrl.calls, limit: this.maxCalls },
      sub_answers: { needed: this.ftrl.needed, solved: this.ftrl.solved, pending: this.ftrl.pendingCount },
      submit_tool: this.submitTool,
      score: this.finalScore,
    };
  }

  /**
   * Ends the episode (the first ending wins): lets the call in progress finish, scores the
   * episode in both modes, stores the result and frees the sandbox. Later calls are refused.
   */
  end(status: Exclude<EpisodeStatus, "running">, final: { answer?: string | null; meta?: unknown } = {}): Promise<void> {
    if (this.ending) return this.ending;
    const answer = final.answer ?? null;
    if (this.options.shared) {
      // Waits for a call running elsewhere; an episode another process ended meanwhile has ended here too.
      const take = () => this.acquire().then(() => true, (err: unknown) => (err instanceof EpisodeEndedError ? false : Promise.reject(err)));
      return this.endLeased(take, status, answer, final.meta).then(() => undefined);
    }
    this.ending = this.queue.then(() => this.finish(status, answer, final.meta)).then(() => undefined);
    return this.ending;
  }

  /**
   * Ends a shared episode as `idle_timeout` if this process can take its lease at once and the record
   * shows no use since `before` (`Recorder.lease` checks both in one step, so no call slips in
   * between); scored from the record, as the process that opened it would have. False, and nothing
   * done, when a call holds the lease elsewhere, a client used the episode since, or it has ended.
   */
  expire(before: number): Promise<boolean> {
    const shared = this.options.shared;
    if (this.ending || !shared) return Promise.resolve(false);
    const take = async (): Promise<boolean> => {
      const lease = await this.options.recorder.lease(this.id, now() + shared.leaseMs, before);
      if (lease) await this.holding(lease.epoch);
      return lease !== null;
    };
    return this.endLeased(take, "idle_timeout", null, undefined);
  }

  /**
   * Ends a shared episode under its lease, which `take` takes (false: not taken, nothing done): the
   * calls other processes ran count, none runs meanwhile, and of two processes ending it at once the
   * second finds it ended. Resolves whether this process ended it; when it did not, it is not ending.
   */
  private endLeased(take: () => Promise<boolean>, status: Exclude<EpisodeStatus, "running">, answer: string | null, meta: unknown): Promise<boolean> {
    const run = this.queue.then(async () => ((await take()) ? this.finish(status, answer, meta) : false));
    const ending = run.then(() => undefined);
    ending.catch(() => undefined);
    this.ending = ending;
    // Still running (the lease not taken, or taking it failed): the calls that arrived meanwhile, queued behind, go on as before.
    const settled = (): void => {
      if (this.currentStatus === "running" && this.ending === ending) this.ending = null;
    };
    this.queue = run.then(settled, settled);
    return run;
  }

  /** Scores, stores and closes the episode; resolves whether the store took this ending (false: it had ended already, or was never recorded). */
  private async finish(status: Exclude<EpisodeStatus, "running">, answer: string | null, meta: unknown): Promise<boolean> {
    const score = this.scores(answer, await this.stateScore());
    let stored = false;
    try {
      if (this.begun) stored = await this.options.recorder.endEpisode(this.id, { status, finalAnswer: answer, finalMeta: meta, score });
    } catch (err) {
      // Not stored, not ended: a submit can be retried; a server stopping leaves the row for the next start to mark interrupted.
      if (status === "submitted" || status === "limit_exceeded") throw err;
    }
    this.currentStatus = status;
    this.finalScore = score;
    this.dropSandbox();
    this.options.onEnd?.(status);
    return stored;
  }

  /** The final-state check, when the task declares a final state: the sandbox's state now (the initial state if no call ran). */
  private async stateScore(): Promise<StateScore | undefined> {
    const expected = this.task.final_state;
    if (!expected) return undefined;
    let final: unknown;
    try {
      // An evicted sandbox is rebuilt to be read; one whose replay failed has no state to read.
      if (this.rebuild && this.replayFailed) throw new Error("the sandbox could not be rebuilt");
      if (this.rebuild) {
        await this.options.residency?.admit(this);
        this.opened = await (this.sandbox = this.openSandbox());
      }
      final = this.opened ? await this.opened.state() : this.env.initial_state;
    } catch {
      // A sandbox broken by a limit has no state to read; nothing expected can be shown to have happened.
      return { state_match: 0, changes_made: 0, expected_changes: expected.changes.length, unexpected_changes: 0 };
    }
    return scoreState(this.env.initial_state, final, expected);
  }

  private scores(answer: string | null, state: StateScore | undefined): EpisodeScores {
    const one = (t: EpisodeTracker): EpisodeScore => ({
      ...t.metrics(),
      mode: t.mode,
      answer_correct: answer === null ? null : finalAnswerFound(answer, this.task.answer, t.mode),
      ...(state ? { state } : {}),
    });
    return { ftrl: one(this.ftrl), strict: one(this.strict) };
  }

  /** Ends the episode from inside a call; when the end cannot be stored the episode stays open and the call fails. */
  private async endNow(status: "submitted" | "limit_exceeded" | "error", answer: string | null, meta: unknown): Promise<void> {
    const done = this.finish(status, answer, meta);
    // From here no call runs, and end() waits for this ending rather than starting its own.
    this.ending = done.then(
      () => undefined,
      () => undefined,
    );
    try {
      await done;
    } catch (err) {
      this.ending = null;
      throw err;
    }
  }

  private endedResult(): CallToolResult {
    return textResult(`this episode has ended (${this.currentStatus}); start a new session for a new episode`, true);
  }

  /** Runs one environment call; `executed` is set when it ran (and so was recorded and counted). */
  private async execute(name: string, args: Record<string, unknown>, ctx: CallContext): Promise<{ result: CallToolResult; executed: ExecutedCall | null }> {
    if (this.ending) return { result: this.endedResult(), executed: null };
    const failure = this.options.recorder.failure;
    if (failure) throw failure;
    if (this.ftrl.calls >= this.maxCalls) {
      await this.endNow("limit_exceeded", null, undefined);
      return { result: textResult(`call limit reached: an episode allows at most ${this.maxCalls} tool calls, so this one has ended (limit_exceeded)`, true), executed: null };
    }
    if (!this.sandbox) {
      // A slot first: with every slot holding a call in flight, this waits rather than open one more sandbox.
      await this.options.residency?.admit(this);
      this.sandbox = this.openSandbox();
    }
    const startedAt = now();
    let sandbox: SandboxEpisode;
    try {
      sandbox = await this.sandbox;
      if (!this.opened) {
        this.opened = sandbox;
        this.options.residency?.opened(this);
      }
    } catch (err) {
      this.sandbox = null;
      this.options.residency?.forget(this.id);
      if (err instanceof ReplayError) {
        // The record and the runtime disagree: the episode cannot go on, and says where they part.
        await this.endNow("error", null, { error: err.message, ...(err.seq !== null ? { replay_mismatch_seq: err.seq } : {}) });
        return { result: textResult(formatCallError(name, `${err.message}; this episode has ended (error)`), true), executed: null };
      }
      return { result: textResult(formatCallError(name, `the environment could not be started: ${(err as Error).message}`), true), executed: null };
    }
    const raw = rawArguments(ctx.meta);
    const result: CallResult =
      raw === null ? await sandbox.call(name, args) : notAnObject(raw);
    const output = result.ok ? result.text : formatCallError(name, result.error);
    const executed = { name, arguments: args, output, is_error: !result.ok };
    const solvedFtrl = this.ftrl.record(executed);
    const solvedStrict = this.strict.record(executed);
    this.seq++;
    const latencyMs = now() - startedAt;
    const committed = this.options.recorder.recordCall({
      episodeId: this.id,
      seq: this.seq,
      requestId: ctx.requestId === undefined || ctx.requestId === null ? null : String(ctx.requestId),
      tool: name,
      arguments: args,
      output,
      isError: !result.ok,
      errorKind: result.ok ? null : result.kind,
      solvedFtrl,
      solvedStrict,
      startedAt,
      latencyMs,
      assistantMeta: ctx.meta,
      ...(this.epoch !== null ? { epoch: this.epoch } : {}),
    });
    const onCall = this.options.onCall;
    if (onCall) committed.then(() => onCall(result.ok, latencyMs / 1000), () => onCall(false, latencyMs / 1000));
    this.uncommitted = {
      committed,
      undo: () => {
        this.ftrl.undoLast();
        this.strict.undoLast();
        this.seq--;
        return sandbox.undo();
      },
    };
    const done: ExecutedCall = { tool: name, arguments: args, output, is_error: !result.ok };
    if (!result.ok) return { result: textResult(output, true), executed: done };
    const tool = this.tools.get(name);
    if (tool?.output_schema && isPlainObject(result.value)) return { result: { ...textResult(output), structuredContent: result.value }, executed: done };
    return { result: textResult(output), executed: done };
  }

  private async submit(args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    if (this.ending) return this.endedResult();
    const answer = args.answer;
    if (typeof answer !== "string") {
      return textResult(formatCallError(SUBMIT_TOOL, `"answer" must be a string, got ${answer === undefined ? "nothing" : JSON.stringify(answer)}`), true);
    }
    await this.endNow("submitted", answer, ctx.meta);
    return textResult(agentSubmitResult(answer, this.finalScore, this.mode));
  }
}
