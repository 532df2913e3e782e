// The sandbox kinds a worker thread can host, by `implementation.language`: each one compiles an environment into episodes.
import type { Environment, SandboxLimitsInput } from "../schema/index.ts";
import type { CompiledEnvironment } from "./index.ts";

/**
 * All a sandbox kind provides to run on the pool's workers: compile an environment (throwing
 * EnvironmentCompileError, or any Error, when it cannot run) into something that opens episodes.
 * The episodes implement `Episode`: calls in arrival order, never rejecting, with `applied`
 * counting the calls that took effect, so the pool can move an episode to another worker by replay.
 *
 * A kind that needs to stop its own code from outside (Pyodide's interrupt buffer) gets the worker's
 * `interrupt` word: a SharedArrayBuffer-backed Int32Array the pool sets to 2 when the call running on
 * that worker is past its deadline; the kind resets it to 0 before each call.
 */
export interface SandboxKind {
  compile(env: Environment, limits: SandboxLimitsInput, worker: { interrupt: Int32Array }): Promise<CompiledEnvironment>;
}

/** The kind every worker loads before it reports ready, so a worker's first episode does not pay for loading it. */
export const PRELOADED_KIND = "javascript";

/** Loaded on first use in each worker, so a worker pays only for the kinds its environments use. */
export const SANDBOX_KINDS: Record<string, () => Promise<SandboxKind>> = {
  javascript: async () => {
    const [{ compileJavaScript }, engine] = await Promise.all([import("./index.ts"), import("./engine.ts")]);
    // Compiling the QuickJS WebAssembly module is the slow part of a first compile.
    engine.releaseInstance(await engine.acquireInstance(engine.BASE_BYTES));
    return { compile: (env, limits) => compileJavaScript(env, limits) };
  },
};
