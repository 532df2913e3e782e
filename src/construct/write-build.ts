// Builds write environments: generate, derive each task's final state by gold replay, check determinism, run the
// gate (with near misses); rejected candidates are regenerated with derived seeds, as for the other environments.
import { SCENARIOS, type ImplementationLanguage } from "../schema/index.ts";
import type { Built } from "./build.ts";
import { environmentText } from "./pipeline.ts";
import { Rejection } from "./reject.ts";
import { hashSeed } from "./rng.ts";
import { withFinalStates } from "./state-gate.ts";
import { gate, GATE_CHECKS } from "./validate.ts";
import { generateWrites, WRITE_DOMAINS, type WriteRequest } from "./writes.ts";

const MAX_ATTEMPTS = 40;
export const WRITE_SUITE_SEED = 20261202;
/** Write environments per domain and scenario in the shipped suite. */
export const WRITE_SUITE_PER_CELL = 2;

export interface WriteBuilt extends Built {
  candidates: number;
  rejected: Record<string, number>;
}

async function candidate(request: WriteRequest): Promise<{ built?: Built; reason?: string }> {
  let text: string;
  let env;
  try {
    env = await withFinalStates(generateWrites(request));
    text = environmentText(env);
    if (environmentText(await withFinalStates(generateWrites(request))) !== text) return { reason: "nondeterministic" };
  } catch (err) {
    if (err instanceof Rejection) return { reason: err.reason };
    throw err;
  }
  // A Python deployment is checked call for call (near misses included) against the JavaScript the same request deploys.
  const { language, ...javascript } = request;
  const twin = language === "python" ? generateWrites(javascript).implementation : undefined;
  const report = await gate(env, {}, twin ? { twin } : {});
  if (!report.ok) return { reason: `gate:${report.issues[0]!.check}` };
  env.provenance.stages.validate = { replayed_steps: report.replayed_steps, probes: report.probes, near_misses: report.near_misses ?? 0, checks: [...GATE_CHECKS, ...(twin ? ["twin"] : []), "state", "determinism"] };
  return { built: { env, text: environmentText(env) } };
}

/** The first passing candidate of a request. */
export async function buildWrite(request: WriteRequest): Promise<WriteBuilt> {
  const rejected: Record<string, number> = {};
  for (let a = 0; a < MAX_ATTEMPTS; a++) {
    const c = await candidate(a === 0 ? request : { ...request, seed: hashSeed(request.seed, "retry", a) });
    if (c.built) return { ...c.built, candidates: a + 1, rejected };
    rejected[c.reason!] = (rejected[c.reason!] ?? 0) + 1;
  }
  throw new Error(`could not build write environment ${request.domain}/${request.scenario}/${request.index} in ${MAX_ATTEMPTS} attempts (${JSON.stringify(rejected)})`);
}

/** The shipped write environments: every write domain in every scenario (JavaScript requests carry no language). */
export function writeSuiteRequests(language: ImplementationLanguage = "javascript"): WriteRequest[] {
  const lang = language === "javascript" ? {} : { language };
  return WRITE_DOMAINS.flatMap((domain) => SCENARIOS.flatMap((scenario) => Array.from({ length: WRITE_SUITE_PER_CELL }, (_, index) => ({ domain, scenario, index, seed: hashSeed(WRITE_SUITE_SEED, domain, scenario, index), ...lang }))));
}

export async function buildWriteSuite(onProgress?: (done: number, total: number) => void, language: ImplementationLanguage = "javascript"): Promise<WriteBuilt[]> {
  const requests = writeSuiteRequests(language);
  const out: WriteBuilt[] = [];
  for (const r of requests) {
    out.push(await buildWrite(r));
    onProgress?.(out.length, requests.length);
  }
  return out;
}
