// Tool calls, parsed model responses and trajectories: what the reward reads.
import { z } from "zod";
import { UnsolvedSet } from "./environment.ts";

/** One tool call as a model states it: a name and an arguments object. */
export const ToolCall = z.strictObject({
  name: z.string(),
  arguments: z.record(z.string(), z.json()),
});
export type ToolCall = z.infer<typeof ToolCall>;

/** A model response split into its text and its tool calls (method.md §3, tool-call text format). */
export const ParsedResponse = z.strictObject({
  content: z.string(),
  tool_calls: z.array(ToolCall),
});
export type ParsedResponse = z.infer<typeof ParsedResponse>;

/** A tool call together with what the environment returned for it. */
export const ExecutedCall = z.strictObject({
  name: z.string(),
  arguments: z.record(z.string(), z.json()),
  output: z.string(),
  /** Set when the output is an error message (strict mode never lets an error solve). */
  is_error: z.boolean().optional(),
});
export type ExecutedCall = z.infer<typeof ExecutedCall>;

/** One assistant turn of an episode. */
export const Turn = z.strictObject({
  content: z.string().nullable(),
  tool_calls: z.array(ExecutedCall),
});
export type Turn = z.infer<typeof Turn>;

/** The scoring state before a response: what is still pending and the final answer. */
export const StepState = z.strictObject({
  unsolved_set: UnsolvedSet,
  solve_rate: z.number(),
  answer: z.string().nullable(),
});
export type StepState = z.infer<typeof StepState>;

/** A line of `tests/score/vectors/reward-episodes.jsonl` (and of `envforge score` input). */
export const EpisodeLine = z.looseObject({
  id: z.string(),
  kind: z.literal("episode"),
  unsolved_set: UnsolvedSet,
  turns: z.array(Turn),
  /** The final answer, when known; strict mode checks it outside <think> reasoning. */
  answer: z.string().nullable().optional(),
});
export type EpisodeLine = z.infer<typeof EpisodeLine>;

/** A line of `tests/score/vectors/reward-steps.jsonl` (and of `envforge score` input). */
export const StepLine = z.looseObject({
  id: z.string(),
  kind: z.literal("step"),
  state: StepState,
  raw: z.string(),
  tool_outputs: z.array(z.string()),
  /** Which outputs are error messages, parallel to tool_outputs (strict mode only). */
  tool_errors: z.array(z.boolean()).optional(),
});
export type StepLine = z.infer<typeof StepLine>;

export const ScoreLine = z.discriminatedUnion("kind", [EpisodeLine, StepLine]);
export type ScoreLine = z.infer<typeof ScoreLine>;
