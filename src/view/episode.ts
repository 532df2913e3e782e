// One recorded episode as a timeline: assistant turns from the calls' _meta, every call with what it solved, recomputed with the score library in both modes.
import { agentOf, modelTurn, readTranscript, runMetaOf, type ModelTurn } from "../export/index.ts";
import { listModelCalls, type CallRow, type EpisodeRow, type Records } from "../store/index.ts";
import { scoreEpisode } from "../score/index.ts";
import {
  ASSISTANT_META_KEY,
  AssistantTurnMeta,
  RewardMode,
  type EpisodeScore,
  type EpisodeScores,
  type RunMeta,
  type Turn,
} from "../schema/index.ts";
import { complexityLevel, listRow, type EnvIndex, type ListRow } from "./data.ts";

const MODES = RewardMode.options;

/** What a call solved in each reward mode (a sub-answer, or null for nothing). */
export type Solved = Record<RewardMode, string | null>;

export interface CallView {
  /** The call's number in the episode (execution order); null for a call the client never sent. */
  seq: number | null;
  tool_call_id: string | null;
  tool: string;
  arguments: unknown;
  /** What the agent got back: the tool's output, the error text, or the client's own error for a call it could not send. */
  output: string | null;
  is_error: boolean;
  error_kind: string | null;
  latency_ms: number | null;
  started_at: number | null;
  /** False for a call the client could not send (arguments that are not a JSON object) or whose result is missing. */
  sent: boolean;
  /** Recomputed by the score library from the recorded calls; the server's record when that is not possible. */
  solved: Solved;
  /** What the server recorded live. */
  recorded: Solved;
}

export interface TurnView {
  /** The assistant turn's index (0-based) as the client reported it; null for calls sent without one. */
  turn: number | null;
  content: string | null;
  /** The model's raw text, in raw Hermes/Qwen mode. */
  raw: string | null;
  calls: CallView[];
}

export interface SubAnswerView {
  tool: string;
  answer: string;
  /** The seq of the call that solved it, per mode, or null (pending). */
  solved_by: Record<RewardMode, number | null>;
}

export interface EpisodeView {
  episode: ListRow & {
    kind: string;
    transport: string;
    session_id: string | null;
    client_version: string | null;
    protocol_version: string | null;
    final_answer: string | null;
  };
  running: boolean;
  environment: { id: string; title: string; scenario: string; complexity: number } | null;
  question: string | null;
  run: RunMeta | null;
  turns: TurnView[];
  /** The turn without tool calls that ended the episode, when the client sent it. */
  final: { turn: number; content: string | null; raw: string | null } | null;
  scores: {
    recorded: EpisodeScores | null;
    /** From the recorded calls and submitted answer; null when the task is not known here. */
    recomputed: Record<RewardMode, EpisodeScore> | null;
    /** Whether the two agree on every metric (null when either is missing). */
    agree: boolean | null;
  };
  /** Every sub-answer and which call solved it; only once the episode has ended, so a running one never shows what is pending. */
  sub_answers: SubAnswerView[] | null;
  /** The task's final answer; only once the episode has ended. */
  gold_answer: string | null;
  /** Whether the exported training rows can be rebuilt, and if not, why. */
  export: { rows: boolean; problem: string | null };
  messages: number;
  /** The model side, when an agent's model calls went through `envforge model-proxy` under this episode's id. */
  model_calls: ModelTurn[];
  notes: string[];
}

const metaOf = (meta: unknown): AssistantTurnMeta | null => {
  const value = meta !== null && typeof meta === "object" ? (meta as Record<string, unknown>)[ASSISTANT_META_KEY] : undefined;
  const parsed = AssistantTurnMeta.safeParse(value);
  return parsed.success ? parsed.data : null;
};

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const recordedCall = (c: CallRow): CallView => ({
  seq: c.seq,
  tool_call_id: null,
  tool: c.tool,
  arguments: c.arguments,
  output: c.output,
  is_error: c.isError,
  error_kind: c.errorKind,
  latency_ms: c.latencyMs,
  started_at: c.startedAt,
  sent: true,
  solved: { ftrl: c.solvedFtrl, strict: c.solvedStrict },
  recorded: { ftrl: c.solvedFtrl, strict: c.solvedStrict },
});

/**
 * Groups calls into assistant turns: consecutive calls carrying the same turn in `_meta` form
 * one, shown in the order of the message's tool calls (calls it could not send included); a
 * call without `_meta` is a turn of its own.
 */
