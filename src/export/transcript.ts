// Rebuilds an episode's conversation from the database: the assistant turns carried in each call's _meta, and what the server returned.
import type { CallRow, EpisodeRow, Records } from "../store/index.ts";
import {
  ASSISTANT_META_KEY,
  AssistantTurnMeta,
  RUN_META_KEY,
  RunMeta,
  type ChatMessage,
  type ChatTool,
  type Environment,
  type EpisodeScore,
  type ExecutedCall,
  type RewardMode,
  type Task,
} from "../schema/index.ts";

/** One assistant turn that called tools, with the tool messages the model saw next. */
export interface TranscriptTurn {
  meta: AssistantTurnMeta;
  /** One `role: "tool"` message per tool call of the turn, in the turn's order. */
  toolMessages: ChatMessage[];
  /** The calls the server executed for this turn, in execution order (what the reward consumes). */
  executed: ExecutedCall[];
  /** Sub-answers the server saw each executed call solve, in ftrl and strict mode. */
  solved: { ftrl: string | null; strict: string | null }[];
  /** When the turn's first call reached the server (ms since the epoch). */
  startedAt: number | null;
}

export interface Transcript {
  episode: EpisodeRow;
  env: Environment;
  task: Task;
  /** Who played: the runner's agent name, else `client:<name>` from initialize, else "unknown". */
  agent: string;
  run: RunMeta | null;
  turns: TranscriptTurn[];
  /** The turn without tool calls that ended the episode (its text was submitted), when there was one. */
  final: AssistantTurnMeta | null;
}

/** Why an episode gives no transcript. */
export type TranscriptProblem = "no_environment" | "no_task" | "no_assistant_meta" | "incomplete_turn";

const metaOf = (meta: unknown, key: string): unknown => (meta !== null && typeof meta === "object" ? (meta as Record<string, unknown>)[key] : undefined);

/** The RunMeta an episode's submit_answer (or failure mark) carried, if it is one of ours. */
export function runMetaOf(episode: EpisodeRow): RunMeta | null {
  const parsed = RunMeta.safeParse(metaOf(episode.finalMeta, RUN_META_KEY));
  return parsed.success ? parsed.data : null;
}

export function agentOf(episode: EpisodeRow): string {
  const run = runMetaOf(episode);
  if (run) return run.agent;
  return episode.clientName ? `client:${episode.clientName}` : "unknown";
}

/** An episode's score in one reward mode, or null when it has none. */
export const scoreOf = (episode: EpisodeRow, mode: RewardMode): EpisodeScore | null => episode.score?.[mode] ?? null;

/** The environment's tools as a chat-completions request lists them (distractors included, schemas verbatim). */
export function chatTools(env: Environment): ChatTool[] {
  return env.tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } }));
}


/**
 * Rebuilds the conversation of a recorded episode. Turns come from the assistant messages the
 * runner put in each call's `_meta`; tool messages are the outputs the server recorded (or the
 * client's own error text for calls it could not send). It stops at the first turn whose
 * results are not all there, so every turn it returns is whole.
 */
export function readTranscript(
  records: Records,
  episode: EpisodeRow,
  environments: ReadonlyMap<string, Environment>,
): { ok: true; transcript: Transcript } | { ok: false; problem: TranscriptProblem } {
  const env = episode.envId ? environments.get(episode.envId) : undefined;
  if (!env) return { ok: false, problem: "no_environment" };
  const task = env.tasks.find((t) => t.id === episode.taskId);
  if (!task) return { ok: false, problem: "no_task" };
  const calls: CallRow[] = records.listCalls(episode.id);
  const byTurn = new Map<number, { meta: AssistantTurnMeta; calls: Map<string, CallRow>; order: CallRow[] }>();
  for (const call of calls) {
    const parsed = AssistantTurnMeta.safeParse(metaOf(call.assistantMeta, ASSISTANT_META_KEY));
    if (!parsed.success || parsed.data.tool_call_id === undefined) return { ok: false, problem: "no_assistant_meta" };
    const meta = parsed.data;
    let turn = byTurn.get(meta.turn);
    if (!turn) byTurn.set(meta.turn, (turn = { meta, calls: new Map(), order: [] }));
    turn.calls.set(meta.tool_call_id!, call);
    turn.order.push(call);
  }
  const finalParsed = AssistantTurnMeta.safeParse(metaOf(episode.finalMeta, ASSISTANT_META_KEY));
  const final = finalParsed.success ? finalParsed.data : null;
  const turns: TranscriptTurn[] = [];
  let complete = true;
  for (let t = 0; byTurn.has(t); t++) {
    const { meta, calls: byId, order } = byTurn.get(t)!;
    const toolMessages: ChatMessage[] = [];
    for (const tc of meta.message.tool_calls ?? []) {
      const content = byId.get(tc.id)?.output ?? meta.local_results?.[tc.id];
      if (content === undefined) break;
      toolMessages.push({ role: "tool", tool_call_id: tc.id, content });
    }
    if (toolMessages.length !== (meta.message.tool_calls ?? []).length) {
      complete = false;
      break;
    }
    turns.push({
      meta,
      toolMessages,
      executed: order.map((c) => ({ name: c.tool, arguments: c.arguments as ExecutedCall["arguments"], output: c.output, is_error: c.isError })),
      solved: order.map((c) => ({ ftrl: c.solvedFtrl, strict: c.solvedStrict })),
      startedAt: order[0]?.startedAt ?? null,
    });
  }
  if (complete && turns.length < byTurn.size) complete = false;
  if (!complete && turns.length === 0) return { ok: false, problem: "incomplete_turn" };
  return { ok: true, transcript: { episode, env, task, agent: agentOf(episode), run: runMetaOf(episode), turns, final: complete && final?.turn === turns.length ? final : null } };
}
