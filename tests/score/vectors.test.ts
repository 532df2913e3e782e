// Every case of the reward vectors (tests/score/vectors/) reproduced exactly: episode metrics, step parsing and the four step rewards.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { EpisodeLine, StepLine, type ParsedResponse } from "../../src/schema/index.ts";
import { parseResponse, scoreEpisode, scoreStep } from "../../src/score/index.ts";

const VECTORS = resolve(import.meta.dirname, "vectors");

function load(name: string): Record<string, unknown>[] {
  const file = resolve(VECTORS, name);
  if (!existsSync(file)) throw new Error(`reward vectors missing: ${file}`);
  const rows = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (rows.length === 0) throw new Error(`reward vectors empty: ${file}`);
  return rows;
}

const episodes = load("reward-episodes.jsonl");
const steps = load("reward-steps.jsonl");
const TOLERANCE = 1e-9;

function expectClose(actual: Record<string, number>, expected: Record<string, number>, id: string): void {
  expect(Object.keys(actual).sort(), id).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) expect(Math.abs(actual[k]! - v), `${id} ${k}: ${actual[k]} vs ${v}`).toBeLessThanOrEqual(TOLERANCE);
}

describe("reward vectors", () => {
  it("holds the 400 + 400 cases the README describes", () => {
    expect(episodes).toHaveLength(400);
    expect(steps).toHaveLength(400);
  });

  it.each(episodes.map((row) => [row.id as string, row] as const))("episode %s", (id, row) => {
    const line = EpisodeLine.parse(row);
    const before = structuredClone(line.unsolved_set);
    const s = scoreEpisode(line.unsolved_set, line.turns);
    const { solved, calls, needed, solve_precision, solve_rate, solve_f1 } = s;
    expectClose({ solved, calls, needed, solve_precision, solve_rate, solve_f1 }, row.expected as Record<string, number>, id);
    expect(line.unsolved_set, "input not mutated").toEqual(before);
    expect(s.solved_by.flat().filter((x) => x !== null)).toHaveLength(solved);
  });

  it.each(steps.map((row) => [row.id as string, row] as const))("step %s", (id, row) => {
    const line = StepLine.parse(row);
    expect(parseResponse(line.raw), `${id} parsed`).toEqual(row.parsed as ParsedResponse);
    const before = structuredClone(line.state.unsolved_set);
    const s = scoreStep(line.state, line.raw, line.tool_outputs);
    expectClose(s.rewards, row.expected as Record<string, number>, id);
    expect(line.state.unsolved_set, "input not mutated").toEqual(before);
  });
});
