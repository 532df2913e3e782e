// Writes episodes, JSON-RPC messages and tool calls to the database, synchronously, committing before anything is sent.
import { hostname } from "node:os";
import type { EpisodeKind, EpisodeScores, EpisodeStatus, TransportKind } from "../schema/index.ts";
import { DatabaseOpenError, openDb, type Db, type OpenOptions } from "./db.ts";
import { checkSameFile, fileIdentity, probeWrite, reasonOf, StoreError, type FileIdentity } from "./failure.ts";
import type { RecordedCall } from "./backend.ts";

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

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text as SQLite can keep it exactly. UTF-8 has no lone surrogates (a tool may return
 * U+D800, and the agent sees it, escaped, in JSON), so such text is stored as a UTF-16 blob
 * instead of being turned into U+FFFD; the reader decodes it back.
 */
export const exactText = (s: string): string | Buffer => (LONE_SURROGATE.test(s) ? Buffer.from(s, "utf16le") : s);

/** This process, as written in `episodes.owner`: host, pid, and when it started (pids get reused). */
const OWNER = `${hostname()}:${process.pid}:${Math.round(performance.timeOrigin)}`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A group of queued writes that commit together, and the promise their waiters share. */
interface Batch {
  writes: (() => void)[];
  done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** How often a failed store is tried again. */
const PROBE_EVERY_MS = 500;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Writes records with group commit. Incoming messages and tool calls are queued, and the
 * queue is committed in one transaction at the end of the current event-loop turn, or
 * earlier by an outgoing message: `recordMessage` commits it at once, while the recording
 * transport queues it with `queueMessage` and waits for `committed()`, so that the responses
 * produced in one turn share a commit (the commit, not the rows, is what recording costs).
 * Either way a response is in the database, with the request and call behind it, before it
 * is sent. Every other write commits at once, after the queue.
 *
 * When a write fails (a lock held too long by another process, a read-only or full disk,
 * the file deleted), every write fails fast with the same `StoreError` until a probe every
 * half second finds the file writable again; `failure` says which state it is in and
 * `onStatus` reports each change.
 */
export class Recorder {
  readonly db: Db;
  readonly owner = OWNER;
  /** The database file, or "" for an in-memory one. */
  readonly file: string;
  /** Reports a failed commit of queued records that no caller was waiting for. */
  onError: (error: Error) => void = () => undefined;
  /** Reports the store becoming unwritable (with the error) and writable again (null). */
  onStatus: (failure: StoreError | null) => void = () => undefined;
  private readonly stmt;
  private readonly commit: (writes: (() => void)[]) => void;
  private readonly identity: FileIdentity | null;
  private readonly busyTimeoutMs: number;
  private batch: Batch | null = null;
  private failed: StoreError | null = null;
  private probe: NodeJS.Timeout | null = null;

