// Measured difficulty: calibrate a policy by n rollouts per task, keep the figures in a sidecar beside the suite,
// select tasks by a band of pass@1, and a curriculum that keeps sampling tasks near a target pass rate.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { Calibration, CALIBRATION_FILE, CALIBRATION_FORMAT, type Environment, type EpisodeScores, type ModelCalibration, type PassBand, type TaskCalibration } from "../schema/index.ts";
import { succeeded } from "../score/index.ts";
import { runRollouts, type RolloutResult, type RunOptions } from "./runner.ts";

export const taskKey = (env: string, task: string): string => `${env}/${task}`;

/** A rollout succeeds when it solves every sub-answer, answers right, and (write tasks) leaves the expected state. */
const rolloutSucceeded = (score: EpisodeScores | null): boolean => !!score && succeeded(score.ftrl);

/** Per-task figures from rollout results (rollouts without a score, failed ones, count as unsolved). */
export function calibrationOf(results: readonly RolloutResult[], n: number): ModelCalibration {
  const byTask = new Map<string, RolloutResult[]>();
  for (const r of results) {
    const key = taskKey(r.env, r.task);
    byTask.set(key, [...(byTask.get(key) ?? []), r]);
  }
  const tasks: Record<string, TaskCalibration> = {};
  for (const key of [...byTask.keys()].sort()) {
    const rs = byTask.get(key)!;
    const successes = rs.filter((r) => rolloutSucceeded(r.score)).length;
    const states = rs.map((r) => r.score?.ftrl.state).filter((s) => s !== undefined);
    tasks[key] = {
      rollouts: rs.length,
      successes,
      pass_at_1: successes / rs.length,
      pass_at_n: successes > 0 ? 1 : 0,
      mean_solve_rate: rs.reduce((a, r) => a + (r.score?.ftrl.solve_rate ?? 0), 0) / rs.length,
      state_match: states.length > 0 && rs.some((r) => r.score) ? states.reduce((a, s) => a + s.state_match, 0) / rs.length : null,
    };
  }
  return { n, tasks };
}

/** Runs n rollouts of every selected task and returns the policy's figures. */
export async function calibrate(options: RunOptions): Promise<{ model: string; calibration: ModelCalibration; failed: number }> {
  const n = options.n ?? 8;
  const summary = await runRollouts({ ...options, n });
  return { model: options.policy.label, calibration: calibrationOf(summary.results, n), failed: summary.failed };
}

/** The sidecar of an environment folder. */
export const calibrationPath = (dir: string): string => join(dir, CALIBRATION_FILE);

