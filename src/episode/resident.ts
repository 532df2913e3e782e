// A memory budget for open episodes: at most N sandboxes resident, the least recently used idle ones evicted and rebuilt from the store's record.
import { callText, type Episode as SandboxEpisode } from "../runtime/index.ts";
import type { RecordedCall } from "../store/index.ts";
import type { EpisodeSession } from "./live.ts";

/** A recorded call, as the store gives it back for a rebuild. */
export type StoredCall = RecordedCall;

/**
 * Whether a recorded call changed the sandbox's state, and so is replayed in a rebuild: one that
 * ran (ok, or failed in the tool's own code or output), not one refused before the tool ran
 * (arguments, unknown tool) or stopped by a limit (rolled back).
 */
export const tookEffect = (call: StoredCall): boolean =>
  call.errorKind === null || call.errorKind === "tool_error" || call.errorKind === "invalid_output" || call.errorKind === "output_too_large";

/**
 * Sandboxes kept resident by default. Measured by bench/evict.ts: an open sandbox costs what its tool
 * code touches, 0.23-0.28 MiB for a lookup environment (the films example) and 8.1 MiB for one whose
 * prelude fills 8 MiB, while an evicted episode costs tens of KiB. 256 keeps a lookup environment's
 * resident sandboxes near 70 MiB and holds the 48 MiB prelude to 12 GiB rather than 47 GiB
 * at 1,000 sessions; an eviction is cheap to undo: a rebuild is an open plus about 60 µs per replayed
 * call (a plain call through the service is about 210 µs).
 */
export const DEFAULT_RESIDENT = 256;
/** Memory of one resident sandbox of a lookup environment, with room for the idle instances: what `--memory-budget` divides by. */
export const MIB_PER_RESIDENT = 0.5;

/** The sandboxes a memory budget of `mib` MiB holds (at least one). */
export const residentForMiB = (mib: number): number => Math.max(1, Math.floor(mib / MIB_PER_RESIDENT));

/** A rebuilt sandbox did not come back to where the record says the episode was: it cannot continue. */
export class ReplayError extends Error {
  constructor(
    readonly episodeId: string,
    /** The first recorded call that the replay answered differently, or null when the counts differ. */
    readonly seq: number | null,
    detail: string,
  ) {
    super(`episode "${episodeId}" cannot be rebuilt from its record: ${detail}`);
    this.name = "ReplayError";
  }
}

/**
 * Replays the recorded calls on a fresh sandbox and checks every output against the record. The
 * calls are sent at once: a sandbox runs its calls in arrival order, so a pooled one needs no round
 * trip per call. `applied` is how many calls had taken effect before the eviction, so rows missing
 * from the store are caught too. Throws ReplayError naming the first differing seq.
 */
export async function replayRecorded(episodeId: string, sandbox: SandboxEpisode, calls: readonly StoredCall[], applied: number): Promise<void> {
  const results = await Promise.all(calls.map((c) => sandbox.call(c.tool, c.arguments)));
  for (const [i, call] of calls.entries()) {
    const result = results[i]!;
    if (callText(call.tool, result) !== call.output || result.ok === call.isError) {
      throw new ReplayError(episodeId, call.seq, `replaying call seq ${call.seq} (${call.tool}) gave a different output than the recorded one`);
    }
  }
  if (sandbox.applied !== calls.length || calls.length !== applied) {
    throw new ReplayError(episodeId, null, `the store holds ${calls.length} calls that took effect, the replay kept ${sandbox.applied}, and the episode had ${applied}`);
  }
}

/** What eviction has done, for metrics. */
export interface ResidencyStats {
  /** Sandboxes open now, or being opened for a call that was let in. */
  resident: number;
  /** Calls waiting for a sandbox slot: their episodes have none, and every slot holds a call in flight. */
  waiting: number;
  evictions: number;
  /** Evicted episodes whose sandbox was rebuilt, and the calls replayed to do it. */
  rebuilds: number;
  replayedCalls: number;
  /** Rebuilds whose replay did not match the record (each such episode ended as `error`). */
  replayFailures: number;
}

