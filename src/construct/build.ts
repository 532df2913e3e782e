// Builds many environments: plans each one, regenerates rejected candidates with derived seeds, and
// keeps only those that are deterministic, pass the gate and ask questions no other task asks.
import type { BuildRequest, BuildSummary, Environment } from "../schema/index.ts";
import { STRATEGIES } from "../schema/index.ts";
import { environmentText, generate, PROCEDURAL, type Stages } from "./pipeline.ts";
import { Rejection } from "./reject.ts";
import { planRequest, type BuildOptions, type RunOptions } from "./plan.ts";
import { hashSeed } from "./rng.ts";
import { gate, GATE_CHECKS } from "./validate.ts";
import { WorkerPool } from "./workers.ts";

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
    // A Python deployment is checked call for call against the JavaScript the same request deploys.
    const { language, ...javascript } = request;
    const twin = language === "python" ? generate(javascript, stages).env.implementation : undefined;
    const report = await gate(env, {}, twin ? { twin } : {});
    if (!report.ok) return { reason: `gate:${report.issues[0]!.check}` };
    env.provenance.stages.validate = { replayed_steps: report.replayed_steps, probes: report.probes, checks: [...GATE_CHECKS, ...(twin ? ["twin"] : []), "determinism"] };
    return { env, text: environmentText(env) };
  }
  return { env, text };
}

/** The first candidate of a request, from attempt `from` on, that passes; with what was rejected on the way. */
export interface Passing {
  attempt: number;
  built: Built;
  rejected: Record<string, number>;
  candidates: number;
}

export async function firstPassing(base: BuildRequest, from: number, stages: Stages, validate: boolean): Promise<Passing> {
  const rejected: Record<string, number> = {};
  let candidates = 0;
  for (let a = from; a < MAX_ATTEMPTS; a++) {
    const request = a === 0 ? base : { ...base, seed: hashSeed(base.seed, "retry", a) };
    candidates++;
    const c = await attempt(request, stages, validate);
    if (c.reason) rejected[c.reason] = (rejected[c.reason] ?? 0) + 1;
    else return { attempt: a, built: { env: c.env!, text: c.text! }, rejected, candidates };
  }
  throw new Error(`could not build environment ${base.id} in ${MAX_ATTEMPTS} attempts (${JSON.stringify(rejected)})`);
}

/**
 * Builds one environment per request, in order; rejected candidates are retried with derived seeds.
 * With `jobs` > 1 the candidates are made in worker threads; the result is the same as with one job,
 * because each request's first passing candidate depends on that request alone and questions that
 * repeat an earlier environment's are settled here, in request order.
 */
export async function buildRequests(requests: readonly BuildRequest[], options: RunOptions = {}): Promise<BuildResult> {
  const stages = options.stages ?? PROCEDURAL;
  const validate = options.validate ?? true;
  const jobs = stages === PROCEDURAL ? Math.max(1, Math.min(options.jobs ?? 1, requests.length)) : 1;
  const pool = jobs > 1 ? new WorkerPool(jobs, validate) : null;
  const first = (i: number): Promise<Passing> => (pool ? pool.run(requests[i]!) : firstPassing(requests[i]!, 0, stages, validate));
  const pending = pool ? requests.map((_, i) => first(i)) : [];
  // Settled promises are awaited in order below; keep early rejections from being reported as unhandled.
  for (const p of pending) p.catch(() => undefined);
  const environments: Built[] = [];
  const rejected: Record<string, number> = {};
  const questions = new Set<string>();
  let candidates = 0;
  const count = (p: Passing) => {
    candidates += p.candidates;
    for (const [k, v] of Object.entries(p.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
  };
  try {
    for (const [i, base] of requests.entries()) {
      let p = await (pool ? pending[i]! : first(i));
      count(p);
      while (p.built.env.tasks.some((t) => questions.has(t.question))) {
        rejected["duplicate-question"] = (rejected["duplicate-question"] ?? 0) + 1;
        p = await firstPassing(base, p.attempt + 1, stages, validate);
        count(p);
      }
      for (const t of p.built.env.tasks) questions.add(t.question);
      environments.push(p.built);
      options.onProgress?.(i + 1, requests.length);
    }
  } finally {
    await pool?.close();
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
