// One episode, independent of any transport: a task, its own sandbox state, live reward tracking, and its record.
import { randomUUID } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Recorder } from "../store/index.ts";
import { now } from "../store/index.ts";
import { formatCallError, type CompiledEnvironment, type Episode as SandboxEpisode } from "../runtime/index.ts";
import { EpisodeTracker, finalAnswerFound, scoreState } from "../score/index.ts";
import { agentDescriptions, agentProgress, agentSubmitResult, type ServeMode } from "./agent-view.ts";
import type { Environment, EpisodeScore, EpisodeScores, EpisodeStatus, StateScore, Task, Tool, TransportKind } from "../schema/index.ts";

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
  /** `train` keeps progress counts and the score off the agent plane (see agent-view.ts); default `eval`. */
  mode?: ServeMode;
  /** Runs once when the episode ends, with its final status. */
  onEnd?: (status: EpisodeStatus) => void;
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

const textResult = (text: string, isError = false): CallToolResult => ({ content: [{ type: "text", text }], ...(isError ? { isError: true } : {}) });

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export class EpisodeSession {
  readonly id: string;
  readonly env: Environment;
  readonly task: Task;
  readonly maxCalls: number;
  readonly submitTool: boolean;
  readonly mode: ServeMode;
  private readonly options: EpisodeOptions;
  private readonly tools: Map<string, Tool>;
  private readonly ftrl: EpisodeTracker;
  private readonly strict: EpisodeTracker;
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
  }

  get status(): EpisodeStatus {
    return this.currentStatus;
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
      meta: { max_calls: this.maxCalls, submit_tool: this.submitTool, ...(this.mode === "train" ? { mode: "train" } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
    });
  }

  /** Runs a tools/call: an environment tool in the sandbox, or submit_answer. Failures are isError results. */
  callTool(name: string, args: Record<string, unknown>, ctx: CallContext = {}): Promise<CallToolResult> {
    const run = this.queue.then(() => (this.submitTool && name === SUBMIT_TOOL ? this.submit(args, ctx) : this.execute(name, args, ctx)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** What the agent may read of the progress (`envforge://episode`), given the mode. */
  agentProgress(): EpisodeProgress | Omit<EpisodeProgress, "sub_answers" | "score"> {
    return agentProgress(this.progress(), this.mode);
  }

  /** The submit_answer tool as this episode's agent sees it. */
  submitToolDoc(): typeof SUBMIT_TOOL_DOC {
    return { ...SUBMIT_TOOL_DOC, description: agentDescriptions(this.mode).submit };
  }

  /** Everything, for the control plane. */
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
    this.ending = this.queue.then(() => this.finish(status, final.answer ?? null, final.meta));
    return this.ending;
  }

  private finish(status: Exclude<EpisodeStatus, "running">, answer: string | null, meta: unknown): void {
    this.currentStatus = status;
    this.finalScore = this.scores(answer, this.stateScore());
    if (this.begun) this.options.recorder.endEpisode(this.id, { status, finalAnswer: answer, finalMeta: meta, score: this.finalScore });
    const sandbox = this.sandbox;
    this.sandbox = null;
    this.opened = null;
    sandbox?.then((s) => s.close(), () => undefined);
    this.options.onEnd?.(status);
  }

  /** The final-state check, when the task declares a final state: the sandbox's state now (the initial state if no call ran). */
  private stateScore(): StateScore | undefined {
    const expected = this.task.final_state;
    if (!expected) return undefined;
    let final: unknown;
    try {
      final = this.opened ? this.opened.snapshot() : this.env.initial_state;
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

  private endedResult(): CallToolResult {
    return textResult(`this episode has ended (${this.currentStatus}); start a new session for a new episode`, true);
  }

  private async execute(name: string, args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    if (this.ending) return this.endedResult();
    if (this.ftrl.calls >= this.maxCalls) {
      this.ending = Promise.resolve();
      this.finish("limit_exceeded", null, undefined);
      return textResult(`call limit reached: an episode allows at most ${this.maxCalls} tool calls, so this one has ended (limit_exceeded)`, true);
    }
    this.sandbox ??= this.options.compiled().then((c) => c.openEpisode(this.options.seed !== undefined ? { seed: this.options.seed } : {}));
    const startedAt = now();
    let sandbox: SandboxEpisode;
    try {
      sandbox = await this.sandbox;
      this.opened = sandbox;
    } catch (err) {
      this.sandbox = null;
      return textResult(formatCallError(name, `the environment could not be started: ${(err as Error).message}`), true);
    }
    const result = await sandbox.call(name, args);
    const output = result.ok ? result.text : formatCallError(name, result.error);
    const executed = { name, arguments: args, output, is_error: !result.ok };
    const solvedFtrl = this.ftrl.record(executed);
    const solvedStrict = this.strict.record(executed);
    this.seq++;
    this.options.recorder.recordCall({
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
      latencyMs: now() - startedAt,
      assistantMeta: ctx.meta,
    });
    if (!result.ok) return textResult(output, true);
    const tool = this.tools.get(name);
    if (tool?.output_schema && isPlainObject(result.value)) return { ...textResult(output), structuredContent: result.value };
    return textResult(output);
  }

  private async submit(args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    if (this.ending) return this.endedResult();
    const answer = args.answer;
    if (typeof answer !== "string") {
      return textResult(formatCallError(SUBMIT_TOOL, `"answer" must be a string, got ${answer === undefined ? "nothing" : JSON.stringify(answer)}`), true);
    }
    this.ending = Promise.resolve();
    this.finish("submitted", answer, ctx.meta);
    return textResult(agentSubmitResult(answer, this.finalScore, this.mode));
  }
}
