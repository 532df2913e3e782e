// The sandboxed tool runtime: compiles an environment once, then runs its tools in isolated episodes (QuickJS for JavaScript, Pyodide for Python).
import { SandboxLimits, type Environment, type SandboxLimitsInput } from "../schema/index.ts";
import { compileTools } from "./args.ts";
import { acquireInstance, maxBytesFor, releaseInstance } from "./engine.ts";
import { SandboxEpisode, setupMessage, type Episode, type EpisodeParts, type LocalEpisode } from "./episode.ts";
import { compilePython } from "./python/sandbox.ts";
import { Sandbox, syntaxErrors, type Program } from "./sandbox.ts";

export type { Episode, LocalEpisode } from "./episode.ts";
export { SANDBOX_EPOCH_MS } from "./engine.ts";
export { formatCallError, toolOutputText } from "./text.ts";
export { workerBoot } from "./boot.ts";
export type { SandboxKind } from "./kinds.ts";
export { configureSandboxPool, sandboxPool, SandboxPool, type SandboxPoolOptions, type SandboxPoolStats } from "./pool.ts";
export { callText, outputDigest, rebuildEpisode, recordCall, replayCalls, ReplayMismatchError, type RecordedCall } from "./replay.ts";
export { PythonEpisode } from "./python/sandbox.ts";
export { sharedInterpreter, PythonInterpreter, type SandboxWorker } from "./python/interpreter.ts";

export interface CompiledEnvironment<E extends Episode = Episode> {
  readonly env: Environment;
  readonly limits: SandboxLimits;
  /** A new episode on its own copy of `env.initial_state`; `seed` (a safe integer, default 0) seeds `Math.random`. */
  openEpisode(options?: { seed?: number }): E;
}

/** Every reason an environment cannot run, each naming the tool or part it concerns. */
export class EnvironmentCompileError extends Error {
  constructor(
    readonly envId: string,
    readonly problems: readonly string[],
  ) {
    super(`environment "${envId}" cannot run:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "EnvironmentCompileError";
  }
}

function checkedSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new TypeError(`seed must be a safe integer, got ${String(seed)}`);
  return seed;
}

/**
 * Compiles every tool's input schema, parses the prelude and every tool, and opens one
 * trial sandbox (prelude run, tools evaluated, initial state installed under the limits),
 * so an environment that compiles will open episodes. Throws EnvironmentCompileError
 * listing every problem found. JavaScript runs in QuickJS on this thread; Python in the
 * process's Pyodide interpreter, a worker thread of its own.
 */
export async function compileEnvironment(env: Environment, limitsInput: SandboxLimitsInput = {}): Promise<CompiledEnvironment> {
  if (env.implementation.language !== "python") return compileJavaScript(env, limitsInput);
  const limits = parsedLimits(env, limitsInput);
  const python = await compilePython(env, limits);
  if (!python.ok) throw new EnvironmentCompileError(env.id, python.problems);
  return { env, limits, openEpisode: (options = {}) => python.openEpisode(checkedSeed(options.seed ?? 0)) };
}

function parsedLimits(env: Environment, limitsInput: SandboxLimitsInput): SandboxLimits {
  const parsed = SandboxLimits.safeParse(limitsInput);
  if (!parsed.success) throw new EnvironmentCompileError(env.id, parsed.error.issues.map((i) => `limits.${i.path.join(".")}: ${i.message}`));
  return parsed.data;
}

/** `compileEnvironment` for JavaScript tool code: its episodes run on the calling thread, so their state can be read synchronously. */
export async function compileJavaScript(env: Environment, limitsInput: SandboxLimitsInput = {}): Promise<CompiledEnvironment<LocalEpisode>> {
  const limits = parsedLimits(env, limitsInput);
  const compiledTools = compileTools(env);
  const problems = compiledTools.problems;
  const tools = new Map(compiledTools.tools.map((t, index) => [t.name, { index, validate: t.validate }]));
  const program: Program = { prelude: env.implementation.prelude ?? "", tools: compiledTools.tools.map(({ name, source }) => ({ name, source })) };
  let initialStateJson: string | undefined;
  try {
    initialStateJson = JSON.stringify(env.initial_state ?? {});
  } catch (err) {
    problems.push(`initial state is not JSON: ${(err as Error).message}`);
  }
  const maxBytes = maxBytesFor(limits.memoryBytes);
  const instance = await acquireInstance(maxBytes);
  const syntax = syntaxErrors(instance, program, limits);
  problems.push(...syntax.map(setupMessage));
  if (problems.length === 0 && initialStateJson !== undefined) {
    const trial = Sandbox.create(instance, program, limits, 0, `{"state":${initialStateJson},"rng":null}`);
    if (trial.ok) trial.sandbox.dispose();
    else problems.push(setupMessage(trial.failure));
  }
  // The trial's instance becomes the first episode's, so opening it needs no new instance.
  releaseInstance(instance);
  if (problems.length > 0 || initialStateJson === undefined) throw new EnvironmentCompileError(env.id, problems);
  const parts: EpisodeParts = { program, limits, maxBytes, tools, initialStateJson };
  return {
    env,
    limits,
    openEpisode(options = {}) {
      return new SandboxEpisode(parts, checkedSeed(options.seed ?? 0));
    },
  };
}