  constructor(db: Db, options: { busyTimeoutMs?: number } = {}) {
    this.db = db;
    this.file = db.memory ? "" : db.name;
    this.identity = this.file ? fileIdentity(this.file) : null;
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    this.stmt = {
      begin: db.prepare(
        `INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, session_id, needed, started_at, owner, meta)
         VALUES (@id, @kind, @env_id, @env_sha256, @task_id, @transport, @session_id, @needed, @started_at, @owner, @meta)`,
      ),
      client: db.prepare(
        `UPDATE episodes SET client_name = coalesce(@name, client_name), client_version = coalesce(@version, client_version),
         protocol_version = coalesce(@protocol, protocol_version) WHERE id = @id`,
      ),
      message: db.prepare(
        `INSERT INTO messages (episode_id, ts, direction, type, method, request_id, latency_ms, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      call: db.prepare(
        `INSERT INTO calls (episode_id, seq, request_id, tool, arguments, output, is_error, error_kind, solved_ftrl, solved_strict, started_at, latency_ms, assistant_meta)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      counters: db.prepare(
        `UPDATE episodes SET call_count = call_count + 1, solved_ftrl = solved_ftrl + ?, solved_strict = solved_strict + ? WHERE id = ?`,
      ),
      end: db.prepare(
        `UPDATE episodes SET status = @status, ended_at = @ended_at, final_answer = @final_answer, final_meta = @final_meta, score = @score
         WHERE id = @id AND status = 'running'`,
      ),
      exists: db.prepare(`SELECT 1 FROM episodes WHERE id = ?`).pluck(),
      // Calls that took effect: those that ran the tool code and were kept (a tool error did; a refused
      // argument, an unknown tool, or a call stopped by a limit and rolled back did not).
      recorded: db.prepare(
        `SELECT seq, tool, arguments, output, is_error FROM calls WHERE episode_id = ?
         AND (error_kind IS NULL OR error_kind IN ('tool_error', 'invalid_output', 'output_too_large')) ORDER BY seq`,
      ),
      runningOwners: db.prepare(`SELECT DISTINCT owner FROM episodes WHERE status = 'running'`).pluck(),
      interrupt: db.prepare(`UPDATE episodes SET status = 'interrupted', ended_at = ? WHERE status = 'running' AND owner IS ?`),
    };
    this.commit = db.transaction((writes: (() => void)[]) => {
      for (const write of writes) write();
    });
  }

  /**
   * Opens a database for recording and proves it writable, or throws a DatabaseOpenError (a
   * folder that cannot be made, a file that is not a database) or a StoreError (a read-only
   * file, a lock that is never released), each naming the file and the reason.
   */
  static open(file: string, options: Omit<OpenOptions, "readonly"> = {}): Recorder {
    let db: Db | undefined;
    try {
      db = openDb(file, options);
      const recorder = new Recorder(db, options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {});
      if (!db.memory) probeWrite(db, recorder.busyTimeoutMs);
      return recorder;
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

  /** Commits every queued record now, in one transaction; throws a StoreError (dropping them) if that fails. */
  flush(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    try {
      this.write(() => this.commit(batch.writes));
      batch.resolve();
    } catch (err) {
      batch.reject(err as Error);
      throw err;
    }
  }

  /** Resolves once everything queued so far is committed; rejects if that commit failed. */
  committed(): Promise<void> {
    return this.batch?.done ?? Promise.resolve();
  }

  /** Runs one write against a store known to be writable, turning any failure into a StoreError and the failed state. */
  private write<T>(run: () => T): T {
    if (this.failed) throw this.failed;
    try {
      if (this.identity) checkSameFile(this.file, this.identity);
      return run();
    } catch (err) {
      throw this.fail(err);
    }
  }

  private fail(err: unknown): StoreError {
    const error = err instanceof StoreError ? err : new StoreError(this.file || ":memory:", reasonOf(err));
    if (this.failed) return this.failed;
    this.failed = error;
    this.onStatus(error);
    this.probe = setInterval(() => this.tryAgain(), PROBE_EVERY_MS);
    this.probe.unref();
    return error;
  }

  private tryAgain(): void {
    if (!this.db.open) return this.stopProbe();
    try {
      if (this.identity) checkSameFile(this.file, this.identity);
      probeWrite(this.db, this.busyTimeoutMs);
    } catch {
      return;
    }
    this.stopProbe();
    this.failed = null;
    this.onStatus(null);
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
  }

  /** Queues a write for the group commit; the promise settles with the commit that carries it. */
  private enqueue(write: () => void): Promise<void> {
    if (this.batch) {
      this.batch.writes.push(write);
      return this.batch.done;
    }
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Failures reach waiting senders through committed(); this keeps an unawaited one quiet.
    done.catch(() => undefined);
    const batch: Batch = { writes: [write], done, resolve, reject };
    this.batch = batch;
    setImmediate(() => {
      if (this.batch !== batch) return;
      if (!this.db.open) return batch.reject(new StoreError(this.file, "the database is closed"));
      try {
        this.flush();
      } catch (err) {
        this.onError(err as Error);
      }
    });
    return done;
  }

  beginEpisode(start: EpisodeStart): void {
    this.flush();
    this.write(() => this.stmt.begin.run({
      id: start.id,
      kind: start.kind ?? "episode",
      env_id: start.envId ?? null,
      env_sha256: start.envSha256 ?? null,
      task_id: start.taskId ?? null,
      transport: start.transport,
      session_id: start.sessionId ?? null,
      needed: start.needed ?? null,
      started_at: now(),
      owner: this.owner,
      meta: json(start.meta),
    }));
  }

  episodeExists(id: string): boolean {
    this.flush();
    return this.stmt.exists.get(id) !== undefined;
  }

  /** The calls of an episode that took effect, in seq order, as a rebuild replays them. */
  async recordedCalls(episodeId: string): Promise<RecordedCall[]> {
    const rows = this.stmt.recorded.all(episodeId) as { seq: number; tool: string; arguments: string; output: string | Uint8Array; is_error: number }[];
    return rows.map((r) => ({
      seq: r.seq,
      tool: r.tool,
      arguments: JSON.parse(r.arguments) as Record<string, unknown>,
      // Text with lone surrogates is kept as a UTF-16 blob (see `exactText`).
      output: typeof r.output === "string" ? r.output : Buffer.from(r.output.buffer, r.output.byteOffset, r.output.byteLength).toString("utf16le"),
      isError: r.is_error === 1,
    }));
  }

  setClient(id: string, client: { name?: string | null; version?: string | null; protocolVersion?: string | null }): void {
    this.flush();
    this.write(() => this.stmt.client.run({ id, name: client.name ?? null, version: client.version ?? null, protocol: client.protocolVersion ?? null }));
  }

  /**
   * Records a message: an outgoing one is committed (with everything queued) before this
   * returns, so the caller may send it right after; an incoming one is queued.
   */
  recordMessage(m: MessageRecord): void {
    this.queueMessage(m);
    if (m.direction === "out") this.flush();
  }

  /**
   * Queues a message of either direction for the group commit; a caller about to send an
   * outgoing one must wait for `committed()` first. Responses produced in the same event-loop
   * turn then share one commit.
   */
  queueMessage(m: MessageRecord): Promise<void> {
    const ts = m.ts ?? now();
    return this.enqueue(() => this.stmt.message.run(m.episodeId, ts, m.direction, m.type, m.method ?? null, m.requestId ?? null, m.latencyMs ?? null, exactText(m.body)));
  }

  /**
   * Queues the call and the bump of its episode's counters; they commit with the call's
   * response. The promise rejects when that commit fails: the call must then not take effect.
   */
  recordCall(c: CallRecord): Promise<void> {
    return this.enqueue(() => {
      this.stmt.call.run(
        c.episodeId,
        c.seq,
        c.requestId,
        c.tool,
        JSON.stringify(c.arguments),
        exactText(c.output),
        c.isError ? 1 : 0,
        c.errorKind,
        c.solvedFtrl,
        c.solvedStrict,
        c.startedAt,
        c.latencyMs,
        json(c.assistantMeta),
      );
      this.stmt.counters.run(c.solvedFtrl === null ? 0 : 1, c.solvedStrict === null ? 0 : 1, c.episodeId);
    });
  }

  /** Ends a running episode; returns false when it had already ended (the first ending wins). */
  endEpisode(id: string, end: EpisodeEnd): boolean {
    this.flush();
    const result = this.write(() =>
      this.stmt.end.run({
        id,
        status: end.status,
        ended_at: now(),
        final_answer: end.finalAnswer == null ? null : exactText(end.finalAnswer),
        final_meta: json(end.finalMeta),
        score: json(end.score),
      }),
    );
    return result.changes > 0;
  }

  /**
   * Marks as interrupted the running episodes of server processes on this host that are
   * gone (killed, crashed); episodes of live processes sharing the file are left alone.
   * Returns how many were marked.
   */
  recoverInterrupted(): number {
    this.flush();
    const host = hostname();
    let marked = 0;
    for (const owner of this.stmt.runningOwners.all() as (string | null)[]) {
      const [ownerHost, pid] = (owner ?? "").split(":");
      const gone =
        owner === null ||
        (ownerHost === host && (owner !== this.owner && (Number(pid) === process.pid || !processAlive(Number(pid)))));
      if (gone) marked += this.write(() => this.stmt.interrupt.run(now(), owner)).changes;
    }
    return marked;
  }

  /** Commits what is queued (a failure is reported through `onError`, not thrown) and closes the file. */
  close(): void {
    this.stopProbe();
    if (!this.db.open) return;
    try {
      this.flush();
    } catch (err) {
      this.onError(err as Error);
    } finally {
      this.db.close();
    }
  }
}
