// The seam between the recorder and a database: writes as data, committed in one transaction, and the few reads the serving path needs.
import type { EpisodeKind, TransportKind } from "../schema/index.ts";
import type { Direction, MessageType } from "./recorder.ts";

/**
 * One write, as data, so that any database can apply it. Texts are JavaScript strings exactly as
 * recorded (they may hold lone surrogates or NUL: each backend keeps them exactly); JSON columns are
 * JSON text or null; times are milliseconds since the Unix epoch.
 */
export type WriteOp =
  | {
      op: "begin";
      id: string;
      kind: EpisodeKind;
      envId: string | null;
      envSha256: string | null;
      taskId: string | null;
      transport: TransportKind;
      sessionId: string | null;
      needed: number | null;
      startedAt: number;
      owner: string;
      meta: string | null;
      /** With it, the new episode's lease is the owner's until then, at epoch 1 (it can be taken over); without, it has none (it is bound to its connection). */
      leaseUntil?: number;
    }
  /** Client name, version and protocol: each null leaves the stored value as it is. */
  | { op: "client"; id: string; name: string | null; version: string | null; protocol: string | null }
  | {
      op: "message";
      episodeId: string | null;
      ts: number;
      direction: Direction;
      type: MessageType;
      method: string | null;
      requestId: string | null;
      latencyMs: number | null;
      body: string;
    }
  /**
   * A tool call and the bump of its episode's counters (call_count, and solved_* by one each when
   * set). With `epoch`, the op applies only while the episode's lease epoch is that number (fencing:
   * a process that lost the lease cannot record a call).
   */
  | {
      op: "call";
      episodeId: string;
      seq: number;
      requestId: string | null;
      tool: string;
      arguments: string;
      output: string;
      isError: boolean;
      errorKind: string | null;
      solvedFtrl: string | null;
      solvedStrict: string | null;
      startedAt: number;
      latencyMs: number;
      assistantMeta: string | null;
      epoch?: number;
    }
  /** Ends the episode only while it is running; `changed` says whether it was. */
  | {
      op: "end";
      id: string;
      status: string;
      endedAt: number;
      finalAnswer: string | null;
      finalMeta: string | null;
      score: string | null;
    };

/** What became of one op of a commit: applied (`changed`: a row changed), or refused alone, the others kept. */
export type OpResult = { changed: boolean } | { error: Error };

/** A call that took effect, as a process that does not hold the episode's sandbox replays it. */
export interface RecordedCall {
  seq: number;
  tool: string;
  arguments: Record<string, unknown>;
  output: string;
  isError: boolean;
  /** Why it failed; an `invalid_arguments` call never reached the tool's code, so it is not replayed. */
  errorKind: string | null;
}

/** What a process needs to take over a running episode it does not hold. */
export interface StoredEpisode {
  id: string;
  kind: EpisodeKind;
  envId: string | null;
  envSha256: string | null;
  taskId: string | null;
  transport: TransportKind;
  sessionId: string | null;
  status: string;
  needed: number | null;
  callCount: number;
  /** The parsed `meta` column (seed, face, limits), or null. */
  meta: Record<string, unknown> | null;
  /** The parsed `score` column (set when the episode ended), or null. */
  score: unknown;
  lease: Lease | null;
}

/** An episode's lease: who may run it, until when, and the fencing epoch its writes carry. */
export interface Lease {
  owner: string;
  until: number;
  epoch: number;
}

/**
 * A database the recorder writes through. SQLite (the embedded default) and PostgreSQL implement
 * it; the recorder above it does the group commit, failure tracking and probing, identically for both.
 */
export interface StoreBackend {
  /** The file, or the connection URL without its password: what errors name. */
  readonly location: string;
  /**
   * Applies the ops in order in one transaction. An op that fails on its own (a duplicate key, a
   * lost lease) is rolled back alone and reported in its result; the transaction failing as a whole
   * (connection lost, disk full, locked) rejects, and then nothing was applied.
   */
  commit(ops: readonly WriteOp[]): Promise<OpResult[]>;
  /** Whether an episode (of any kind or status) with this id is recorded. */
  episodeExists(id: string): Promise<boolean>;
  /** The distinct owners of running episodes (null for rows written before owners were kept). */
  runningOwners(): Promise<(string | null)[]>;
  /**
   * Marks interrupted, at `endedAt`, the running episodes of `owner` that were never leased (bound
   * to a connection that is gone); leased ones stay running, for another process to take over.
   * Returns how many were marked.
   */
  interrupt(owner: string | null, endedAt: number): Promise<number>;
  /** An episode's row as a takeover needs it, or null when there is none. */
  loadEpisode(id: string): Promise<StoredEpisode | null>;
  /** The calls of an episode that took effect, in seq order. */
  recordedCalls(episodeId: string): Promise<RecordedCall[]>;
  /**
   * Takes or renews the lease of a running episode for `owner` until `until`: granted when it is
   * free, expired (`lease_until < now`) or already this owner's; the epoch grows by one each time
   * the owner changes. Null when the episode is not running or another owner holds a live lease.
   * With `idleBefore`, granted only while the episode's last activity (see `staleEpisodes`) is
   * older than that: taken and checked at once, so no call can slip in between.
   */
  lease(episodeId: string, owner: string, now: number, until: number, idleBefore?: number): Promise<Lease | null>;
  /**
   * The ids of at most `limit` running leased episodes (lease_epoch > 0: any process may take them
   * over) whose lease nobody holds at `now` and whose last activity is older than `before`, in id
   * order (by UTF-8 bytes: the same on both stores) and, with `after`, past that id, so that a
   * sweeper pages on from where it stopped. An episode's last activity is the latest of its start,
   * the end of its last recorded call, and its last recorded message.
   */
  staleEpisodes(before: number, now: number, limit: number, after?: string): Promise<string[]>;
  /**
   * Lets a lease go between calls: it expires now but stays `owner`'s, so the owner takes it back
   * at the same epoch (its sandbox still current) while any other process may take it over.
   */
  release(episodeId: string, owner: string): Promise<void>;
  /** Proves the store writable now, without waiting on another writer's lock; throws otherwise. */
  probe(): Promise<void>;
  close(): Promise<void>;
}
