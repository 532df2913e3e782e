// Training rows from recorded episodes: FTRL rows (method.md §4) and OpenAI chat lines for SFT, with the export filters.
import type { EpisodeRow, Records } from "../store/index.ts";
import { EpisodeTracker } from "../score/index.ts";
import type { ChatMessage, ChatTool, Environment, FtrlRow, RewardMode } from "../schema/index.ts";
import { toolCodes } from "./codes.ts";
import { pyFloatText, pythonArgumentsText } from "./pyjson.ts";
import { chatTools, readTranscript, scoreOf, type Transcript, type TranscriptProblem } from "./transcript.ts";

export interface ExportFilter {
  envId?: string;
  /** The agent: policy ("oracle", "random") or model name. */
  model?: string;
  /** Keep episodes whose solve_f1 (in `mode`) is at least this; episodes without a score are dropped. */
  minScore?: number;
  /** Which reward's consumption and scores to use; ftrl (the reference) by default. */
  mode?: RewardMode;
  /** The rows' `split` field. */
  split?: string;
  /** Keep only episodes of these tasks (`ENV/TASK`), e.g. those inside a calibrated pass band. */
  tasks?: ReadonlySet<string>;
}

export interface ExportStats {
  /** Episodes read from the database (after the environment filter). */
  episodes: number;
  /** Episodes that gave at least one row. */
  exported: number;
  rows: number;
  /** Size of the file written. */
  bytes: number;
  /** Episodes left out, by reason. */
  skipped: Partial<Record<TranscriptProblem | "filtered" | "no_final_answer", number>>;
}

/**
 * `envforge/<env>/<task>`: the reference only says "data_source"; naming the environment and
 * task lets a reward function find both (ids never contain `/`).
 */
export const dataSource = (envId: string, taskId: string): string => `envforge/${envId}/${taskId}`;

/** Every recorded episode (not catalog or proxy sessions), oldest first, page by page; then the imported ones. */
export function* recordedEpisodes(records: Records, envId?: string): Generator<EpisodeRow> {
  for (const kind of ["episode", "imported"] as const) {
    let offset: number | null = 0;
    while (offset !== null) {
      const page = records.listEpisodes({ kind, order: "oldest", limit: 1000, offset, ...(envId !== undefined ? { envId } : {}) });
      yield* page.episodes;
      offset = page.nextOffset;
    }
  }
}

/** Transcripts that pass the filters; `stats` counts what was read and why episodes were left out. */
export function* transcripts(records: Records, environments: readonly Environment[], filter: ExportFilter, stats: ExportStats): Generator<Transcript> {
  const byId = new Map(environments.map((e) => [e.id, e]));
  const mode = filter.mode ?? "ftrl";
  const skip = (reason: keyof ExportStats["skipped"]): void => {
    stats.skipped[reason] = (stats.skipped[reason] ?? 0) + 1;
  };
  for (const episode of recordedEpisodes(records, filter.envId)) {
    stats.episodes++;
    if (filter.tasks !== undefined && !filter.tasks.has(`${episode.envId}/${episode.taskId}`)) {
      skip("filtered");
      continue;
    }
    if (filter.minScore !== undefined) {
      const score = scoreOf(episode, mode);
      if (!score || score.solve_f1 < filter.minScore) {
        skip("filtered");
        continue;
      }
    }
    const read = readTranscript(records, episode, byId);
    if (!read.ok) {
      skip(read.problem);
      continue;
    }
    if (filter.model !== undefined && read.transcript.agent !== filter.model) {
      skip("filtered");
      continue;
    }
    yield read.transcript;
  }
}

/**
 * The FTRL rows of one transcript, as the reference's sampler writes them: the task's own
 * prompt first (question only, every sub-answer pending, solve_rate 0), then one row per
 * assistant turn that called tools, holding the messages up to and including that turn's
 * tool results and the state after those results were consumed. A trainer scoring the row's
 * next response with the per-step reward thus sees exactly the pending set that response
 * faces (`1/(1+t)` counts what is still unsolved after everything in the prompt).
 */
export function ftrlRows(transcript: Transcript, mode: RewardMode = "ftrl", split = "train"): FtrlRow[] {
  const { env, task } = transcript;
  const tools = JSON.stringify(chatTools(env));
  const codes = JSON.stringify(toolCodes(env));
  const tracker = new EpisodeTracker(task.unsolved_set, mode);
  const needed = tracker.needed;
  // The reference computes 1 - remaining / total; with nothing to solve the task is complete.
  const solveRate = (): number => (needed > 0 ? 1 - tracker.pendingCount / needed : 1);
  const messages: ChatMessage[] = [{ role: "user", content: task.question }];
  // Token columns only for rollouts that recorded tokens, so other rows keep exactly method.md §4's fields.
  const tokens = transcript.turns.some((t) => t.meta.tokens) ? transcript.turns.map((t) => t.meta.tokens) : null;
  const row = (): FtrlRow => ({
    messages: structuredClone(messages),
    tools,
    codes,
    unsolved_set: JSON.stringify(tracker.pending()),
    solve_rate: solveRate(),
    data_source: dataSource(env.id, task.id),
    split,
    answer: task.answer,
    ...(tokens
      ? (() => {
          const seen = tokens.slice(0, messages.filter((m) => m.role === "assistant").length);
          return { token_ids: seen.map((t) => t?.token_ids ?? null), logprobs: seen.map((t) => t?.logprobs ?? null) };
        })()
      : {}),
  });
  const rows = [row()];
  for (const turn of transcript.turns) {
    messages.push(referenceMessage(turn.meta.message), ...turn.toolMessages);
    for (const call of turn.executed) tracker.record(call);
    rows.push(row());
  }
  return rows;
}

/** The assistant message with each call's arguments as the reference writes them (Python json.dumps); text json.loads refuses stays as it was. */
function referenceMessage(message: ChatMessage): ChatMessage {
  if (message.role !== "assistant" || !message.tool_calls) return message;
  return {
    ...message,
    tool_calls: message.tool_calls.map((tc) => ({ ...tc, function: { ...tc.function, arguments: pythonArgumentsText(tc.function.arguments) ?? tc.function.arguments } })),
  };
}

/**
 * One FTRL row as a JSON line, solve_rate written as a float (`1.0`, never `1`): a file whose
 * rates are all integral would otherwise read back as int64 in the reference's Parquet step.
 */
export function ftrlLine(row: FtrlRow): string {
  const { solve_rate, ...rest } = row;
  const text = JSON.stringify({ ...rest, solve_rate: 0 });
  return `${text.slice(0, -2)}${pyFloatText(solve_rate)}}`;
}

/** One OpenAI chat-format line for SFT: the whole conversation, final answer included, and the tools. */
export interface ChatLine {
  messages: ChatMessage[];
  tools: ChatTool[];
}

/** The SFT line of a transcript, or null when the episode did not end with an answer turn. */
export function chatLine(transcript: Transcript): ChatLine | null {
  if (!transcript.final) return null;
  const messages: ChatMessage[] = [{ role: "user", content: transcript.task.question }];
  for (const turn of transcript.turns) messages.push(turn.meta.message, ...turn.toolMessages);
  messages.push({ role: "assistant", content: transcript.final.message.content ?? "" });
  return { messages, tools: chatTools(transcript.env) };
}