/** How an episode tells its service about its sandbox; every method but `admit` is cheap and synchronous. */
export interface Residency {
  /**
   * Takes a slot for the episode before its sandbox opens (first opened, or rebuilt after an
   * eviction); resolves once it has one. The slot is the episode's until `forget`, or until it is
   * evicted while idle.
   */
  admit(episode: EpisodeSession): Promise<void>;
  /** The episode's sandbox is open (first opened, or rebuilt after an eviction). */
  opened(episode: EpisodeSession): void;
  /** A call of the episode arrived. */
  used(episode: EpisodeSession): void;
  /** The episode has no call in flight any more. */
  idle(episode: EpisodeSession): void;
  /** A rebuild replayed `calls` calls, successfully or not. */
  rebuilt(calls: number, ok: boolean): void;
  /** The episode's sandbox is gone (it ended, or another process took the episode over): it no longer counts. */
  forget(id: string): void;
}

/**
 * The resident sandboxes of one service in least-recently-used order (a Map keeps insertion order:
 * a use moves an episode to the end), never more than the budget. An episode takes a slot before it
 * opens a sandbox; with none free, the oldest idle episode is evicted, and when every slot holds a
 * call in flight the episode waits, first come first served, until one goes idle or ends. So the
 * sandboxes alive (each a WebAssembly memory, of which a process can reserve about 13,000) stay
 * bounded however many episodes have calls queued: 16,384 clients with a call each once made one
 * process reserve 11,000 before anything could be evicted.
 */
export class ResidentSet implements Residency {
  private readonly lru = new Map<string, EpisodeSession>();
  /** Episodes waiting for a slot, in arrival order; `head` is the first one still waiting (shifting 16,384 entries one by one is quadratic). */
  private waiters: { episode: EpisodeSession; admitted: () => void }[] = [];
  private head = 0;
  private readonly counters = { evictions: 0, rebuilds: 0, replayedCalls: 0, replayFailures: 0 };
  /** Runs after each eviction (metrics). */
  onEvict: (episodeId: string) => void = () => undefined;

  constructor(
    readonly budget: number,
    /** Told of each eviction and rebuild (the service's events, for /metrics). */
    private readonly observer: { evicted(episodes: number): void; replayed(calls: number): void } | null = null,
  ) {
    if (!(budget >= 1)) throw new RangeError(`the resident budget must be at least 1, got ${budget}`);
  }

  get stats(): ResidencyStats {
    return { resident: this.lru.size, waiting: this.waiters.length - this.head, ...this.counters };
  }

  admit(episode: EpisodeSession): Promise<void> {
    if (this.lru.has(episode.id)) {
      this.used(episode);
      return Promise.resolve();
    }
    // Behind those already waiting, even when a slot could be made now: first come, first served.
    if (this.head === this.waiters.length && this.room()) {
      this.lru.set(episode.id, episode);
      return Promise.resolve();
    }
    return new Promise((admitted) => this.waiters.push({ episode, admitted }));
  }

  opened(episode: EpisodeSession): void {
    this.lru.delete(episode.id);
    this.lru.set(episode.id, episode);
  }

  used(episode: EpisodeSession): void {
    if (this.lru.delete(episode.id)) this.lru.set(episode.id, episode);
  }

  /** An episode went idle: its slot can go to a waiting one. Nothing is evicted while nobody waits. */
  idle(): void {
    this.letIn();
  }

  rebuilt(calls: number, ok: boolean): void {
    this.counters.rebuilds++;
    this.counters.replayedCalls += calls;
    if (!ok) this.counters.replayFailures++;
    this.observer?.replayed(calls);
  }

  /** The episode ended, or its sandbox is gone: its slot is free. */
  forget(id: string): void {
    if (this.lru.delete(id)) this.letIn();
  }

  /** Gives slots to waiting episodes, in order, while there are slots to give. */
  private letIn(): void {
    while (this.head < this.waiters.length && this.room()) {
      const next = this.waiters[this.head]!;
      this.waiters[this.head++] = undefined as never;
      this.lru.set(next.episode.id, next.episode);
      next.admitted();
    }
    if (this.head === this.waiters.length) {
      this.waiters = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.head);
      this.head = 0;
    }
  }

  /** Whether a slot is free, evicting the least recently used idle episode to free one if need be. */
  private room(): boolean {
    if (this.lru.size < this.budget) return true;
    for (const episode of this.lru.values()) {
      if (!episode.evict()) continue;
      this.lru.delete(episode.id);
      this.counters.evictions++;
      this.observer?.evicted(1);
      this.onEvict(episode.id);
      return true;
    }
    return false;
  }
}
