// The SQLite backend: the embedded default store, one file in WAL mode, written synchronously through better-sqlite3.
import type { Db } from "./db.ts";
import type { Lease, OpResult, RecordedCall, StoreBackend, StoredEpisode, WriteOp } from "./backend.ts";
import { checkSameFile, fileIdentity, probeWrite, type FileIdentity } from "./failure.ts";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text as SQLite can keep it exactly. UTF-8 has no lone surrogates (a tool may return
 * U+D800, and the agent sees it, escaped, in JSON), so such text is stored as a UTF-16 blob
 * instead of being turned into U+FFFD; the reader decodes it back.
 */
export const exactText = (s: string): string | Buffer => (LONE_SURROGATE.test(s) ? Buffer.from(s, "utf16le") : s);

/** Read back what `exactText` wrote. */
const textOf = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf16le") : (v as string));

/** An op refused on its own: the transaction goes on without it. */
class OpRefused extends Error {}

/** SQLite errors that belong to one statement (a duplicate key), not to the transaction. */
const ownFailure = (err: unknown): boolean => err instanceof OpRefused || String((err as { code?: string }).code ?? "").startsWith("SQLITE_CONSTRAINT");

/**
 * An episode's last activity (see `StoreBackend.staleEpisodes`): its last call and last message are
 * found by key (calls by seq, messages by id) rather than by scanning all of them.
 */
const LAST_ACTIVITY = `max(episodes.started_at,
  coalesce((SELECT calls.started_at + calls.latency_ms FROM calls WHERE calls.episode_id = episodes.id ORDER BY calls.seq DESC LIMIT 1), 0),
  coalesce((SELECT messages.ts FROM messages WHERE messages.episode_id = episodes.id ORDER BY messages.id DESC LIMIT 1), 0))`;

export class SqliteBackend implements StoreBackend {
  readonly location: string;
  private readonly identity: FileIdentity | null;
  private readonly stmt;
  private readonly applyAll: (ops: readonly WriteOp[]) => OpResult[];
  private readonly applyCall: (op: Extract<WriteOp, { op: "call" }>) => void;

