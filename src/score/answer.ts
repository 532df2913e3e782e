// The final-answer check of the per-step reward and of episode scores.
import type { RewardMode } from "../schema/index.ts";
import { outsideThink } from "./strict.ts";
import { normalize } from "./text.ts";

/**
 * Whether the normalized answer is a substring of the normalized text. In strict mode
 * reasoning inside `<think>` does not count, so a model cannot pass by musing over candidates.
 */
export function finalAnswerFound(text: string, answer: string, mode: RewardMode = "ftrl"): boolean {
  return normalize(mode === "strict" ? outsideThink(text) : text).includes(normalize(answer));
}
