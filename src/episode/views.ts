// What the agent plane may show of an episode: the one place that decides which progress an agent sees.
import type { EpisodeProgress, EpisodeSession } from "./live.ts";

/**
 * The episode's progress as every agent-plane face shows it (MCP `envforge://episode`, REST
 * `GET /v1/episodes/{id}`): counts and limits, the score once it has ended; never a
 * sub-answer, the answer or the gold plan. A mode that hides progress from the agent
 * (training) changes this function only.
 */
export function agentProgress(episode: EpisodeSession): EpisodeProgress {
  return episode.progress();
}
