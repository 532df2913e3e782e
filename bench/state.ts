// The final-state check's cost: episodes scored per second with it and without it in the same run, and the gate's
// cost per write environment with its near-miss replays beside the same gate without them.
import { join, resolve } from "node:path";
import { finalStateOf, gate, nearMisses } from "../src/construct/index.ts";
import { loadEnvironments } from "../src/load/index.ts";
import { compileEnvironment, formatCallError } from "../src/runtime/index.ts";
import { scoreEpisode, scoreState } from "../src/score/index.ts";
import type { Environment, FinalState, Turn, UnsolvedSet } from "../src/schema/index.ts";

const DIR = resolve(import.meta.dirname, "../environments");
const report = await loadEnvironments(["single-hop", "parallel-single-hop", "multi-hop", "parallel-multi-hop"].map((s) => join(DIR, s)));
const writes = report.environments.map((e) => e.env).filter((e) => e.tasks.some((t) => t.final_state));

/** One recorded episode: its turns (one call each), the state it ended in, and what its task expects. */
interface Played {
  unsolved: UnsolvedSet;
  turns: Turn[];
  initial: unknown;
  final: unknown;
  expected: FinalState;
}

const played: Played[] = [];
for (const env of writes) {
  const compiled = await compileEnvironment(env);
  for (const task of env.tasks) {
    for (const plan of [task.gold_plan, ...nearMisses(env, task).map((m) => m.plan)]) {
      const episode = compiled.openEpisode({});
      const turns: Turn[] = [];
      for (const step of plan) {
        const r = await episode.call(step.tool, step.arguments);
        turns.push({ content: "", tool_calls: [{ name: step.tool, arguments: step.arguments as Record<string, never>, output: r.ok ? r.text : formatCallError(step.tool, r.error) }] });
      }
      played.push({ unsolved: task.unsolved_set, turns, initial: env.initial_state, final: await episode.state(), expected: task.final_state! });
      episode.close();
    }
  }
}

/** The median of five ~250 ms rounds, in episodes per second. */
function perSecond(pass: () => number): number {
  let sink = 0;
  for (let i = 0; i < 20; i++) sink += pass();
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    let sweeps = 0;
    const start = performance.now();
    while (performance.now() - start < 250) {
      sink += pass();
      sweeps++;
    }
    rates.push((sweeps * played.length) / ((performance.now() - start) / 1000));
  }
  if (Number.isNaN(sink)) throw new Error("unreachable: keeps the work observable");
  return rates.sort((a, b) => a - b)[2]!;
}

const off = perSecond(() => played.reduce((n, p) => n + scoreEpisode(p.unsolved, p.turns).solved, 0));
const on = perSecond(() => played.reduce((n, p) => n + scoreEpisode(p.unsolved, p.turns).solved + scoreState(p.initial, p.final, p.expected).state_match, 0));

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
console.log(`state: the final-state check on ${played.length} recorded write episodes (gold and near-miss plans of ${writes.length} environments)`);
console.log(`  episodes/s  ftrl only        ${fmt(off).padStart(11)}`);
console.log(`  episodes/s  ftrl + state     ${fmt(on).padStart(11)}   ${(on / off).toFixed(2)}x the rate without it`);

/** Milliseconds per environment for the gate, over a sample, with and without the final states (and so the near misses). */
const sample = writes.filter((_, i) => i % 4 === 0);
const stripped = (env: Environment): Environment => ({ ...env, tasks: env.tasks.map(({ final_state: _, ...t }) => t) });
let nearMissRuns = 0;
const timeGate = async (envs: readonly Environment[]): Promise<number> => {
  const start = performance.now();
  for (const env of envs) {
    const r = await gate(env);
    if (!r.ok) throw new Error(`${env.id} fails the gate: ${r.issues[0]!.message}`);
    nearMissRuns += r.near_misses ?? 0;
  }
  return (performance.now() - start) / envs.length;
};
const without = await timeGate(sample.map(stripped));
nearMissRuns = 0;
const withStates = await timeGate(sample);
console.log(`  gate ms/env without state    ${without.toFixed(1).padStart(8)}   (${sample.length} write environments)`);
console.log(`  gate ms/env with near misses ${withStates.toFixed(1).padStart(8)}   ${(withStates / without).toFixed(2)}x; ${(nearMissRuns / sample.length).toFixed(1)} near-miss replays per environment`);
// The replay of one plan, for scale: what a near miss costs on its own.
const one = writes[0]!;
const compiled = await compileEnvironment(one);
const t0 = performance.now();
for (let i = 0; i < 50; i++) await finalStateOf(compiled, one.tasks[0]!.gold_plan);
console.log(`  one plan replayed in a fresh episode: ${((performance.now() - t0) / 50).toFixed(2)} ms`);