  constructor(
    readonly db: Db,
    private readonly busyTimeoutMs: number,
  ) {
    this.location = db.memory ? ":memory:" : db.name;
    this.identity = db.memory ? null : fileIdentity(db.name);
    this.stmt = {
      begin: db.prepare(
        `INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, session_id, needed, started_at, owner, meta, lease_owner, lease_until, lease_epoch)
         VALUES (@id, @kind, @envId, @envSha256, @taskId, @transport, @sessionId, @needed, @startedAt, @owner, @meta, @leaseOwner, @leaseUntil, @leaseEpoch)`,
      ),
      client: db.prepare(
        `UPDATE episodes SET client_name = coalesce(@name, client_name), client_version = coalesce(@version, client_version),
         protocol_version = coalesce(@protocol, protocol_version) WHERE id = @id`,
      ),
      message: db.prepare(
        `INSERT INTO messages (episode_id, ts, direction, type, method, request_id, latency_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      call: db.prepare(
        `INSERT INTO calls (episode_id, seq, request_id, tool, arguments, output, is_error, error_kind, solved_ftrl, solved_strict, started_at, latency_ms, assistant_meta)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      counters: db.prepare(
        `UPDATE episodes SET call_count = call_count + 1, solved_ftrl = solved_ftrl + ?, solved_strict = solved_strict + ? WHERE id = ?`,
      ),
      fencedCounters: db.prepare(
        `UPDATE episodes SET call_count = call_count + 1, solved_ftrl = solved_ftrl + ?, solved_strict = solved_strict + ? WHERE id = ? AND lease_epoch = ?`,
      ),
      end: db.prepare(
        `UPDATE episodes SET status = @status, ended_at = @endedAt, final_answer = @finalAnswer, final_meta = @finalMeta, score = @score, lease_owner = NULL
         WHERE id = @id AND status = 'running'`,
      ),
      exists: db.prepare(`SELECT 1 FROM episodes WHERE id = ?`).pluck(),
      runningOwners: db.prepare(`SELECT DISTINCT owner FROM episodes WHERE status = 'running'`).pluck(),
      interrupt: db.prepare(`UPDATE episodes SET status = 'interrupted', ended_at = ? WHERE status = 'running' AND owner IS ? AND lease_epoch = 0`),
      load: db.prepare(
        `SELECT id, kind, env_id, env_sha256, task_id, transport, session_id, status, needed, call_count, meta, score, lease_owner, lease_until, lease_epoch FROM episodes WHERE id = ?`,
      ),
      calls: db.prepare(`SELECT seq, tool, arguments, output, is_error, error_kind FROM calls WHERE episode_id = ? ORDER BY seq`),
      lease: db.prepare(
        `UPDATE episodes SET lease_epoch = CASE WHEN lease_owner IS @owner THEN lease_epoch ELSE lease_epoch + 1 END, lease_owner = @owner, lease_until = @until
         WHERE id = @id AND status = 'running' AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until < @now)
           AND (@idleBefore IS NULL OR ${LAST_ACTIVITY} < @idleBefore)
         RETURNING lease_owner AS owner, lease_until AS until, lease_epoch AS epoch`,
      ),
      release: db.prepare(`UPDATE episodes SET lease_until = 0 WHERE id = ? AND lease_owner = ?`),
      stale: db
        .prepare(
          `SELECT id FROM episodes WHERE status = 'running' AND lease_epoch > 0 AND coalesce(lease_until, 0) < @now
             AND (@after IS NULL OR id > @after) AND ${LAST_ACTIVITY} < @before
           ORDER BY id LIMIT @limit`,
        )
        .pluck(),
    };
    // Each call is its own savepoint: a refused one (duplicate seq, lost lease) leaves its siblings committed.
    this.applyCall = db.transaction((c: Extract<WriteOp, { op: "call" }>) => {
      const solved = [c.solvedFtrl === null ? 0 : 1, c.solvedStrict === null ? 0 : 1] as const;
      const bumped = c.epoch === undefined ? this.stmt.counters.run(...solved, c.episodeId) : this.stmt.fencedCounters.run(...solved, c.episodeId, c.epoch);
      if (bumped.changes === 0) throw new OpRefused(`episode ${c.episodeId}: this process no longer holds its lease (epoch ${c.epoch}); the call was not recorded`);
      this.stmt.call.run(c.episodeId, c.seq, c.requestId, c.tool, c.arguments, exactText(c.output), c.isError ? 1 : 0, c.errorKind, c.solvedFtrl, c.solvedStrict, c.startedAt, c.latencyMs, c.assistantMeta);
    });
    this.applyAll = db.transaction((ops: readonly WriteOp[]) => ops.map((op) => this.applyOne(op)));
  }

  private applyOne(op: WriteOp): OpResult {
    try {
      switch (op.op) {
        case "begin": {
          const { op: _, leaseUntil, ...row } = op;
          const leased = leaseUntil !== undefined;
          this.stmt.begin.run({ ...row, leaseOwner: leased ? op.owner : null, leaseUntil: leaseUntil ?? null, leaseEpoch: leased ? 1 : 0 });
          return { changed: true };
        }
        case "client": {
          const { op: _, ...client } = op;
          return { changed: this.stmt.client.run(client).changes > 0 };
        }
        case "message":
          this.stmt.message.run(op.episodeId, op.ts, op.direction, op.type, op.method, op.requestId, op.latencyMs, exactText(op.body));
          return { changed: true };
        case "call":
          this.applyCall(op);
          return { changed: true };
        case "end": {
          const { op: _, finalAnswer, ...end } = op;
          return { changed: this.stmt.end.run({ ...end, finalAnswer: finalAnswer === null ? null : exactText(finalAnswer) }).changes > 0 };
        }
      }
    } catch (err) {
      if (ownFailure(err)) return { error: err as Error };
      throw err;
    }
  }

  /** Throws when the file was deleted or replaced under the open connection (writes would go nowhere). */
  private checkFile(): void {
    if (this.identity) checkSameFile(this.location, this.identity);
  }

  async commit(ops: readonly WriteOp[]): Promise<OpResult[]> {
    this.checkFile();
    return this.applyAll(ops);
  }

  async episodeExists(id: string): Promise<boolean> {
    return this.stmt.exists.get(id) !== undefined;
  }

  async runningOwners(): Promise<(string | null)[]> {
    return this.stmt.runningOwners.all() as (string | null)[];
  }

  async interrupt(owner: string | null, endedAt: number): Promise<number> {
    this.checkFile();
    return this.stmt.interrupt.run(endedAt, owner).changes;
  }

  async loadEpisode(id: string): Promise<StoredEpisode | null> {
    const r = this.stmt.load.get(id) as Record<string, unknown> | undefined;
    if (!r) return null;
    return {
      id: r.id as string,
      kind: r.kind as StoredEpisode["kind"],
      envId: r.env_id as string | null,
      envSha256: r.env_sha256 as string | null,
      taskId: r.task_id as string | null,
      transport: r.transport as StoredEpisode["transport"],
      sessionId: r.session_id as string | null,
      status: r.status as string,
      needed: r.needed as number | null,
      callCount: r.call_count as number,
      meta: typeof r.meta === "string" ? (JSON.parse(r.meta) as Record<string, unknown>) : null,
      score: typeof r.score === "string" ? JSON.parse(r.score) : null,
      lease: r.lease_owner === null ? null : { owner: r.lease_owner as string, until: r.lease_until as number, epoch: r.lease_epoch as number },
    };
  }

  async recordedCalls(episodeId: string): Promise<RecordedCall[]> {
    return (this.stmt.calls.all(episodeId) as Record<string, unknown>[]).map((r) => ({
      seq: r.seq as number,
      tool: r.tool as string,
      arguments: JSON.parse(r.arguments as string) as Record<string, unknown>,
      output: textOf(r.output),
      isError: r.is_error === 1,
      errorKind: r.error_kind as string | null,
    }));
  }

  async lease(episodeId: string, owner: string, now: number, until: number, idleBefore?: number): Promise<Lease | null> {
    this.checkFile();
    return (this.stmt.lease.get({ id: episodeId, owner, now, until, idleBefore: idleBefore ?? null }) as Lease | undefined) ?? null;
  }

  async staleEpisodes(before: number, now: number, limit: number, after?: string): Promise<string[]> {
    return this.stmt.stale.all({ before, now, limit, after: after ?? null }) as string[];
  }

  async release(episodeId: string, owner: string): Promise<void> {
    this.checkFile();
    this.stmt.release.run(episodeId, owner);
  }

  async probe(): Promise<void> {
    this.probeNow();
  }

  /** `probe`, synchronously: SQLite answers at once. */
  probeNow(): void {
    if (!this.db.open) throw new Error("the database is closed");
    this.checkFile();
    if (!this.db.memory) probeWrite(this.db, this.busyTimeoutMs);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
