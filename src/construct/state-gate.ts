// The final-state part of the gate: a task's expected final state comes from replaying its gold plan in a
// fresh episode; the gold plan must reach it (state_match 1) and every near-miss plan must miss it.
//
// Near misses are derived from the gold plan's state-changing steps (tools not marked read-only):
// - wrong item: one row key of the step (a booking id, a venue name) swapped for another row's key;
// - duplicate: the step made twice (not for tools marked idempotent, whose repeat is harmless by contract);
// - skipped: the step left out.
import type { Environment, GateIssue, GoldStep, Task } from "../schema/index.ts";
import { deriveFinalState, normalize, scoreState } from "../score/index.ts";
import type { CompiledEnvironment, Episode } from "../runtime/index.ts";
import { compileEnvironment } from "../runtime/index.ts";
import { issue, rowKeys, sameColumn } from "./validate.ts";

export type NearMissKind = "wrong-item" | "duplicate" | "skipped";

export interface NearMiss {
  kind: NearMissKind;
  /** The gold step it changes. */
  step: string;
  plan: { tool: string; arguments: Record<string, unknown> }[];
}

const changesState = (env: Environment, tool: string): boolean => env.tools.find((t) => t.name === tool)?.annotations?.readOnlyHint !== true;
const idempotent = (env: Environment, tool: string): boolean => env.tools.find((t) => t.name === tool)?.annotations?.idempotentHint === true;

/** The near-miss plans of one task, in gold-step order. */
export function nearMisses(env: Environment, task: Task, keys: Set<string> = rowKeys(env.initial_state)): NearMiss[] {
  const gold = task.gold_plan.map((s) => ({ tool: s.tool, arguments: s.arguments as Record<string, unknown> }));
  const out: NearMiss[] = [];
  task.gold_plan.forEach((step: GoldStep, i) => {
    if (!changesState(env, step.tool)) return;
    for (const [name, value] of Object.entries(step.arguments)) {
      if (typeof value !== "string" || !keys.has(normalize(value))) continue;
      const [other] = sameColumn(env.initial_state, value, 1);
      if (other === undefined) continue;
      out.push({ kind: "wrong-item", step: step.id, plan: gold.map((g, j) => (j === i ? { tool: g.tool, arguments: { ...g.arguments, [name]: other } } : g)) });
    }
    if (!idempotent(env, step.tool)) out.push({ kind: "duplicate", step: step.id, plan: [...gold.slice(0, i + 1), gold[i]!, ...gold.slice(i + 1)] });
    out.push({ kind: "skipped", step: step.id, plan: gold.filter((_, j) => j !== i) });
  });
  return out;
}

/** The state a plan leaves, run in a fresh episode (failed calls included, as an agent's would be). */
export async function finalStateOf(compiled: CompiledEnvironment, plan: readonly { tool: string; arguments: Record<string, unknown> }[]): Promise<unknown> {
  const episode = compiled.openEpisode({});
  try {
    for (const step of plan) await episode.call(step.tool, step.arguments);
    return await episode.state();
  } finally {
    episode.close();
  }
}

/** The environment with every task's expected final state derived from its gold replay (tasks whose plan changes nothing get none). */
export async function withFinalStates(env: Environment): Promise<Environment> {
  const compiled = await compileEnvironment(env, { timeoutMs: 2_000 });
  const tasks: Task[] = [];
  for (const task of env.tasks) {
    const { final_state: _, ...rest } = task;
    const expected = deriveFinalState(env.initial_state, await finalStateOf(compiled, task.gold_plan));
    tasks.push(expected.changes.length > 0 ? { ...rest, final_state: expected } : rest);
  }
  return { ...env, tasks };
}

/** A second implementation the state gate replays every plan in too (a Python deployment's JavaScript twin). */
export interface StateTwin {
  compiled: CompiledEnvironment;
  language: string;
  /** One caller over both episodes that compares their outputs call by call. */
  pair(own: Episode, twin: Episode): Pick<Episode, "call" | "close">;
}

/** The states a plan leaves: in the environment's own implementation and, with a twin, in the twin's (its calls compared on the way). */
async function statesOf(compiled: CompiledEnvironment, plan: readonly { tool: string; arguments: Record<string, unknown> }[], twin?: StateTwin): Promise<unknown[]> {
  if (!twin) return [await finalStateOf(compiled, plan)];
  const own = compiled.openEpisode({});
  const other = twin.compiled.openEpisode({});
  const caller = twin.pair(own, other);
  try {
    for (const step of plan) await caller.call(step.tool, step.arguments);
    return [await own.state(), await other.state()];
  } finally {
    caller.close();
  }
}

/** Replays gold and near-miss plans of every task that declares a final state; returns the near misses run. With a twin, its final-state check must agree on each plan. */
export async function stateGate(compiled: CompiledEnvironment, env: Environment, issues: GateIssue[], twin?: StateTwin): Promise<number> {
  const keys = rowKeys(env.initial_state);
  let count = 0;
  // One difference is reported: near misses of a broken write differ from the twin for the same reason.
  let differs = false;
  for (const [ti, task] of env.tasks.entries()) {
    const expected = task.final_state;
    if (!expected) continue;
    const at = `$.tasks[${ti}].final_state`;
    const check = async (plan: readonly { tool: string; arguments: Record<string, unknown> }[], what: string) => {
      const [own, other] = (await statesOf(compiled, plan, twin)).map((s) => scoreState(env.initial_state, s, expected));
      if (twin && !differs && JSON.stringify(own) !== JSON.stringify(other)) {
        differs = true;
        issue(issues, "twin", at, `the final-state check differs on ${what}: ${env.implementation.language} ${JSON.stringify(own)}, ${twin.language} ${JSON.stringify(other)}`);
      }
      return own!;
    };
    const gold = await check(task.gold_plan, "the gold plan");
    if (gold.state_match !== 1) issue(issues, "state", at, `the gold plan does not reach the expected final state (${gold.changes_made * gold.expected_changes}/${gold.expected_changes} changes made, ${gold.unexpected_changes} unexpected)`);
    const misses = nearMisses(env, task, keys);
    if (misses.length === 0) issue(issues, "state", at, "no near-miss plan could be derived, so the final state was never shown to tell a wrong plan apart");
    for (const miss of misses) {
      count++;
      const s = await check(miss.plan, `the near miss "${miss.kind}" of step ${miss.step}`);
      if (s.state_match !== 0) issue(issues, "state", at, `the near miss "${miss.kind}" of step ${miss.step} still matches the expected final state`);
    }
  }
  return count;
}
