// Scores as OpenTelemetry GenAI evaluation results: solve_f1 per reward mode, and the final-state check when a task has one.
import { describe, expect, it } from "vitest";
import { scoreEvaluations } from "../../src/score/index.ts";
import type { EpisodeScore } from "../../src/schema/index.ts";

const score = (mode: "ftrl" | "strict", extra: Partial<EpisodeScore> = {}): EpisodeScore => ({
  mode,
  calls: 3,
  needed: 2,
  solved: 2,
  solve_precision: 2 / 3,
  solve_rate: 1,
  solve_f1: 0.8,
  answer_correct: true,
  ...extra,
});

describe("scoreEvaluations", () => {
  it("gives solve_f1 per mode, passing only with every sub-answer and the right answer", () => {
    const events = scoreEvaluations({ ftrl: score("ftrl"), strict: score("strict", { answer_correct: false }) });
    expect(events.map((e) => [e["gen_ai.evaluation.name"], e["gen_ai.evaluation.score.value"], e["gen_ai.evaluation.score.label"]])).toEqual([
      ["envforge.solve_f1.ftrl", 0.8, "pass"],
      ["envforge.solve_f1.strict", 0.8, "fail"],
    ]);
  });

  it("adds the final-state check once when the task declares a final state, and skips a mode without a score", () => {
    const state = { state_match: 0 as const, changes_made: 1, expected_changes: 2, unexpected_changes: 1 };
    const events = scoreEvaluations({ ftrl: score("ftrl", { state }), strict: null });
    expect(events.map((e) => e["gen_ai.evaluation.name"])).toEqual(["envforge.solve_f1.ftrl", "envforge.state_match"]);
    expect(events[1]).toMatchObject({ "gen_ai.evaluation.score.value": 0, "gen_ai.evaluation.score.label": "fail", "gen_ai.evaluation.explanation": "1 of 2 expected changes made, 1 unexpected" });
  });
});
