// Writes episodes, JSON-RPC messages and tool calls through a store backend with group commit, committing before anything is sent.
import { hostname } from "node:os";
import type { EpisodeKind, EpisodeScores, EpisodeStatus, TransportKind } from "../schema/index.ts";
import type { Lease, OpResult, RecordedCall, StoreBackend, StoredEpisode, WriteOp } from "./backend.ts";
import { DatabaseOpenError, openDb, type Db, type OpenOptions } from "./db.ts";
import { reasonOf, StoreError } from "./failure.ts";
import { SqliteBackend } from "./sqlite.ts";

export type Direction = "in" | "out";
export type MessageType = "request" | "notification" | "response" | "error" | "invalid";

/** What is known about an episode when its first message arrives. */
export interface EpisodeStart {
  id: string;
  kind?: EpisodeKind;
  envId?: string | null;
  /** Hash of the environment file's canonical JSON, so exports can tell which version ran. */
  envSha256?: string | null;
  taskId?: string | null;
  transport: TransportKind;
  sessionId?: string | null;
  /** n: sub-answers the task needs (method.md §3). */
  needed?: number | null;
  /** Anything else worth keeping (seed, limits, server version); stored as JSON. */
  meta?: Record<string, unknown>;
  /** Lease the episode to this process until then, so another can take it over later; without, it is bound to its connection. */
  leaseUntil?: number;
}

export interface MessageRecord {
  episodeId: string | null;
  direction: Direction;
  type: MessageType;
  method?: string | null;
  requestId?: string | null;
  latencyMs?: number | null;
  /** The message as JSON text, or the raw text of something that was not valid JSON-RPC. */
  body: string;
  ts?: number;
}

/** One environment tool call and what it returned; submit_answer is not one. */
export interface CallRecord {
  episodeId: string;
  seq: number;
  requestId: string | null;
  tool: string;
  arguments: Record<string, unknown>;
  output: string;
  isError: boolean;
  errorKind: string | null;
  /** The sub-answer this call solved in each reward mode, or null. */
  solvedFtrl: string | null;
  solvedStrict: string | null;
  startedAt: number;
  latencyMs: number;
  /** The request's `_meta` (the runner puts the assistant turn there), stored verbatim. */
  assistantMeta: unknown;
  /** The lease epoch this process holds on the episode: the call is recorded only while it still does. */
  epoch?: number;
}

export interface EpisodeEnd {
  status: Exclude<EpisodeStatus, "running">;
  finalAnswer?: string | null;
  finalMeta?: unknown;
  score?: EpisodeScores | null;
}

/** Wall-clock milliseconds with sub-millisecond resolution, for records (never for generated artifacts). */
export const now = (): number => performance.timeOrigin + performance.now();

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));

/** This process, as written in `episodes.owner` and in leases: host, pid, and when it started (pids get reused). */
const OWNER = `${hostname()}:${process.pid}:${Math.round(performance.timeOrigin)}`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A queued write and the waiter its result settles. */
interface Pending {
  op: WriteOp;
  resolve: (changed: boolean) => void;
  reject: (err: Error) => void;
}

