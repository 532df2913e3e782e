// Rebuilds an episode from its environment, seed and recorded calls, checking every replayed output against the record.
import { createHash } from "node:crypto";
import type { CallResult } from "../schema/index.ts";
import type { CompiledEnvironment } from "./index.ts";
import type { Episode } from "./episode.ts";
import { formatCallError } from "./text.ts";

/** One call that took effect on an episode (see `Episode.applied`), and what the agent saw from it. */
export interface RecordedCall {
  tool: string;
  arguments: unknown;
  /** sha256 (hex) of the text the agent saw: the output, or the error as `formatCallError` words it. */
  digest: string;
}

/** A replayed call answered differently than the record: the episode cannot be rebuilt from it. */
export class ReplayMismatchError extends Error {
  constructor(
    /** Index of the call in the replayed list. */
    readonly index: number,
    readonly tool: string,
    readonly detail: string,
  ) {
    super(`replaying call ${index + 1} (${tool}) ${detail}; the environment or the runtime no longer behaves as when it was recorded`);
    this.name = "ReplayMismatchError";
  }
}

/** The text the agent sees for a call's result; the store records exactly this. */
export function callText(tool: string, result: CallResult): string {
  return result.ok ? result.text : formatCallError(tool, result.error);
}

export function outputDigest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The record of a call that took effect, for a later replay. */
export function recordCall(tool: string, args: unknown, result: CallResult): RecordedCall {
  return { tool, arguments: args, digest: outputDigest(callText(tool, result)) };
}

/**
 * Runs `calls` in order on `episode` and checks each: it must take effect again (not be refused or
 * rolled back) and give the same text. Throws ReplayMismatchError at the first difference; the
 * episode is then left as far as it got, and the caller should close it.
 */
export async function replayCalls(episode: Episode, calls: readonly RecordedCall[]): Promise<void> {
  for (const [i, call] of calls.entries()) {
    const before = episode.applied;
    const result = await episode.call(call.tool, call.arguments);
    if (episode.applied !== before + 1) throw new ReplayMismatchError(i, call.tool, `did not take effect (${result.ok ? "ok" : `${result.kind}: ${result.error}`})`);
    if (outputDigest(callText(call.tool, result)) !== call.digest) throw new ReplayMismatchError(i, call.tool, "gave a different output");
  }
}

/** A new episode of `compiled` with `seed`, brought to where the recorded calls left the original. */
export async function rebuildEpisode<E extends Episode>(compiled: CompiledEnvironment<E>, seed: number, calls: readonly RecordedCall[]): Promise<E> {
  const episode = compiled.openEpisode({ seed });
  try {
    await replayCalls(episode, calls);
    return episode;
  } catch (err) {
    episode.close();
    throw err;
  }
}
