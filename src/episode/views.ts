// What the agent plane shows of an episode, given the serving mode: the one place that decides which progress and score an agent sees.
//
// `eval` (the default) shows the agent everything: sub-answer counts while it runs, the score at the end.
// `train` shows no progress counts and no score on the agent plane, so a policy cannot learn from anything
// but the environment's own outputs (reward leaking into the episode, OpenEnv PR #428); the control plane
// (the store, the viewer, the reward API's stored scores) still holds everything.
import type { EpisodeScores } from "../schema/index.ts";
import type { EpisodeProgress, EpisodeSession } from "./live.ts";

export const SERVE_MODES = ["eval", "train"] as const;
export type ServeMode = (typeof SERVE_MODES)[number];

/**
 * The episode's progress as every agent-plane face shows it (MCP `envforge://episode`, REST
 * `GET /v1/episodes/{id}`): counts and limits, the score once it has ended; never a
 * sub-answer, the answer or the gold plan. In training mode without sub-answer counts and score.
 */
export function agentProgress(episode: EpisodeSession): EpisodeProgress | Omit<EpisodeProgress, "sub_answers" | "score"> {
  const full = episode.progress();
  if (episode.mode === "eval") return full;
  const { sub_answers: _counts, score: _score, ...rest } = full;
  return rest;
}

/** The text of submit_answer's result. */
export function agentSubmitResult(answer: string, score: EpisodeScores | null, mode: ServeMode): string {
  return mode === "eval" ? JSON.stringify({ status: "submitted", answer, score }) : JSON.stringify({ status: "received" });
}

/** How submit_answer and the episode resource describe themselves: never promising a score in training mode. */
export function agentDescriptions(mode: ServeMode): { submit: string; episode: string } {
  return mode === "eval"
    ? {
        submit: "Hand in your final answer to the task. This ends the episode: no tool works after it. Returns the episode's score.",
        episode: "Calls made, sub-answers solved and pending, limits; the score once it has ended",
      }
    : {
        submit: "Hand in your final answer to the task. This ends the episode: no tool works after it. Confirms that the answer was received.",
        episode: "The episode's status, and calls made and allowed",
      };
}
