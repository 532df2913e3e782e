// Reward throughput on the reward vectors: episodes and steps scored per second, beside a naive port measured in the same run.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseResponse, scoreEpisode, scoreLine, scoreStep } from "../src/score/index.ts";
import { EpisodeLine, StepLine, type EpisodeMetrics, type ExecutedCall, type StepState, type Turn, type UnsolvedSet } from "../src/schema/index.ts";

const VECTORS = resolve(import.meta.dirname, "../tests/score/vectors");
const rows = (name: string): unknown[] =>
  readFileSync(resolve(VECTORS, name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as unknown);

const episodeRows = rows("reward-episodes.jsonl");
const stepRows = rows("reward-steps.jsonl");
const episodes = episodeRows.map((r) => EpisodeLine.parse(r));
const steps = stepRows.map((r) => StepLine.parse(r));

// The naive baseline: the reference read literally, re-normalizing the golden and the
// output on every comparison and deep-copying the unsolved set per episode.
const naiveVerify = (output: string, golden: string): boolean => {
  const out = output.toLowerCase().replace(/,/g, "").trim();
  return golden.split(", ").every((piece) => out.includes(piece.toLowerCase().replace(/,/g, "").trim()));
};

function naiveConsume(set: UnsolvedSet, call: ExecutedCall): boolean {
  const answers = set[call.name] ?? [];
  for (const answer of answers) {
    if (naiveVerify(call.output, answer)) {
      answers.splice(answers.indexOf(answer), 1);
      return true;
    }
  }
  return false;
}

function naiveEpisode(unsolved: UnsolvedSet, turns: readonly Turn[]): EpisodeMetrics {
  const set = JSON.parse(JSON.stringify(unsolved)) as UnsolvedSet;
  const needed = Object.values(set).reduce((n, l) => n + l.length, 0);
  let calls = 0;
  let solved = 0;
  for (const turn of turns) {
    if (turn.tool_calls.length === 0) break;
    for (const call of turn.tool_calls) {
      calls++;
      if (naiveConsume(set, call)) solved++;
    }
  }
  return { solved, calls, needed, solve_precision: calls > 0 ? solved / calls : 1, solve_rate: solved / needed, solve_f1: (2 * solved) / (calls + needed) };
}

function naiveStep(state: StepState, raw: string, outputs: readonly string[]): number {
  const parsed = parseResponse(raw);
  const set = JSON.parse(JSON.stringify(state.unsolved_set)) as UnsolvedSet;
  const pending = Object.values(set).reduce((n, l) => n + l.length, 0);
  if (parsed.tool_calls.length > 0) {
    let q = 0;
    parsed.tool_calls.forEach((c, i) => {
      if (naiveConsume(set, { name: c.name, arguments: c.arguments, output: outputs[i]! })) q++;
    });
    return (2 * q) / (parsed.tool_calls.length + 1);
  }
  const content = parsed.content;
  if (content === "") return -0.5;
  if (/<tool_call>|<\/tool_call>|<tool_parsed_response>/.test(content)) return -0.3;
  const norm = (s: string): string => s.toLowerCase().replace(/,/g, "").trim();
  if (state.answer !== null && norm(content).includes(norm(state.answer))) return 1 / (1 + pending);
  return state.solve_rate === 1 ? 0.5 : 0;
}

/** Repeats `pass` (one sweep over `items` cases) for ~250 ms, five times after a warm-up; the median cases per second. */
function rate(items: number, pass: () => number): number {
  let sink = 0;
  for (let i = 0; i < 50; i++) sink += pass();
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    let sweeps = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < 250) {
      sink += pass();
      sweeps++;
      elapsed = performance.now() - start;
    }
    rates.push((sweeps * items) / (elapsed / 1000));
  }
  if (Number.isNaN(sink)) throw new Error("unreachable: keeps the work observable");
  return rates.sort((a, b) => a - b)[2]!;
}

// Both implementations must agree before their speeds mean anything.
episodes.forEach((e) => {
  const fast = scoreEpisode(e.unsolved_set, e.turns);
  const naive = naiveEpisode(e.unsolved_set, e.turns);
  for (const k of ["solved", "calls", "needed", "solve_precision", "solve_rate", "solve_f1"] as const) {
    if (fast[k] !== naive[k]) throw new Error(`${e.id}: ${k} ${fast[k]} (fast) != ${naive[k]} (naive)`);
  }
});
steps.forEach((s) => {
  const fast = scoreStep(s.state, s.raw, s.tool_outputs).rewards.f1;
  if (fast !== naiveStep(s.state, s.raw, s.tool_outputs)) throw new Error(`${s.id}: step rewards differ`);
});

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const calls = episodes.reduce((n, e) => n + e.turns.reduce((m, t) => m + t.tool_calls.length, 0), 0);

/** Cases per second of `score` over `items`; the summed results keep the work observable. */
const over = <T>(items: readonly T[], score: (item: T) => number): number =>
  rate(items.length, () => {
    let s = 0;
    for (const item of items) s += score(item);
    return s;
  });

const episodeFast = over(episodes, (e) => scoreEpisode(e.unsolved_set, e.turns).solved);
const episodeStrict = over(episodes, (e) => scoreEpisode(e.unsolved_set, e.turns, { mode: "strict" }).solved);
const episodeNaive = over(episodes, (e) => naiveEpisode(e.unsolved_set, e.turns).solved);
const stepFast = over(steps, (st) => scoreStep(st.state, st.raw, st.tool_outputs).rewards.f1);
const stepNaive = over(steps, (st) => naiveStep(st.state, st.raw, st.tool_outputs));
const lineRate = over([...episodeRows, ...stepRows], (r) => Object.keys(scoreLine(r)).length);

console.log(`score: reward throughput on the reward vectors (${episodes.length} episodes with ${calls} calls, ${steps.length} steps)`);
console.log(`  episodes/s  ftrl   ${fmt(episodeFast).padStart(11)}   (target >= 250,000)`);
console.log(`  episodes/s  strict ${fmt(episodeStrict).padStart(11)}`);
console.log(`  episodes/s  naive  ${fmt(episodeNaive).padStart(11)}   ftrl is ${(episodeFast / episodeNaive).toFixed(2)}x the naive port`);
console.log(`  steps/s     ftrl   ${fmt(stepFast).padStart(11)}   (raw text parsed each time)`);
console.log(`  steps/s     naive  ${fmt(stepNaive).padStart(11)}   ftrl is ${(stepFast / stepNaive).toFixed(2)}x the naive port`);
console.log(`  lines/s     ${fmt(lineRate).padStart(18)}   (scoreLine: schema validation included, as the CLI does)`);
