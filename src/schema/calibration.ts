// Measured difficulty: per-task pass rates of a model from n rollouts each, kept in a sidecar file beside the suite.
import { z } from "zod";

export const CALIBRATION_FORMAT = "envforge/calibration@1";
/** The sidecar's name inside an environment folder; loaders skip it, as they skip schema.json. */
export const CALIBRATION_FILE = "calibration.json";

/** One task under one model: a rollout succeeds when it solves every sub-answer, answers right and (write tasks) ends in the expected state. */
export const TaskCalibration = z.strictObject({
  rollouts: z.number().int().min(1),
  successes: z.number().int().min(0),
  /** successes / rollouts: the unbiased estimate of pass@1. */
  pass_at_1: z.number().min(0).max(1),
  /** 1 when any of the rollouts succeeded. */
  pass_at_n: z.union([z.literal(0), z.literal(1)]),
  mean_solve_rate: z.number().min(0).max(1),
  /** Mean state_match over the rollouts; null for tasks that declare no final state. */
  state_match: z.number().min(0).max(1).nullable(),
});
export type TaskCalibration = z.infer<typeof TaskCalibration>;

export const ModelCalibration = z.strictObject({
  /** Rollouts asked for per task. */
  n: z.number().int().min(1),
  /** `ENV/TASK` -> the task's figures. */
  tasks: z.record(z.string(), TaskCalibration),
});
export type ModelCalibration = z.infer<typeof ModelCalibration>;

export const Calibration = z.strictObject({
  format: z.literal(CALIBRATION_FORMAT),
  /** Policy label (the model name for llm) -> its calibration. */
  models: z.record(z.string(), ModelCalibration),
});
export type Calibration = z.infer<typeof Calibration>;

/** An inclusive band of pass@1, `[lo, hi]`. */
export type PassBand = readonly [number, number];
