// Harbor's Agent Trajectory Interchange Format (ATIF-v1.8, docs/rfcs/0001-trajectory-format.md): the fields envforge writes and reads.
import { z } from "zod";

export const ATIF_VERSION = "ATIF-v1.8";

const Extra = z.record(z.string(), z.unknown()).nullish();

export const AtifToolCall = z.strictObject({
  tool_call_id: z.string(),
  function_name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  extra: Extra,
});
export type AtifToolCall = z.infer<typeof AtifToolCall>;

/** Text content only: envforge's tools return text (multimodal parts are refused on import). */
export const AtifObservationResult = z.strictObject({
  source_call_id: z.string().nullish(),
  content: z.string().nullish(),
  subagent_trajectory_ref: z.array(z.unknown()).nullish(),
  extra: Extra,
});
export type AtifObservationResult = z.infer<typeof AtifObservationResult>;

export const AtifMetrics = z.strictObject({
  prompt_tokens: z.number().int().nullish(),
  completion_tokens: z.number().int().nullish(),
  cached_tokens: z.number().int().nullish(),
  cost_usd: z.number().nullish(),
  prompt_token_ids: z.array(z.number().int()).nullish(),
  completion_token_ids: z.array(z.number().int()).nullish(),
  logprobs: z.array(z.number()).nullish(),
  extra: Extra,
});
export type AtifMetrics = z.infer<typeof AtifMetrics>;

export const AtifStep = z.strictObject({
  step_id: z.number().int().min(1),
  timestamp: z.string().nullish(),
  source: z.enum(["system", "user", "agent"]),
  model_name: z.string().nullish(),
  reasoning_effort: z.union([z.string(), z.number()]).nullish(),
  message: z.union([z.string(), z.array(z.unknown())]),
  reasoning_content: z.string().nullish(),
  tool_calls: z.array(AtifToolCall).nullish(),
  observation: z.strictObject({ results: z.array(AtifObservationResult) }).nullish(),
  metrics: AtifMetrics.nullish(),
  is_copied_context: z.boolean().nullish(),
  llm_call_count: z.number().int().min(0).nullish(),
  extra: Extra,
});
export type AtifStep = z.infer<typeof AtifStep>;

export const AtifTrajectory = z.strictObject({
  schema_version: z.string().regex(/^ATIF-v1\.\d+$/),
  session_id: z.string().nullish(),
  trajectory_id: z.string().nullish(),
  agent: z.strictObject({
    name: z.string(),
    version: z.string(),
    model_name: z.string().nullish(),
    tool_definitions: z.array(z.record(z.string(), z.unknown())).nullish(),
    extra: Extra,
  }),
  steps: z.array(AtifStep).min(1),
  notes: z.string().nullish(),
  final_metrics: z
    .strictObject({
      total_prompt_tokens: z.number().int().nullish(),
      total_completion_tokens: z.number().int().nullish(),
      total_cached_tokens: z.number().int().nullish(),
      total_cost_usd: z.number().nullish(),
      total_steps: z.number().int().min(0).nullish(),
      extra: Extra,
    })
    .nullish(),
  continued_trajectory_ref: z.string().nullish(),
  extra: Extra,
  subagent_trajectories: z.array(z.unknown()).nullish(),
});
export type AtifTrajectory = z.infer<typeof AtifTrajectory>;
