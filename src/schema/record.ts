// Episode records: the statuses, transports and score pairs that serving, recording, export and viewing share.
import { z } from "zod";
import { EpisodeScore } from "./reward.ts";

/**
 * Where an episode stands. `running` until it ends; then why it ended: the answer was
 * handed in, the client closed (DELETE, stdin EOF, shutdown), it sat idle too long, the
 * server died under it, it went past its call limit, or (`error`) its evicted sandbox could
 * not be rebuilt: replaying its recorded calls did not give the recorded outputs.
 */
export const EpisodeStatus = z.enum(["running", "submitted", "closed", "idle_timeout", "interrupted", "limit_exceeded", "error"]);
export type EpisodeStatus = z.infer<typeof EpisodeStatus>;

/** `episode`: a task of an environment; `catalog`: the environment listing; `proxy`: traffic to a third-party server; `imported`: a trajectory from a file, re-scored. */
export const EpisodeKind = z.enum(["episode", "catalog", "proxy", "imported"]);
export type EpisodeKind = z.infer<typeof EpisodeKind>;

/** How the client reached the server; `memory` is an in-process pair of transports; `file` an imported trajectory. */
export const TransportKind = z.enum(["stdio", "http", "memory", "file"]);
export type TransportKind = z.infer<typeof TransportKind>;

/** A finished episode scored in both reward modes. */
export const EpisodeScores = z.strictObject({
  ftrl: EpisodeScore,
  strict: EpisodeScore,
});
export type EpisodeScores = z.infer<typeof EpisodeScores>;
