// An episode score as OpenTelemetry GenAI evaluation results (`gen_ai.evaluation.result` event attributes), shared by the OTLP export and live tracing.
import type { EpisodeScore, EpisodeScores, RewardMode, StateScore } from "../schema/index.ts";

export const EVALUATION_EVENT = "gen_ai.evaluation.result";

/** The event's attributes for one reward mode: solve_f1 as the score, pass when every sub-answer was solved and the answer is right. */
export function evaluationAttributes(mode: RewardMode, s: Pick<EpisodeScore, "solve_f1" | "solve_rate" | "solve_precision" | "answer_correct">): Record<string, string | number> {
  return {
    "gen_ai.evaluation.name": `envforge.solve_f1.${mode}`,
    "gen_ai.evaluation.score.value": s.solve_f1,
    "gen_ai.evaluation.score.label": s.solve_rate === 1 && s.answer_correct === true ? "pass" : "fail",
    "gen_ai.evaluation.explanation": `solve_rate ${s.solve_rate}, solve_precision ${s.solve_precision}, answer_correct ${String(s.answer_correct)} (${mode} reward)`,
  };
}

/** The final-state check as an evaluation result of its own (the same in both reward modes). */
export function stateEvaluationAttributes(s: StateScore): Record<string, string | number> {
  return {
    "gen_ai.evaluation.name": "envforge.state_match",
    "gen_ai.evaluation.score.value": s.state_match,
    "gen_ai.evaluation.score.label": s.state_match === 1 ? "pass" : "fail",
    "gen_ai.evaluation.explanation": `${s.changes_made} of ${s.expected_changes} expected changes made, ${s.unexpected_changes} unexpected`,
  };
}

/** Every evaluation result of an episode's scores: solve_f1 per reward mode, then the state check when the task has one. */
export function scoreEvaluations(scores: Record<RewardMode, EpisodeScore | null> | EpisodeScores): Record<string, string | number>[] {
  const out = (["ftrl", "strict"] as const).flatMap((mode) => (scores[mode] ? [evaluationAttributes(mode, scores[mode])] : []));
  const state = scores.ftrl?.state ?? scores.strict?.state;
  return state ? [...out, stateEvaluationAttributes(state)] : out;
}