/** A group of queued writes that commit together, and the promise their waiters share. */
interface Batch {
  writes: Pending[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** How often a failed store is tried again. */
const PROBE_EVERY_MS = 500;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Writes records with group commit. Every write is queued, and the queue is committed in one
 * transaction at the end of the current event-loop turn, or as soon as the commit before it is
 * done: one commit is in flight at a time, so records land in the order they were made, and the
 * writes that arrive during a slow commit share the next one. A caller about to send a response
 * waits for `committed()` (or for the write's own promise): a response is in the database, with
 * the request and call behind it, before it is sent.
 *
 * When a commit fails (a lock held too long by another process, a read-only or full disk, the
 * file deleted, the database server gone), every write fails fast with the same `StoreError`
 * until a probe every half second finds the store writable again; `failure` says which state it
 * is in and `onStatus` reports each change. The database itself sits behind a `StoreBackend`:
 * SQLite (the default) or PostgreSQL.
 */
export class Recorder {
  readonly owner = OWNER;
  /** The database file, "" for an in-memory one, or a PostgreSQL URL without its password. */
  readonly location: string;
  /** Reports a failed commit of queued records that no caller was waiting for. */
  onError: (error: Error) => void = () => undefined;
  /** Reports the store becoming unwritable (with the error) and writable again (null). */
  onStatus: (failure: StoreError | null) => void = () => undefined;
  /** Times each group commit (seconds), and says whether it failed, for the server's metrics. */
  onCommit: (seconds: number, failed: boolean) => void = () => undefined;
  private batch: Batch | null = null;
  /** The commit in flight, if any; the next batch starts when it settles. */
  private inFlight: Promise<void> | null = null;
  private failed: StoreError | null = null;
  private probe: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(readonly backend: StoreBackend) {
    this.location = backend.location === ":memory:" ? "" : backend.location;
  }

  /** The SQLite database under this recorder, for the readers that query it directly (they read PostgreSQL through a snapshot). */
  get db(): Db {
    if (this.backend instanceof SqliteBackend) return this.backend.db;
    throw new Error(`${this.location}: this reads the SQLite store directly; on PostgreSQL read through a snapshot (envforge view/score/export --db URL)`);
  }

  /**
   * Opens a database file for recording and proves it writable, or throws a DatabaseOpenError (a
   * folder that cannot be made, a file that is not a database) or a StoreError (a read-only
   * file, a lock that is never released), each naming the file and the reason.
   */
  static open(file: string, options: Omit<OpenOptions, "readonly"> = {}): Recorder {
    let db: Db | undefined;
    try {
      db = openDb(file, options);
      const backend = new SqliteBackend(db, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
      backend.probeNow();
      return new Recorder(backend);
    } catch (err) {
      db?.close();
      // A file that cannot be opened at all already says which and why (DatabaseOpenError).
      throw err instanceof StoreError || err instanceof DatabaseOpenError ? err : new StoreError(file, reasonOf(err));
    }
  }

  /** Null while records can be written; the error that stopped them otherwise. */
  get failure(): StoreError | null {
    return this.failed;
  }

  /** Commits every queued record now (after the commit in flight); rejects with a StoreError (dropping them) if that fails. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    const commit = this.commitBatch(batch);
    this.inFlight = commit;
    try {
      await commit;
    } finally {
      if (this.inFlight === commit) this.inFlight = null;
    }
  }

  private async commitBatch(batch: Batch): Promise<void> {
    let results: OpResult[];
    const started = performance.now();
    try {
      results = await this.write(() => this.backend.commit(batch.writes.map((w) => w.op)));
      this.onCommit((performance.now() - started) / 1000, false);
    } catch (err) {
      this.onCommit((performance.now() - started) / 1000, true);
      for (const w of batch.writes) w.reject(err as Error);
      batch.reject(err as Error);
      throw err;
    }
    batch.writes.forEach((w, i) => {
      const result = results[i]!;
      if ("error" in result) w.reject(new StoreError(this.location || ":memory:", result.error.message));
      else w.resolve(result.changed);
    });
    batch.resolve();
  }

  /** Resolves once everything queued so far is committed; rejects if that commit failed. */
  committed(): Promise<void> {
    return this.batch?.done ?? this.inFlight ?? Promise.resolve();
  }

  /** Runs one database operation against a store known to be writable, turning any failure into a StoreError and the failed state. */
  private async write<T>(run: () => Promise<T>): Promise<T> {
    if (this.failed) throw this.failed;
    if (this.closed) throw new StoreError(this.location || ":memory:", "the database is closed");
    try {
      return await run();
    } catch (err) {
      throw this.fail(err);
    }
  }

  private fail(err: unknown): StoreError {
    const error = err instanceof StoreError ? err : new StoreError(this.location || ":memory:", reasonOf(err));
    if (this.failed) return this.failed;
    this.failed = error;
    this.onStatus(error);
    this.probe = setInterval(() => void this.tryAgain(), PROBE_EVERY_MS);
    this.probe.unref();
    return error;
  }

  private async tryAgain(): Promise<void> {
    if (this.closed) return this.stopProbe();
    try {
      await this.backend.probe();
    } catch {
      return;
    }
    if (!this.failed) return;
    this.stopProbe();
    this.failed = null;
    this.onStatus(null);
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
  }

  /** Queues a write for the group commit; the promise settles with the commit that carries it (true when it changed a row). */
  private enqueue(op: WriteOp): Promise<boolean> {
    if (this.failed) {
      const refused = Promise.reject(this.failed);
      refused.catch(() => undefined);
      return refused;
    }
    let pending!: Pending;
    const result = new Promise<boolean>((resolve, reject) => (pending = { op, resolve, reject }));
    // Failures reach waiting callers through the promise or committed(); this keeps an unawaited one quiet.
    result.catch(() => undefined);
    if (this.batch) {
      this.batch.writes.push(pending);
      return result;
    }
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    done.catch(() => undefined);
    const batch: Batch = { writes: [pending], done, resolve, reject };
    this.batch = batch;
    setImmediate(() => {
      if (this.batch !== batch) return;
      this.flush().catch((err: Error) => this.onError(err));
    });
    return result;
  }

  /** Inserts an episode's row (with the next commit); rejects when it cannot be written (a taken id, a failed store). */
  beginEpisode(start: EpisodeStart): Promise<boolean> {
    return this.enqueue({
      op: "begin",
      id: start.id,
      kind: start.kind ?? "episode",
      envId: start.envId ?? null,
      envSha256: start.envSha256 ?? null,
      taskId: start.taskId ?? null,
      transport: start.transport,
      sessionId: start.sessionId ?? null,
      needed: start.needed ?? null,
      startedAt: now(),
      owner: this.owner,
      meta: json(start.meta),
      ...(start.leaseUntil !== undefined ? { leaseUntil: start.leaseUntil } : {}),
    });
  }

  async episodeExists(id: string): Promise<boolean> {
    await this.flush();
    return this.write(() => this.backend.episodeExists(id));
  }

  setClient(id: string, client: { name?: string | null; version?: string | null; protocolVersion?: string | null }): Promise<boolean> {
    return this.enqueue({ op: "client", id, name: client.name ?? null, version: client.version ?? null, protocol: client.protocolVersion ?? null });
  }

  /**
   * Queues a message of either direction for the group commit; a caller about to send an
   * outgoing one must wait for it (or for `committed()`) first. Responses produced in the same
   * event-loop turn then share one commit.
   */
  queueMessage(m: MessageRecord): Promise<boolean> {
    return this.enqueue({
      op: "message",
      episodeId: m.episodeId,
      ts: m.ts ?? now(),
      direction: m.direction,
      type: m.type,
      method: m.method ?? null,
      requestId: m.requestId ?? null,
      latencyMs: m.latencyMs ?? null,
      body: m.body,
    });
  }

  /**
   * Queues the call and the bump of its episode's counters; they commit with the call's
   * response. The promise rejects when that commit fails, or when the call alone was refused (its
   * seq taken, the lease lost): the call must then not take effect.
   */
  recordCall(c: CallRecord): Promise<boolean> {
    return this.enqueue({
      op: "call",
      episodeId: c.episodeId,
      seq: c.seq,
      requestId: c.requestId,
      tool: c.tool,
      arguments: JSON.stringify(c.arguments),
      output: c.output,
      isError: c.isError,
      errorKind: c.errorKind,
      solvedFtrl: c.solvedFtrl,
      solvedStrict: c.solvedStrict,
      startedAt: c.startedAt,
      latencyMs: c.latencyMs,
      assistantMeta: json(c.assistantMeta),
      ...(c.epoch !== undefined ? { epoch: c.epoch } : {}),
    });
  }

  /** Ends a running episode, committed when this resolves; false when it had already ended (the first ending wins). */
  async endEpisode(id: string, end: EpisodeEnd): Promise<boolean> {
    const changed = this.enqueue({
      op: "end",
      id,
      status: end.status,
      endedAt: now(),
      finalAnswer: end.finalAnswer ?? null,
      finalMeta: json(end.finalMeta),
      score: json(end.score),
    });
    await this.flush();
    return changed;
  }

  /** An episode's row as a takeover needs it. */
  async loadEpisode(id: string): Promise<StoredEpisode | null> {
    await this.flush();
    return this.write(() => this.backend.loadEpisode(id));
  }

  /** The calls of an episode that took effect, in order, read back from the store. */
  async recordedCalls(episodeId: string): Promise<RecordedCall[]> {
    await this.flush();
    return this.write(() => this.backend.recordedCalls(episodeId));
  }

  /**
   * Takes (or renews) an episode's lease for this process until `until`; null when another live
   * process holds it or it has ended, or, with `idleBefore`, when it was used since (see `StoreBackend.lease`).
   */
  async lease(episodeId: string, until: number, idleBefore?: number): Promise<Lease | null> {
    await this.flush();
    return this.write(() => this.backend.lease(episodeId, this.owner, now(), until, idleBefore));
  }

  /** At most `limit` running leased episodes that no process holds and nobody used since `before`, in id order past `after` (see `StoreBackend.staleEpisodes`). */
  async staleEpisodes(before: number, limit: number, after?: string): Promise<string[]> {
    await this.flush();
    return this.write(() => this.backend.staleEpisodes(before, now(), limit, after));
  }

  /** Lets this process's lease on an episode go between calls (after what is queued has committed); see `StoreBackend.release`. */
  async release(episodeId: string): Promise<void> {
    await this.flush();
    await this.write(() => this.backend.release(episodeId, this.owner));
  }

  /**
   * Marks as interrupted the running, connection-bound episodes of server processes on this host
   * that are gone (killed, crashed); episodes of live processes sharing the store, and leased
   * episodes (another process may take them over), are left alone. Returns how many were marked.
   */
  async recoverInterrupted(): Promise<number> {
    await this.flush();
    const host = hostname();
    let marked = 0;
    for (const owner of await this.write(() => this.backend.runningOwners())) {
      const [ownerHost, pid] = (owner ?? "").split(":");
      const gone =
        owner === null ||
        (ownerHost === host && (owner !== this.owner && (Number(pid) === process.pid || !processAlive(Number(pid)))));
      if (gone) marked += await this.write(() => this.backend.interrupt(owner, now()));
    }
    return marked;
  }

  /** Commits what is queued (a failure is reported through `onError`, not thrown) and closes the store. */
  async close(): Promise<void> {
    this.stopProbe();
    if (this.closed) return;
    try {
      await this.flush();
    } catch (err) {
      this.onError(err as Error);
    } finally {
      this.closed = true;
      await this.backend.close();
    }
  }
}
