// Builds many environments: plans each one, regenerates rejected candidates with derived seeds, and
// keeps only those that are deterministic, pass the gate and ask questions no other task asks.
import type { BuildRequest, BuildSummary, Environment } from "../spec/index.ts";
import { STRATEGIES } from "../spec/index.ts";
import { environmentText, generate, PROCEDURAL, type Stages } from "./pipeline.ts";
import { Rejection } from "./reject.ts";
import { planRequest, type BuildOptions, type RunOptions } from "./plan.ts";
import { hashSeed } from "./rng.ts";
import { gate } from "./validate.ts";

export interface Built {
  env: Environment;
  /** The file text (2-space JSON, trailing newline). */
  text: string;
}

export interface BuildResult {
  environments: Built[];
  summary: BuildSummary;
}

const MAX_ATTEMPTS = 40;

export interface Candidate {
  env?: Environment;
  text?: string;
  reason?: string;
}

/** One candidate: generate, check determinism, run the gate. */
export async function attempt(request: BuildRequest, stages: Stages, validate: boolean): Promise<Candidate> {
  let env: Environment;
  try {
    env = generate(request, stages).env;
  } catch (err) {
    if (err instanceof Rejection) return { reason: err.reason };
    throw err;
  }
  const text = environmentText(env);
  if (environmentText(generate(request, stages).env) !== text) return { reason: "nondeterministic" };
  if (validate) {
    const report = await gate(env);
    if (!report.ok) return { reason: `gate:${report.issues[0]!.check}` };
    env.provenance.stages.validate = { replayed_steps: report.replayed_steps, probes: report.probes, checks: ["replay:ftrl", "replay:strict", "exclusive", "answer", "provenance", "leak", "determinism"] };
    return { env, text: environmentText(env) };
  }
  return { env, text };
}

/** Builds one environment per request, in order; rejected candidates are retried with derived seeds. */
export async function buildRequests(requests: readonly BuildRequest[], options: RunOptions = {}): Promise<BuildResult> {
  const stages = options.stages ?? PROCEDURAL;
  const validate = options.validate ?? true;
  const environments: Built[] = [];
  const rejected: Record<string, number> = {};
  const questions = new Set<string>();
  let candidates = 0;
  for (const [i, base] of requests.entries()) {
    let kept: Built | undefined;
    for (let a = 0; a < MAX_ATTEMPTS && !kept; a++) {
      const request = a === 0 ? base : { ...base, seed: hashSeed(base.seed, "retry", a) };
      candidates++;
      const c = await attempt(request, stages, validate);
      let reason = c.reason;
      if (c.env && c.env.tasks.some((t) => questions.has(t.question))) reason = "duplicate-question";
      if (reason) rejected[reason] = (rejected[reason] ?? 0) + 1;
      else kept = { env: c.env!, text: c.text! };
    }
    if (!kept) throw new Error(`could not build environment ${base.id} in ${MAX_ATTEMPTS} attempts (${JSON.stringify(rejected)})`);
    for (const t of kept.env.tasks) questions.add(t.question);
    environments.push(kept);
    options.onProgress?.(i + 1, requests.length);
  }
  return { environments, summary: summarize(environments, candidates, rejected) };
}

export function buildEnvironments(options: BuildOptions): Promise<BuildResult> {
  const requests = Array.from({ length: options.count }, (_, i) => planRequest(options, i));
  return buildRequests(requests, options);
}

export function summarize(built: readonly Built[], candidates: number, rejected: Record<string, number>): BuildSummary {
  const count = (key: (e: Environment) => string) => {
    const out: Record<string, number> = {};
    for (const b of built) out[key(b.env)] = (out[key(b.env)] ?? 0) + 1;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  };
  const tools = built.map((b) => b.env.tools.length);
  return {
    built: built.length,
    candidates,
    by_scenario: count((e) => e.scenario),
    by_complexity: count((e) => STRATEGIES.map((s) => e.complexity[s]).join(",")),
    by_domain: count((e) => e.domain),
    tools_per_environment: tools.length === 0 ? { min: 0, mean: 0, max: 0 } : { min: Math.min(...tools), mean: Math.round((tools.reduce((a, b) => a + b, 0) / tools.length) * 100) / 100, max: Math.max(...tools) },
    tasks: built.reduce((n, b) => n + b.env.tasks.length, 0),
    rejected: Object.fromEntries(Object.entries(rejected).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}
