// An episode score as OpenTelemetry GenAI evaluation results (`gen_ai.evaluation.result` event attributes), shared by the OTLP export and live tracing.
import type { EpisodeScore, RewardMode } from "../schema/index.ts";

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