function buildTurns(calls: readonly CallRow[]): { turns: TurnView[]; groups: CallRow[][] } {
  const turns: TurnView[] = [];
  const groups: CallRow[][] = [];
  let i = 0;
  while (i < calls.length) {
    const meta = metaOf(calls[i]!.assistantMeta);
    const group = [calls[i]!];
    for (i++; meta && i < calls.length && metaOf(calls[i]!.assistantMeta)?.turn === meta.turn; i++) group.push(calls[i]!);
    groups.push(group);
    if (!meta) {
      turns.push({ turn: null, content: null, raw: null, calls: group.map(recordedCall) });
      continue;
    }
    const byId = new Map(group.map((c) => [metaOf(c.assistantMeta)?.tool_call_id ?? "", c]));
    const shown: CallView[] = [];
    const used = new Set<CallRow>();
    for (const tc of meta.message.tool_calls ?? []) {
      const call = byId.get(tc.id);
      if (call) {
        used.add(call);
        shown.push({ ...recordedCall(call), tool_call_id: tc.id });
        continue;
      }
      const local = meta.local_results?.[tc.id] ?? null;
      shown.push({
        seq: null,
        tool_call_id: tc.id,
        tool: tc.function.name,
        arguments: parseArguments(tc.function.arguments),
        output: local,
        is_error: local !== null,
        error_kind: null,
        latency_ms: null,
        started_at: null,
        sent: false,
        solved: { ftrl: null, strict: null },
        recorded: { ftrl: null, strict: null },
      });
    }
    for (const call of group) if (!used.has(call)) shown.push(recordedCall(call));
    turns.push({ turn: meta.turn, content: meta.message.content, raw: meta.raw ?? null, calls: shown });
  }
  return { turns, groups };
}

const SAME_METRICS = ["solved", "calls", "needed", "solve_precision", "solve_rate", "solve_f1", "answer_correct"] as const;

export function episodeView(records: Records, envs: EnvIndex, row: EpisodeRow): EpisodeView {
  const calls = records.listCalls(row.id);
  const messages = records.listMessages(row.id).length;
  const env = envs.get(row.envId);
  const task = env?.tasks.find((t) => t.id === row.taskId);
  const running = row.status === "running";
  const notes: string[] = [];
  const { turns, groups } = buildTurns(calls);

  let recomputed: Record<RewardMode, EpisodeScore> | null = null;
  let subAnswers: SubAnswerView[] | null = null;
  if (task) {
    const scoringTurns: Turn[] = groups.map((g) => ({
      content: null,
      tool_calls: g.map((c) => ({ name: c.tool, arguments: c.arguments as Turn["tool_calls"][number]["arguments"], output: c.output, is_error: c.isError })),
    }));
    const solvedBySeq = new Map<number, Solved>();
    const results = Object.fromEntries(
      MODES.map((mode) => {
        const { solved_by, ...score } = scoreEpisode(task.unsolved_set, scoringTurns, {
          mode,
          answer: row.finalAnswer === null ? null : task.answer,
          finalText: row.finalAnswer,
        });
        groups.forEach((g, t) =>
          g.forEach((c, k) => {
            const s = solvedBySeq.get(c.seq) ?? { ftrl: null, strict: null };
            s[mode] = solved_by[t]![k] ?? null;
            solvedBySeq.set(c.seq, s);
          }),
        );
        return [mode, score];
      }),
    ) as Record<RewardMode, EpisodeScore>;
    recomputed = results;
    for (const turn of turns) for (const call of turn.calls) if (call.seq !== null) call.solved = solvedBySeq.get(call.seq) ?? call.solved;
    if (!running) {
      subAnswers = [];
      for (const [tool, answers] of Object.entries(task.unsolved_set)) {
        // Equal sub-answers of one tool are consumed in order, so the k-th solve of a text is its k-th entry.
        const taken: Record<RewardMode, Set<number>> = { ftrl: new Set(), strict: new Set() };
        for (const answer of answers) {
          const by = { ftrl: null, strict: null } as Record<RewardMode, number | null>;
          for (const mode of MODES) {
            const call = calls.find((c) => c.tool === tool && solvedBySeq.get(c.seq)?.[mode] === answer && !taken[mode].has(c.seq));
            if (call) (taken[mode].add(call.seq), (by[mode] = call.seq));
          }
          subAnswers.push({ tool, answer, solved_by: by });
        }
      }
    }
  } else if (row.envId !== null) {
    notes.push(
      env
        ? `task "${row.taskId}" is not in environment "${row.envId}" as loaded here: solved markers are the server's record, not recomputed`
        : `environment "${row.envId}" is not loaded here: solved markers are the server's record, not recomputed (start the viewer with --dir pointing at it)`,
    );
  }

  const recorded = row.score;
  const agree =
    recorded && recomputed ? MODES.every((m) => SAME_METRICS.every((k) => recorded[m][k] === recomputed![m][k])) : null;
  if (agree === false) notes.push("the recomputed score differs from the one the server recorded: the environment file may have changed since (compare env_sha256)");

  const finalMeta = metaOf(row.finalMeta);
  const transcript = readTranscript(records, row, envs.byId);
  return {
    episode: {
      ...listRow({ ...row, agent: agentOf(row) }, envs),
      kind: row.kind,
      transport: row.transport,
      session_id: row.sessionId,
      client_version: row.clientVersion,
      protocol_version: row.protocolVersion,
      final_answer: row.finalAnswer,
    },
    running,
    environment: env ? { id: env.id, title: env.title, scenario: env.scenario, complexity: complexityLevel(env) } : null,
    question: task?.question ?? null,
    run: runMetaOf(row),
    turns,
    final: finalMeta ? { turn: finalMeta.turn, content: finalMeta.message.content, raw: finalMeta.raw ?? null } : null,
    scores: { recorded, recomputed: running ? null : recomputed, agree: running ? null : agree },
    sub_answers: subAnswers,
    gold_answer: running ? null : (task?.answer ?? null),
    export: transcript.ok ? { rows: true, problem: null } : { rows: false, problem: transcript.problem },
    messages,
    model_calls: listModelCalls(records.db, row.id).map(modelTurn),
    notes,
  };
}
