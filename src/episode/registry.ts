// The environments a server offers, by id, each compiled once on first use and shared by its episodes.
import { createHash } from "node:crypto";
import { loadEnvironments, type Problem } from "../load/index.ts";
import { sandboxPool, type CompiledEnvironment } from "../runtime/index.ts";
import { plural, type Environment, type SandboxLimitsInput, type Task } from "../schema/index.ts";

export interface RegisteredEnvironment {
  env: Environment;
  file: string | null;
  /** sha256 of the environment's JSON, recorded with each episode so exports know which version ran. */
  sha256: string;
}

/** A request for an environment or task the server does not have; `status` is the HTTP status to answer with. */
export class LookupError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class EnvironmentRegistry {
  private readonly byId = new Map<string, RegisteredEnvironment>();
  private readonly compiled = new Map<string, Promise<CompiledEnvironment>>();

  constructor(
    /** `sha256` keeps the hash of the file as written when `env` is a cut of it (tasks left out by a pass band). */
    environments: readonly { env: Environment; file?: string | null; sha256?: string }[],
    /** Sandbox limits every compiled environment gets. */
    readonly limits: SandboxLimitsInput = {},
  ) {
    for (const { env, file, sha256 } of environments) {
      if (this.byId.has(env.id)) throw new Error(`environment id "${env.id}" is given twice`);
      this.byId.set(env.id, { env, file: file ?? null, sha256: sha256 ?? createHash("sha256").update(JSON.stringify(env)).digest("hex") });
    }
  }

  /** Loads every environment below the folders or files; files with problems are reported and skipped. */
  static async load(paths: readonly string[], limits: SandboxLimitsInput = {}): Promise<{ registry: EnvironmentRegistry; problems: Problem[] }> {
    const report = await loadEnvironments(paths);
    return { registry: new EnvironmentRegistry(report.environments, limits), problems: report.problems };
  }

  get size(): number {
    return this.byId.size;
  }

  list(): RegisteredEnvironment[] {
    return [...this.byId.values()];
  }

  get(id: string): RegisteredEnvironment | undefined {
    return this.byId.get(id);
  }

  /** The environment and task to run; a missing task is allowed only when the environment has exactly one. */
  resolve(envId: string, taskId: string | null | undefined): { entry: RegisteredEnvironment; task: Task } {
    const entry = this.byId.get(envId);
    if (!entry) {
      // Clients see this: it names no folder of the server's (they choose from the catalog, not the disk).
      throw new LookupError(`unknown environment "${envId}": this server has ${plural(this.size, "environment")}; connect without ?env= for the catalog`, 404);
    }
    const tasks = entry.env.tasks;
    if (taskId === null || taskId === undefined || taskId === "") {
      if (tasks.length === 1) return { entry, task: tasks[0]! };
      throw new LookupError(`environment "${envId}" has ${tasks.length} tasks; choose one with task=ID: ${tasks.map((t) => t.id).join(", ")}`, 400);
    }
    const task = tasks.find((t) => t.id === taskId);
    if (!task) throw new LookupError(`environment "${envId}" has no task "${taskId}"; its tasks are: ${tasks.map((t) => t.id).join(", ")}`, 404);
    return { entry, task };
  }

  /**
   * The compiled environment, compiling it on first use in the process's sandbox pool (worker threads);
   * concurrent first uses share one compilation, and the pool keeps a failed one, so it is not paid again.
   */
  compile(envId: string): Promise<CompiledEnvironment> {
    const cached = this.compiled.get(envId);
    if (cached) return cached;
    const entry = this.byId.get(envId);
    if (!entry) return Promise.reject(new LookupError(`unknown environment "${envId}"`, 404));
    const compiled = sandboxPool().compile(entry.env, this.limits);
    compiled.catch(() => undefined);
    this.compiled.set(envId, compiled);
    return compiled;
  }
}
