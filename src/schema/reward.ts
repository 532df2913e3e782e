// Reward modes, variants and results: the numbers the verifiable reward produces.
import { z } from "zod";

/** `ftrl` reproduces the reference reward exactly; `strict` closes its three known weaknesses. */
export const RewardMode = z.enum(["ftrl", "strict"]);
export type RewardMode = z.infer<typeof RewardMode>;

/** Per-step reward variants: f1 = 2q/(p+1) (default), precision = q/p, rate = q, pr = q²/p. */
export const RewardVariant = z.enum(["f1", "precision", "rate", "pr"]);
export type RewardVariant = z.infer<typeof RewardVariant>;

/** Episode metrics (method.md §3): p calls, n sub-answers needed, q solved. */
export const EpisodeMetrics = z.strictObject({
  solved: z.number().int().min(0),
  calls: z.number().int().min(0),
  needed: z.number().int().min(0),
  solve_precision: z.number(),
  solve_rate: z.number(),
  solve_f1: z.number(),
});
export type EpisodeMetrics = z.infer<typeof EpisodeMetrics>;

/**
 * The final-state check of a task that declares one: beside the FTRL reward, never in place of it.
 * `state_match` is 1 when every expected change was made and nothing else under the checked paths changed.
 */
export const StateScore = z.strictObject({
  state_match: z.union([z.literal(0), z.literal(1)]),
  /** Expected changes made, over expected changes (1 when none are expected). */
  changes_made: z.number().min(0).max(1),
  expected_changes: z.number().int().min(0),
  /** Changed paths under the checked paths that no expected change names (a duplicate booking, the wrong order). */
  unexpected_changes: z.number().int().min(0),
});
export type StateScore = z.infer<typeof StateScore>;

/** The score of a finished episode: metrics plus whether the final answer was right. */
export const EpisodeScore = EpisodeMetrics.extend({
  mode: RewardMode,
  /** Null when no final answer was handed in or none is known. */
  answer_correct: z.boolean().nullable(),
  /** Present when the task declares a final state; the same in both modes (the state does not depend on the reward). */
  state: StateScore.optional(),
});
export type EpisodeScore = z.infer<typeof EpisodeScore>;

/** The four per-step reward variants of one response. */
export const StepRewards = z.strictObject({
  f1: z.number(),
  precision: z.number(),
  rate: z.number(),
  pr: z.number(),
});
export type StepRewards = z.infer<typeof StepRewards>;

/** Which no-call rule (or the tool-call rule) decided a per-step reward. */
export const StepRule = z.enum(["tool_calls", "empty", "malformed_call", "final_answer", "all_solved", "none"]);
export type StepRule = z.infer<typeof StepRule>;

/** A per-step reward with its components, not only a scalar. */
export const StepScore = z.strictObject({
  mode: RewardMode,
  rule: StepRule,
  /** p: tool calls in the response. */
  calls: z.number().int().min(0),
  /** q: calls that solved a pending sub-answer. */
  solved: z.number().int().min(0),
  /** Sub-answers still pending after this response. */
  unsolved_after: z.number().int().min(0),
  final_answer_valid: z.boolean(),
  rewards: StepRewards,
});
export type StepScore = z.infer<typeof StepScore>;
