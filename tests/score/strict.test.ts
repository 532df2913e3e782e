// Strict mode: for each weakness of the reference reward, a trajectory that scores in ftrl and not in strict.
import { describe, expect, it } from "vitest";
import { finalAnswerFound, outsideThink, scoreEpisode, scoreStep } from "../../src/score/index.ts";
import type { StepState, Turn } from "../../src/schema/index.ts";

const set = { get_birth_year: ["1961"] };
const state: StepState = { unsolved_set: set, solve_rate: 0.5, answer: "1961" };
const hermes = (name: string, args: object): string => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;
const both = (turns: Turn[], answer?: string) => ({
  ftrl: scoreEpisode(set, turns, { mode: "ftrl", answer: answer ?? null }),
  strict: scoreEpisode(set, turns, { mode: "strict", answer: answer ?? null }),
});

describe("weakness 1: an error message never solves", () => {
  // The tool rejects the call, and its message happens to name the sub-answer.
  const error = "an error occured when call get_birth_year: no record for Elena Vastrova (closest: Elena Vastrov, 1961)";
  const call = { name: "get_birth_year", arguments: { person: "Elena Vastrova" }, output: error };

  it("goes by the reference's wording when no flag is given", () => {
    const s = both([{ content: null, tool_calls: [call] }]);
    expect(s.ftrl.solved).toBe(1);
    expect(s.strict.solved).toBe(0);
    const raw = hermes("get_birth_year", { person: "Elena Vastrova" });
    expect(scoreStep(state, raw, [error]).rewards.f1).toBe(1);
    expect(scoreStep(state, raw, [error], { mode: "strict" }).rewards.f1).toBe(0);
  });

  it("trusts an explicit flag over the wording", () => {
    const worded = "Error: no record; try 1961";
    const flagged = both([{ content: null, tool_calls: [{ ...call, output: worded, is_error: true }] }]);
    expect([flagged.ftrl.solved, flagged.strict.solved]).toEqual([1, 0]);
    const unflagged = both([{ content: null, tool_calls: [{ ...call, is_error: false }] }]);
    expect(unflagged.strict.solved).toBe(1);
    const raw = hermes("get_birth_year", { person: "Elena Vastrova" });
    expect(scoreStep(state, raw, [worded], { mode: "strict", errors: [true] }).solved).toBe(0);
  });
});

describe("weakness 2: an output that echoes the call's own arguments does not solve", () => {
  it("blocks a guessed number echoed back in a JSON object", () => {
    const echo = { name: "get_birth_year", arguments: { person: "Elena Vastrova", year: 1961 }, output: '{"person": "Elena Vastrova", "year": 1961, "status": "unknown"}' };
    const s = both([{ content: null, tool_calls: [echo] }]);
    expect([s.ftrl.solved, s.strict.solved]).toEqual([1, 0]);
    const raw = hermes(echo.name, echo.arguments);
    expect(scoreStep(state, raw, [echo.output]).rewards.f1).toBe(1);
    expect(scoreStep(state, raw, [echo.output], { mode: "strict" }).rewards.f1).toBe(0);
  });

  it("blocks an echo of a string argument the serialization escapes", () => {
    const quoted = { get_quote: ['say "hello"'] };
    const call = { name: "get_quote", arguments: { text: 'say "hello"' }, output: 'You asked: say "hello"' };
    expect(scoreEpisode(quoted, [{ content: null, tool_calls: [call] }]).solved).toBe(1);
    expect(scoreEpisode(quoted, [{ content: null, tool_calls: [call] }], { mode: "strict" }).solved).toBe(0);
  });

  it("still credits an output that adds what the arguments did not hold", () => {
    const pair = { get_person: ["Elena Vastrova, 1961"] };
    const call = { name: "get_person", arguments: { name: "Elena Vastrova" }, output: "Elena Vastrova, born 1961" };
    expect(scoreEpisode(pair, [{ content: null, tool_calls: [call] }], { mode: "strict" }).solved).toBe(1);
  });

  it("moves on to the next pending sub-answer the output really solves", () => {
    const two = { get_year: ["1958", "1961"] };
    const call = { name: "get_year", arguments: { after: 1958 }, output: "1958 -> 1961" };
    expect(scoreEpisode(two, [{ content: null, tool_calls: [call] }]).solved_by).toEqual([["1958"]]);
    expect(scoreEpisode(two, [{ content: null, tool_calls: [call] }], { mode: "strict" }).solved_by).toEqual([["1961"]]);
  });
});

describe("weakness 3: the final answer is looked for outside <think> reasoning", () => {
  const musing = "<think>Maybe 1961? Or 1958. I cannot tell.</think>I could not find the year.";

  it("does not credit an answer that only appears in reasoning", () => {
    expect(scoreStep(state, musing, []).rewards.f1).toBe(1 / 2);
    const strict = scoreStep(state, musing, [], { mode: "strict" });
    expect(strict.rewards.f1).toBe(0);
    expect(strict.rule).toBe("none");
    const s = both([{ content: musing, tool_calls: [] }], "1961");
    expect([s.ftrl.answer_correct, s.strict.answer_correct]).toEqual([true, false]);
  });

  it("still credits the answer after the reasoning", () => {
    expect(scoreStep(state, "<think>1958?</think>Born in 1961.", [], { mode: "strict" }).rule).toBe("final_answer");
  });

  it("treats an unclosed <think> as reasoning to the end, and a lone </think> as the end of prompt-opened reasoning", () => {
    expect(outsideThink("Answer: 7 <think>or 8")).toBe("Answer: 7 ");
    expect(outsideThink("maybe 8</think>It is 7<think>x</think>.")).toBe("It is 7.");
    expect(finalAnswerFound("<think>1961", "1961", "strict")).toBe(false);
    expect(finalAnswerFound("1961 could be it</think>No idea.", "1961", "strict")).toBe(false);
    expect(finalAnswerFound("1961 could be it</think>No idea.", "1961", "ftrl")).toBe(true);
  });
});

describe("strict mode leaves clean trajectories alone", () => {
  it("scores a plain solving call and a plain answer as ftrl does", () => {
    const raw = hermes("get_birth_year", { person: "Elena Vastrova" });
    expect(scoreStep(state, raw, ["Born 1961."], { mode: "strict" })).toEqual({ ...scoreStep(state, raw, ["Born 1961."]), mode: "strict" });
    expect(scoreStep(state, "It is 1961.", [], { mode: "strict" }).rewards.f1).toBe(1 / 2);
  });
});
