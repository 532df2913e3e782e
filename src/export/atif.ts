// Episodes as ATIF trajectories (Harbor's Agent Trajectory Interchange Format v1.8): one JSON document per episode.
import { ATIF_VERSION, type AtifMetrics, type AtifStep, type AtifTrajectory, type TurnTokens } from "../schema/index.ts";
import { chatTools, scoreOf, type Transcript } from "./transcript.ts";

const iso = (ms: number | null | undefined): string | undefined => (ms === null || ms === undefined ? undefined : new Date(ms).toISOString());

/** A tool call's arguments as the object ATIF wants; text that is not a JSON object is kept in `extra`. */
export function argumentsObject(text: string): { arguments: Record<string, unknown>; raw?: string } {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return { arguments: value as Record<string, unknown> };
  } catch {
    // not JSON: kept verbatim below
  }
  return { arguments: {}, raw: text };
}

/** ATIF step metrics from a turn's recorded tokens: ids and logprobs for training without re-tokenizing. */
export function atifMetrics(tokens: TurnTokens | undefined): AtifMetrics | undefined {
  if (!tokens) return undefined;
  const m: AtifMetrics = {};
  if (tokens.prompt_tokens !== undefined) m.prompt_tokens = tokens.prompt_tokens;
  if (tokens.completion_tokens !== undefined) m.completion_tokens = tokens.completion_tokens;
  if (tokens.prompt_token_ids) m.prompt_token_ids = tokens.prompt_token_ids;
  if (tokens.token_ids) m.completion_token_ids = tokens.token_ids;
  if (tokens.logprobs) m.logprobs = tokens.logprobs;
  if (tokens.tokens || tokens.top_logprobs) m.extra = { ...(tokens.tokens ? { tokens: tokens.tokens } : {}), ...(tokens.top_logprobs ? { top_logprobs: tokens.top_logprobs } : {}) };
  return Object.keys(m).length > 0 ? m : undefined;
}

/**
 * One episode as an ATIF trajectory: the question as a user step, one agent step per assistant
 * turn with its tool calls and their results (`observation.results`, joined by
 * `source_call_id`), token ids and logprobs in `metrics` when recorded, the final answer as the
 * last agent step, and the score in both reward modes in `extra.envforge`.
 */
export function atifTrajectory(t: Transcript): AtifTrajectory {
  const steps: AtifStep[] = [{ step_id: 1, source: "user", message: t.task.question }];
  const llm = t.run === null ? undefined : t.agent !== "oracle" && t.agent !== "random" ? t.agent : undefined;
  t.turns.forEach((turn) => {
    const calls = turn.meta.message.tool_calls ?? [];
    const byId = new Map(turn.toolMessages.map((m) => [m.role === "tool" ? m.tool_call_id : "", m.content]));
    const errors = new Map(turn.meta.message.tool_calls?.map((tc, i) => [tc.id, turn.executed[i]?.is_error === true]) ?? []);
    const step: AtifStep = {
      step_id: steps.length + 1,
      source: "agent",
      message: turn.meta.message.content ?? "",
      tool_calls: calls.map((tc) => {
        const { arguments: args, raw } = argumentsObject(tc.function.arguments);
        return { tool_call_id: tc.id, function_name: tc.function.name, arguments: args, ...(raw !== undefined ? { extra: { arguments_text: raw } } : {}) };
      }),
      observation: {
        results: calls.map((tc) => ({
          source_call_id: tc.id,
          content: byId.get(tc.id) ?? "",
          ...(errors.get(tc.id) ? { extra: { is_error: true } } : {}),
        })),
      },
      // ATIF messages are strings; `content_null` keeps a null content (a calls-only turn) apart from "".
      extra: { turn: turn.meta.turn, solved: turn.solved, ...(turn.meta.message.content === null ? { content_null: true } : {}), ...(turn.meta.raw !== undefined ? { raw: turn.meta.raw } : {}) },
    };
    const ts = iso(turn.startedAt);
    if (ts) step.timestamp = ts;
    const metrics = atifMetrics(turn.meta.tokens);
    if (metrics) step.metrics = metrics;
    steps.push(step);
  });
  if (t.final) {
    const step: AtifStep = { step_id: steps.length + 1, source: "agent", message: t.final.message.content ?? "", extra: { turn: t.final.turn, final_answer: true } };
    const ts = iso(t.episode.endedAt);
    if (ts) step.timestamp = ts;
    const metrics = atifMetrics(t.final.tokens);
    if (metrics) step.metrics = metrics;
    steps.push(step);
  }
  const e = t.episode;
  return {
    schema_version: ATIF_VERSION,
    session_id: e.id,
    trajectory_id: e.id,
    agent: { name: t.agent, version: "unknown", ...(llm ? { model_name: llm } : {}), tool_definitions: chatTools(t.env), extra: { producer: "envforge" } },
    steps,
    final_metrics: { total_steps: steps.length },
    extra: {
      envforge: {
        episode: e.id,
        env: t.env.id,
        env_sha256: e.envSha256,
        task: t.task.id,
        status: e.status,
        final_answer: e.finalAnswer,
        reward: { ftrl: scoreOf(e, "ftrl"), strict: scoreOf(e, "strict") },
        ...(t.run ? { run: t.run } : {}),
      },
    },
  };
}
