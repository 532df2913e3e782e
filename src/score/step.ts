// The per-step training reward of one response (method.md §3), with its four variants and no-call rules.
import type { ParsedResponse, RewardMode, StepRewards, StepRule, StepScore, StepState } from "../schema/index.ts";
import { finalAnswerFound } from "./answer.ts";
import { EpisodeTracker } from "./episode.ts";
import { parseResponse } from "./parse.ts";

export interface StepOptions {
  mode?: RewardMode;
  /** `errors[i]`: output i is an error message. Without it strict mode goes by the reference's wording. */
  errors?: readonly (boolean | undefined)[];
}

/** The reward of each no-call rule; every variant gets the same value. */
const NO_CALL_REWARD = { empty: -0.5, malformed_call: -0.3, all_solved: 0.5, none: 0 } as const;

const same = (r: number): StepRewards => ({ f1: r, precision: r, rate: r, pr: r });

/** Leftovers of a call that did not parse: the reference punishes them rather than reading an answer. */
const MALFORMED_MARKERS = ["<tool_call>", "</tool_call>", "<tool_parsed_response>"];

/**
 * Scores one response in a training state. `outputs[i]` is what the environment returned
 * for parsed call i. The state's unsolved set is not mutated.
 */
export function scoreStep(state: StepState, response: string | ParsedResponse, outputs: readonly string[], options: StepOptions = {}): StepScore {
  const mode = options.mode ?? "ftrl";
  const parsed = typeof response === "string" ? parseResponse(response) : response;
  const calls = parsed.tool_calls;
  const tracker = new EpisodeTracker(state.unsolved_set, mode);
  const pendingBefore = tracker.pendingCount;

  if (calls.length > 0) {
    if (outputs.length !== calls.length) throw new Error(`the response makes ${calls.length} tool calls but ${outputs.length} outputs were given`);
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      tracker.record({ name: call.name, arguments: call.arguments, output: outputs[i]!, is_error: options.errors?.[i] });
    }
    const q = tracker.solved;
    const p = calls.length;
    return {
      mode,
      rule: "tool_calls",
      calls: p,
      solved: q,
      unsolved_after: tracker.pendingCount,
      final_answer_valid: false,
      // Same operation order as the reference, so the floats are bit-identical.
      rewards: { f1: (2 * q) / (p + 1), precision: q / p, rate: q, pr: (q * q) / p },
    };
  }

  const content = parsed.content;
  const answer = state.answer;
  const answerFound = answer !== null && content !== "" && finalAnswerFound(content, answer, mode);
  let rule: StepRule;
  let reward: number;
  if (content === "") [rule, reward] = ["empty", NO_CALL_REWARD.empty];
  else if (MALFORMED_MARKERS.some((m) => content.includes(m))) [rule, reward] = ["malformed_call", NO_CALL_REWARD.malformed_call];
  else if (answerFound) [rule, reward] = ["final_answer", 1 / (1 + pendingBefore)];
  else if (state.solve_rate === 1) [rule, reward] = ["all_solved", NO_CALL_REWARD.all_solved];
  else [rule, reward] = ["none", NO_CALL_REWARD.none];
  return { mode, rule, calls: 0, solved: 0, unsolved_after: pendingBefore, final_answer_valid: answerFound, rewards: same(reward) };
}
