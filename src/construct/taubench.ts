// FTRL's tau-bench domains as environments: Python tools over JSON databases, tasks judged by the gold actions' outputs, the reply and the final database.
import { createHash } from "node:crypto";
import type { TaubenchDomain } from "../load/taubench.ts";
import { compileEnvironment, formatCallError, type PythonEpisode } from "../runtime/index.ts";
import { Environment, FORMAT, type EnvironmentInput, type Task } from "../schema/index.ts";

/** JSON with sorted keys: the same database gives the same digest whatever order its keys were written in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The digest of a database state, as stored for each task's expected final state. */
export function stateDigest(state: unknown): string {
  return createHash("sha256").update(canonical(state)).digest("hex");
}

export interface TaubenchImport {
  env: Environment | null;
  /** Tasks left out, each with its reason (no gold actions, an action that cannot run, ...). */
  skipped: { task: string; reason: string }[];
  problems: string[];
}

/** Where an imported environment keeps each task's expected final database digest. */
export const FINAL_STATE_STAGE = "taubench";

/**
 * One environment per domain. Each task's gold actions are replayed in the Python sandbox
 * from the initial database: each action's output text becomes the sub-answer its tool must
 * produce (so the agent must make the same calls with the same effect), the task's
 * `outputs` joined by ", " become the final answer (the last action's output when it has
 * none), and the database after the last action is kept as a digest for the final-state check.
 */
export async function importTaubenchDomain(domain: TaubenchDomain): Promise<TaubenchImport> {
  const problems: string[] = [];
  const tools = domain.tools.map((t) => ({
    name: t.name,
    description: t.description || `The ${t.name} tool.`,
    input_schema: { ...t.parameters, type: "object" as const },
  }));
  for (const t of tools) if (domain.codes[t.name] === undefined) problems.push(`${domain.dir}: tool "${t.name}" has no code in codes.json`);
  if (problems.length > 0) return { env: null, skipped: [], problems };
  const base: Omit<EnvironmentInput, "tasks"> = {
    format: FORMAT,
    id: `taubench-${domain.name}`.replace(/[^A-Za-z0-9_.-]/g, "-"),
    title: `tau-bench ${domain.name} (FTRL)`,
    domain: domain.name,
    scenario: "multi-hop",
    complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
    provenance: { generator: "envforge import --from ftrl-taubench", version: "1", seed: 0, stages: {} },
    tools,
    implementation: { language: "python", prelude: "", tools: Object.fromEntries(tools.map((t) => [t.name, domain.codes[t.name]!])) },
    initial_state: domain.data as EnvironmentInput["initial_state"],
  };
  const runnable = { ...base, tasks: [] } as unknown as Environment;
  let compiled;
  try {
    compiled = await compileEnvironment(runnable);
  } catch (err) {
    return { env: null, skipped: [], problems: [(err as Error).message] };
  }
  const tasks: Task[] = [];
  const digests: Record<string, string> = {};
  const skipped: TaubenchImport["skipped"] = [];
  for (const { file, index, task } of domain.tasks) {
    const id = String(task.id ?? `${file.replace(/\.json$/, "")}-${index}`).replace(/[^A-Za-z0-9_.-]/g, "-");
    if (task.actions.length === 0) {
      skipped.push({ task: id, reason: "no gold actions" });
      continue;
    }
    const episode = compiled.openEpisode() as PythonEpisode;
    try {
      const steps: Task["gold_plan"] = [];
      for (const [i, action] of task.actions.entries()) {
        const args = action.kwargs ?? action.arguments;
        const r = await episode.call(action.name, args);
        const output = r.ok ? r.text : formatCallError(action.name, r.error);
        if (!r.ok && r.kind !== "tool_error") throw new Error(`action ${i} (${action.name}) failed: ${r.error}`);
        if (output.trim() === "") throw new Error(`action ${i} (${action.name}) returned nothing to match`);
        steps.push({ id: `a${i + 1}`, tool: action.name, arguments: args, depends_on: i > 0 ? [`a${i}`] : [], yields: output });
      }
      const unsolved: Record<string, string[]> = {};
      for (const s of steps) (unsolved[s.tool] ??= []).push(s.yields);
      digests[id] = stateDigest(await episode.state());
      tasks.push({ id, question: task.instruction, unsolved_set: unsolved, answer: task.outputs.length > 0 ? task.outputs.join(", ") : steps[steps.length - 1]!.yields, gold_plan: steps });
    } catch (err) {
      skipped.push({ task: id, reason: (err as Error).message });
    } finally {
      episode.close();
    }
  }
  if (tasks.length === 0) return { env: null, skipped, problems: [`${domain.dir}: no task could be imported`] };
  const parsed = Environment.safeParse({ ...base, provenance: { ...base.provenance, stages: { [FINAL_STATE_STAGE]: { final_state_sha256: digests } } }, tasks });
  if (!parsed.success) return { env: null, skipped, problems: parsed.error.issues.map((i) => `${domain.dir}: ${i.path.join(".")}: ${i.message}`) };
  return { env: parsed.data, skipped, problems };
}

/** The final-state check of an imported task: does this database equal the one its gold actions leave? */
export function finalStateMatches(env: Environment, taskId: string, state: unknown): boolean {
  const stage = env.provenance.stages[FINAL_STATE_STAGE] as { final_state_sha256?: Record<string, string> } | undefined;
  const expected = stage?.final_state_sha256?.[taskId];
  return expected !== undefined && expected === stateDigest(state);
}
