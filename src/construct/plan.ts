// Planning a build: which environment (domain, scenario, levels, seed, id) sits at each index.
import type { BuildRequest, Complexity, Domain, ImplementationLanguage, Scenario } from "../schema/index.ts";
import { DOMAINS, SCENARIOS, STRATEGIES } from "../schema/index.ts";
import type { Stages } from "./pipeline.ts";
import { hashSeed, rngFrom } from "./rng.ts";

const ABBR: Record<Scenario, string> = { "single-hop": "sh", "parallel-single-hop": "psh", "multi-hop": "mh", "parallel-multi-hop": "pmh" };

export interface RunOptions {
  /** Run the validation gate (the default); off only to measure what it costs. */
  validate?: boolean;
  /** Worker threads making candidates (procedural stages only); 1 builds in this thread. */
  jobs?: number;
  stages?: Stages;
  onProgress?: (done: number, total: number) => void;
}

export interface BuildOptions extends RunOptions {
  count: number;
  seed: number;
  /** A scenario, or "mixed" to cycle through all four. */
  scenario?: Scenario | "mixed";
  /** Levels for all four strategies, or "mixed" to cycle 0-3. */
  complexity?: Complexity | "mixed";
  /** A domain, or undefined to cycle through all of them. */
  domain?: Domain;
  /** The tools' language; JavaScript by default (its requests carry no language field). */
  language?: ImplementationLanguage;
}

export const uniformComplexity = (level: number): Complexity =>
  Object.fromEntries(STRATEGIES.map((s) => [s, level])) as Complexity;

/** The request for environment `index` of a build; the same options and index always give the same request. */
export function planRequest(options: BuildOptions, index: number): BuildRequest {
  const scenario = !options.scenario || options.scenario === "mixed" ? SCENARIOS[index % SCENARIOS.length]! : options.scenario;
  const complexity = !options.complexity || options.complexity === "mixed" ? uniformComplexity(Math.floor(index / SCENARIOS.length) % 4) : options.complexity;
  const domain = options.domain ?? DOMAINS[(index + Math.floor(index / 16)) % DOMAINS.length]!;
  const seed = hashSeed(options.seed, index);
  const tasks = rngFrom(seed).fork("tasks").int(2, scenario === "parallel-multi-hop" ? 3 : 4);
  const levels = STRATEGIES.map((s) => complexity[s]).join("");
  const language = options.language && options.language !== "javascript" ? { language: options.language } : {};
  return { id: `${domain}-${ABBR[scenario]}-c${levels}-${seed.toString(16).padStart(8, "0")}`, seed, domain, scenario, complexity, tasks, ...language };
}