/** The sidecar's content, or an empty calibration when there is none; a malformed file is an error naming it. */
export function readCalibration(file: string): Calibration {
  if (!existsSync(file)) return { format: CALIBRATION_FORMAT, models: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  const parsed = Calibration.safeParse(json);
  if (!parsed.success) throw new Error(`${file}: not a calibration file: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Adds (or replaces) one model's figures and writes the file atomically, keys sorted so equal data gives equal bytes. */
export function writeCalibration(file: string, model: string, figures: ModelCalibration): Calibration {
  const current = readCalibration(file);
  const models = { ...current.models, [model]: figures };
  const sorted: Calibration = { format: CALIBRATION_FORMAT, models: Object.fromEntries(Object.keys(models).sort().map((k) => [k, models[k]!])) };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  renameSync(tmp, file);
  return sorted;
}

/** `lo,hi` with 0 <= lo <= hi <= 1. */
export function parsePassBand(text: string): PassBand {
  const parts = text.split(",").map((p) => p.trim());
  const [lo, hi] = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === "") || !Number.isFinite(lo) || !Number.isFinite(hi) || lo! < 0 || hi! > 1 || lo! > hi!) {
    throw new Error(`a pass band is LO,HI with 0 <= LO <= HI <= 1, e.g. 0.2,0.8; got ${JSON.stringify(text)}`);
  }
  return [lo!, hi!];
}

/** The model's figures: the one named, or the only one in the file. */
export function modelCalibration(calibration: Calibration, file: string, model?: string): { model: string; figures: ModelCalibration } {
  const names = Object.keys(calibration.models);
  if (model !== undefined) {
    const figures = calibration.models[model];
    if (!figures) throw new Error(`${file} has no calibration for model ${JSON.stringify(model)}; it has ${names.length ? names.map((n) => JSON.stringify(n)).join(", ") : "none (run envforge calibrate first)"}`);
    return { model, figures };
  }
  if (names.length !== 1) throw new Error(names.length === 0 ? `${file} holds no calibration; run envforge calibrate first` : `${file} calibrates several models (${names.join(", ")}); choose one with --calibrated-model`);
  return { model: names[0]!, figures: calibration.models[names[0]!]! };
}

/** The environments cut down to the tasks whose pass@1 lies in the band; uncalibrated tasks are left out and counted. */
export function withinBand(environments: readonly Environment[], figures: ModelCalibration, band: PassBand): { environments: Environment[]; kept: number; outside: number; uncalibrated: number } {
  let kept = 0;
  let outside = 0;
  let uncalibrated = 0;
  const out: Environment[] = [];
  for (const env of environments) {
    const tasks = env.tasks.filter((t) => {
      const f = figures.tasks[taskKey(env.id, t.id)];
      if (!f) return (uncalibrated++, false);
      const inside = f.pass_at_1 >= band[0] && f.pass_at_1 <= band[1];
      if (inside) kept++;
      else outside++;
      return inside;
    });
    if (tasks.length > 0) out.push({ ...env, tasks });
  }
  return { environments: out, kept, outside, uncalibrated };
}

export interface CurriculumOptions extends RunOptions {
  /** The pass rate to sample near, in [0, 1]. */
  targetRate: number;
  rounds: number;
  /** Tasks per round. */
  batch: number;
  /** The starting estimates; tasks without one start at the target's far side (0.5 away), so calibrated ones go first. */
  prior?: ModelCalibration | null;
}

export interface CurriculumRound {
  round: number;
  /** `ENV/TASK` of the tasks played, with the estimate each was chosen by and the rate it then scored. */
  tasks: { key: string; estimate: number; rate: number }[];
}

/**
 * Rounds of rollouts: each round plays the `batch` tasks whose estimated pass rate is nearest the target
 * (ties: the less played, then file order), then replaces each played task's estimate by the rate it just
 * scored, so the curriculum follows the model as it gets better or worse at a task.
 */
export async function runCurriculum(options: CurriculumOptions): Promise<{ rounds: CurriculumRound[]; results: RolloutResult[] }> {
  const n = options.n ?? 4;
  const pool = options.environments.flatMap((env) => env.tasks.map((task) => ({ env, task, key: taskKey(env.id, task.id) })));
  const estimate = new Map(pool.map((p) => [p.key, options.prior?.tasks[p.key]?.pass_at_1 ?? Math.min(1, Math.max(0, options.targetRate > 0.5 ? options.targetRate - 0.5 : options.targetRate + 0.5))]));
  const played = new Map<string, number>();
  const rounds: CurriculumRound[] = [];
  const results: RolloutResult[] = [];
  for (let round = 0; round < options.rounds && !options.signal?.aborted; round++) {
    const order = pool
      .map((p, i) => ({ ...p, i, distance: Math.abs(estimate.get(p.key)! - options.targetRate), times: played.get(p.key) ?? 0 }))
      .sort((a, b) => a.distance - b.distance || a.times - b.times || a.i - b.i)
      .slice(0, options.batch);
    const entry: CurriculumRound = { round, tasks: [] };
    for (const p of order) {
      const times = played.get(p.key) ?? 0;
      const summary = await runRollouts({ ...options, envIds: [p.env.id], taskIds: [p.task.id], n, kStart: times * n });
      results.push(...summary.results);
      const rate = summary.results.filter((r) => rolloutSucceeded(r.score)).length / Math.max(1, summary.results.length);
      entry.tasks.push({ key: p.key, estimate: estimate.get(p.key)!, rate });
      estimate.set(p.key, rate);
      played.set(p.key, times + 1);
    }
    rounds.push(entry);
  }
  return { rounds, results };
}
