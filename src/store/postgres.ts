// The PostgreSQL store backend: the recorder's writes, leases and takeover reads on a pooled node-postgres connection, and a SQLite snapshot for the readers.
import pg from "pg";
import type { Lease, OpResult, RecordedCall, StoreBackend, StoredEpisode, WriteOp } from "./backend.ts";
import { DatabaseOpenError, openDb, type Db } from "./db.ts";
import { reasonOf, StoreError } from "./failure.ts";
import { PG_MIGRATIONS } from "./migrations-pg.ts";
import { SCHEMA_VERSION } from "./migrations.ts";
import { exactText } from "./sqlite.ts";

export interface PostgresOptions {
  /** Connections in the pool (default 4): commits run on one each, so this bounds concurrent commits. */
  poolSize?: number;
  /** How long connecting may take before the store counts as failed, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** How long a write waits for another transaction's row lock before its commit fails, in ms (default 5000, as SQLite's busy timeout). */
  lockTimeoutMs?: number;
  /** How long `probe` waits for another transaction's row lock, in ms (default 200). */
  probeLockTimeoutMs?: number;
}

/** The connection URL with its password removed, as errors and `location` show it. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    parsed.searchParams.delete("password");
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, "@");
  }
}

const NOT_UTF8_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Exact text as PostgreSQL can keep it: the text itself, or, when it holds NUL or a lone
 * surrogate (which UTF-8 text cannot), a readable copy (U+FFFD in their place: the driver's
 * UTF-8 encoding so replaces lone surrogates) and the UTF-16LE bytes for the `_utf16` column
 * that readers decode instead.
 */
export function toPgText(s: string): [text: string, utf16: Buffer | null] {
  return NOT_UTF8_TEXT.test(s) ? [s.replaceAll("\u0000", "\uFFFD"), Buffer.from(s, "utf16le")] : [s, null];
}

/** The exact text back from a text column and its `_utf16` twin. */
export const fromPgText = (text: string, utf16: Buffer | null): string => (utf16 ? utf16.toString("utf16le") : text);

/**
 * SQLSTATE classes of an error that belongs to one op (22: bad data such as a NUL in a plain
 * text column; 23: a broken constraint such as a duplicate id): that op is refused alone.
 * Any other error (connection lost, lock timeout, disk full) fails the whole commit.
 */
const isOpError = (err: unknown): boolean => /^2[23]/.test((err as { code?: unknown }).code as string ?? "");

/** A deadlock or serialization failure between two commits: nothing was applied, and the same commit may run again. */
const RETRY_WHOLE = new Set(["40P01", "40001"]);

const describeOp = (op: WriteOp): string =>
  op.op === "call" ? `call ${op.seq} of episode ${op.episodeId}`
  : op.op === "message" ? `message of episode ${op.episodeId ?? "(none)"}`
  : `${op.op} of episode ${op.id}`;

/**
 * A run of calls, their episodes' counters and their fences in one statement, with a result per
 * call as if they had run one by one: `ep` locks the episodes (in id order, so two commits
 * cannot deadlock on them) and so makes a lease changing hands wait for this transaction; `ok`
 * keeps the calls whose epoch matches (or that carry none) and numbers repeats of one seq; the
 * first of each seq is inserted unless already recorded. No refusal raises an error, so a batch
 * with one needs no savepoints; `epoch` (null: no such episode) words the refusal.
 */
const CALLS_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::boolean[], $9::text[],
                         $10::text[], $11::text[], $12::double precision[], $13::double precision[], $14::text[], $15::integer[])
      WITH ORDINALITY AS t(episode_id, seq, request_id, tool, arguments, output, output_utf16, is_error, error_kind,
                           solved_ftrl, solved_strict, started_at, latency_ms, assistant_meta, epoch, ord)
  ), ep AS (
    SELECT id, lease_epoch FROM episodes WHERE id IN (SELECT episode_id FROM input) ORDER BY id FOR UPDATE
  ), ok AS (
    SELECT input.*, row_number() OVER (PARTITION BY input.episode_id, input.seq ORDER BY input.ord) AS nth
    FROM input JOIN ep ON ep.id = input.episode_id WHERE input.epoch IS NULL OR input.epoch = ep.lease_epoch
  ), ins AS (
    INSERT INTO calls (episode_id, seq, request_id, tool, arguments, output, output_utf16, is_error, error_kind,
                       solved_ftrl, solved_strict, started_at, latency_ms, assistant_meta)
    SELECT episode_id, seq, request_id, tool, arguments, output, output_utf16, is_error, error_kind,
           solved_ftrl, solved_strict, started_at, latency_ms, assistant_meta FROM ok WHERE nth = 1 ORDER BY ord
    ON CONFLICT (episode_id, seq) DO NOTHING
    RETURNING episode_id, seq, solved_ftrl, solved_strict
  ), bump AS (
    UPDATE episodes SET call_count = call_count + n.calls, solved_ftrl = solved_ftrl + n.ftrl, solved_strict = solved_strict + n.strict
    FROM (SELECT episode_id, count(*) AS calls, count(solved_ftrl) AS ftrl, count(solved_strict) AS strict FROM ins GROUP BY episode_id) n
    WHERE episodes.id = n.episode_id
  )
  SELECT ep.lease_epoch AS epoch, ok.ord IS NOT NULL AS unfenced, coalesce(ok.nth = 1 AND ins.seq IS NOT NULL, false) AS inserted
  FROM input LEFT JOIN ep ON ep.id = input.episode_id LEFT JOIN ok ON ok.ord = input.ord
    LEFT JOIN ins ON ins.episode_id = input.episode_id AND ins.seq = input.seq
  ORDER BY input.ord`;

/** A run of messages in one statement; their ids follow their order. */
const MESSAGES_SQL = `
  INSERT INTO messages (episode_id, ts, direction, type, method, request_id, latency_ms, body, body_utf16)
  SELECT episode_id, ts, direction, type, method, request_id, latency_ms, body, body_utf16
  FROM unnest($1::text[], $2::double precision[], $3::text[], $4::text[], $5::text[], $6::text[], $7::double precision[], $8::text[], $9::bytea[])
    WITH ORDINALITY AS t(episode_id, ts, direction, type, method, request_id, latency_ms, body, body_utf16, ord)
  ORDER BY ord`;

/** An episode's last activity (see `StoreBackend.staleEpisodes`), as src/store/sqlite.ts computes it: last call and message found by key. */
const LAST_ACTIVITY = `greatest(episodes.started_at,
  (SELECT calls.started_at + calls.latency_ms FROM calls WHERE calls.episode_id = episodes.id ORDER BY calls.seq DESC LIMIT 1),
  (SELECT messages.ts FROM messages WHERE messages.episode_id = episodes.id ORDER BY messages.id DESC LIMIT 1))`;

const SQL = {
  begin: `INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, session_id, needed, started_at, owner, meta, lease_owner, lease_until, lease_epoch)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
  client: `UPDATE episodes SET client_name = coalesce($2, client_name), client_version = coalesce($3, client_version),
           protocol_version = coalesce($4, protocol_version) WHERE id = $1`,
  messages: MESSAGES_SQL,
  calls: CALLS_SQL,
  end: `UPDATE episodes SET status = $2, ended_at = $3, final_answer = $4, final_answer_utf16 = $5, final_meta = $6, score = $7
        WHERE id = $1 AND status = 'running'`,
  exists: `SELECT 1 FROM episodes WHERE id = $1`,
  runningOwners: `SELECT DISTINCT owner FROM episodes WHERE status = 'running'`,
  interrupt: `UPDATE episodes SET status = 'interrupted', ended_at = $2 WHERE status = 'running' AND owner IS NOT DISTINCT FROM $1 AND lease_epoch = 0`,
  loadEpisode: `SELECT id, kind, env_id, env_sha256, task_id, transport, session_id, status, needed, call_count, meta, score,
                lease_owner, lease_until, lease_epoch FROM episodes WHERE id = $1`,
  recordedCalls: `SELECT seq, tool, arguments, output, output_utf16, is_error, error_kind FROM calls WHERE episode_id = $1 ORDER BY seq`,
  // The epoch grows whenever the owner changes, so a process that lost it is fenced; a released lease keeps its owner (see StoreBackend.release).
  lease: `UPDATE episodes SET lease_epoch = lease_epoch + (CASE WHEN lease_owner IS DISTINCT FROM $2 THEN 1 ELSE 0 END),
          lease_owner = $2, lease_until = $4
          WHERE id = $1 AND status = 'running' AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3)
            AND ($5::double precision IS NULL OR ${LAST_ACTIVITY} < $5)
          RETURNING lease_owner, lease_until, lease_epoch`,
  release: `UPDATE episodes SET lease_until = 0 WHERE id = $1 AND lease_owner = $2`,
  // COLLATE "C": ids in byte order, as SQLite compares them.
  stale: `SELECT id FROM episodes WHERE status = 'running' AND lease_epoch > 0 AND coalesce(lease_until, 0) < $2
            AND ($4::text IS NULL OR id COLLATE "C" > $4) AND ${LAST_ACTIVITY} < $1
          ORDER BY id COLLATE "C" LIMIT $3`,
} as const;

type Statement = keyof typeof SQL;
type MessageOp = Extract<WriteOp, { op: "message" }>;
type CallOp = Extract<WriteOp, { op: "call" }>;

/** A named (prepared once per connection) query. */
const named = (name: Statement, values: unknown[]): pg.QueryConfig => ({ name: `envforge_${name}`, text: SQL[name], values });

/** The applied-migrations row, created under the migration lock by the first opener. */
const SCHEMA_TABLE = `CREATE TABLE IF NOT EXISTS envforge_schema (version integer NOT NULL);
  INSERT INTO envforge_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM envforge_schema)`;

/**
 * Applies every migration past `envforge_schema.version`, each in its own transaction. Replicas
 * starting at once serialize on a transaction-scoped advisory lock, and each re-reads the
 * version under it, so every migration runs exactly once.
 */
async function migrate(client: pg.PoolClient): Promise<void> {
  for (;;) {
    await client.query("BEGIN");
    try {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('envforge:migrate'))`);
      await client.query(SCHEMA_TABLE);
      const version = (await client.query<{ version: number }>(`SELECT version FROM envforge_schema`)).rows[0]!.version;
      if (version > PG_MIGRATIONS.length) {
        throw new Error(`database schema version ${version} is newer than this envforge understands (${PG_MIGRATIONS.length}); upgrade envforge`);
      }
      if (version === PG_MIGRATIONS.length) return void (await client.query("COMMIT"));
      await client.query(PG_MIGRATIONS[version]!);
      await client.query(`UPDATE envforge_schema SET version = $1`, [version + 1]);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }
}

interface EpisodeRowPg {
  id: string;
  kind: StoredEpisode["kind"];
  env_id: string | null;
  env_sha256: string | null;
  task_id: string | null;
  transport: StoredEpisode["transport"];
  session_id: string | null;
  status: string;
  needed: number | null;
  call_count: number;
  meta: string | null;
  score: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  lease_epoch: number;
}

/**
 * The store on PostgreSQL, through node-postgres: a pool of pipelined connections (a commit's
 * statements go out together and cost about one round trip) and named prepared statements.
 */
export class PostgresBackend implements StoreBackend {
  /** Connections lent out now (at most the pool's size), and the queries waiting in line for one. */
  private lent = 0;
  private readonly inLine: (() => void)[] = [];

  private constructor(
    private readonly pool: pg.Pool,
    private readonly poolSize: number,
    readonly location: string,
    private readonly probeLockTimeoutMs: number,
    private readonly url: string,
  ) {}

  /** A consistent copy of these episodes' rows in an in-memory SQLite database, for the synchronous readers. */
  snapshot(episodes: readonly string[]): Promise<Db> {
    return snapshotToSqlite(this.url, { episodes });
  }

  /**
   * Connects, migrates to the current schema and returns the backend; throws a
   * DatabaseOpenError naming the URL (without its password) and the reason otherwise.
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresBackend> {
    const location = withoutPassword(url);
    const poolSize = options.poolSize ?? 4;
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: "envforge",
      pipeline: true,
      lock_timeout: options.lockTimeoutMs ?? 5000,
      // A server that vanished without closing the connection (a partition) is noticed, not waited on forever.
      keepAlive: true,
    });
    // An idle connection the server dropped (a restart): the pool discards it and the next use reconnects.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new DatabaseOpenError(location, reasonOf(err), { cause: err });
    }
    return new PostgresBackend(pool, poolSize, location, options.probeLockTimeoutMs ?? 200, url);
  }

  private storeError(err: unknown): StoreError {
    return err instanceof StoreError ? err : new StoreError(this.location, reasonOf(err));
  }

  /**
   * Runs `work` on one pooled connection; a connection that failed is discarded, not reused. Queries
   * wait in line here for a free connection, first come first served and for as long as it takes, so
   * the pool's connect timeout bounds only making a connection: a store that is only busy (16,384
   * episodes on three replicas queued their leases past it) has not failed, while one that cannot
   * be reached still fails within the timeout.
   */
  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.lent < this.poolSize) this.lent++;
    else await new Promise<void>((resolve) => this.inLine.push(resolve));
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.giveBack();
      throw this.storeError(err);
    }
    try {
      const result = await work(client);
      client.release();
      return result;
    } catch (err) {
      client.release(true);
      throw this.storeError(err);
    } finally {
      this.giveBack();
    }
  }

  /** A connection is free: to the first query in line, or back to the pool. */
  private giveBack(): void {
    const next = this.inLine.shift();
    if (next) next();
    else this.lent--;
  }

  private async query<R extends pg.QueryResultRow>(name: Statement, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.withClient((client) => client.query<R>(named(name, values)));
  }

  /**
   * Sends the statements for `ops` at once (pipelined) and returns a promise of each op's result.
   * Between two episode-level ops (begin, client, end), the messages go in one statement and the
   * calls in another: they touch different tables, and the episode rows they need were written
   * before the run, so this order gives what applying them one by one gives.
   */
  private send(client: pg.PoolClient, ops: readonly WriteOp[]): Promise<OpResult>[] {
    const results: Promise<OpResult>[] = [];
    let messages: number[] = [];
    let calls: number[] = [];
    const spread = (indexes: number[], batch: Promise<OpResult[]>): void => indexes.forEach((i, j) => (results[i] = batch.then((r) => r[j]!)));
    const flush = (): void => {
      if (messages.length) spread(messages, this.sendMessages(client, messages.map((i) => ops[i] as MessageOp)));
      if (calls.length) spread(calls, this.sendCalls(client, calls.map((i) => ops[i] as CallOp)));
      messages = [];
      calls = [];
    };
    ops.forEach((op, i) => {
      if (op.op === "message") return void messages.push(i);
      if (op.op === "call") return void calls.push(i);
      flush();
      results[i] = this.sendEpisodeOp(client, op);
    });
    flush();
    return results;
  }

  private sendEpisodeOp(client: pg.PoolClient, op: Exclude<WriteOp, MessageOp | CallOp>): Promise<OpResult> {
    const changed = (r: pg.QueryResult): OpResult => ({ changed: (r.rowCount ?? 0) > 0 });
    switch (op.op) {
      case "begin":
        return client
          .query(named("begin", [op.id, op.kind, op.envId, op.envSha256, op.taskId, op.transport, op.sessionId, op.needed, op.startedAt, op.owner, op.meta,
            ...(op.leaseUntil !== undefined ? [op.owner, op.leaseUntil, 1] : [null, null, 0])]))
          .then(changed);
      case "client":
        return client.query(named("client", [op.id, op.name, op.version, op.protocol])).then(changed);
      case "end": {
        const [answer, utf16] = op.finalAnswer === null ? [null, null] : toPgText(op.finalAnswer);
        return client.query(named("end", [op.id, op.status, op.endedAt, answer, utf16, op.finalMeta, op.score])).then(changed);
      }
    }
  }

  private sendMessages(client: pg.PoolClient, ops: MessageOp[]): Promise<OpResult[]> {
    const texts = ops.map((m) => toPgText(m.body));
    const values = [ops.map((m) => m.episodeId), ops.map((m) => m.ts), ops.map((m) => m.direction), ops.map((m) => m.type), ops.map((m) => m.method),
      ops.map((m) => m.requestId), ops.map((m) => m.latencyMs), texts.map(([t]) => t), texts.map(([, b]) => b)];
    return client.query(named("messages", values)).then(() => ops.map(() => ({ changed: true })));
  }

  private sendCalls(client: pg.PoolClient, ops: CallOp[]): Promise<OpResult[]> {
    const texts = ops.map((c) => toPgText(c.output));
    const values = [ops.map((c) => c.episodeId), ops.map((c) => c.seq), ops.map((c) => c.requestId), ops.map((c) => c.tool), ops.map((c) => c.arguments),
      texts.map(([t]) => t), texts.map(([, b]) => b), ops.map((c) => c.isError), ops.map((c) => c.errorKind), ops.map((c) => c.solvedFtrl),
      ops.map((c) => c.solvedStrict), ops.map((c) => c.startedAt), ops.map((c) => c.latencyMs), ops.map((c) => c.assistantMeta), ops.map((c) => c.epoch ?? null)];
    type Row = { epoch: number | null; unfenced: boolean; inserted: boolean };
    return client.query<Row>(named("calls", values)).then(({ rows }) =>
      rows.map((r, i): OpResult => {
        const op = ops[i]!;
        if (r.epoch === null) return { error: new Error(`${describeOp(op)}: the episode is not recorded`) };
        if (!r.unfenced) return { error: new Error(`${describeOp(op)}: the episode's lease is at epoch ${r.epoch}, not ${op.epoch}; another process took it over`) };
        if (!r.inserted) return { error: new Error(`${describeOp(op)}: that call is already recorded`) };
        return { changed: true };
      }),
    );
  }

  /**
   * Every op pipelined between BEGIN and COMMIT: one round trip. Returns null when an op raised
   * an error of its own (the transaction then rolled back whole), so that `isolated` redoes the
   * batch with savepoints; throws when the transaction failed for any other reason.
   */
  private async pipelined(client: pg.PoolClient, ops: readonly WriteOp[]): Promise<OpResult[] | null> {
    const begin = client.query("BEGIN");
    const applied = this.send(client, ops);
    const commit = client.query("COMMIT");
    const [b, c, ...each] = await Promise.allSettled([begin, commit, ...applied]);
    if (b!.status === "rejected") throw b.reason;
    // The server runs the pipeline in order, so the first failure is the cause; those after it
    // only follow from the aborted transaction (25P02, or a statement whose Parse it refused).
    const failure = each.find((r) => r.status === "rejected");
    if (failure) {
      if (isOpError(failure.reason)) return null;
      throw failure.reason;
    }
    if (c!.status === "rejected") throw c.reason;
    if (c!.value.command !== "COMMIT") throw new Error("the transaction was rolled back");
    return each.map((r) => (r as PromiseFulfilledResult<OpResult>).value);
  }

  /** The batch again, each op alone inside its own savepoint (pipelined with it), so a failing op is rolled back alone. */
  private async isolated(client: pg.PoolClient, ops: readonly WriteOp[]): Promise<OpResult[]> {
    await client.query("BEGIN");
    const results: OpResult[] = [];
    for (const op of ops) {
      const savepoint = client.query("SAVEPOINT op");
      const [applied] = this.send(client, [op]);
      const release = client.query("RELEASE SAVEPOINT op");
      const [s, a, r] = await Promise.allSettled([savepoint, applied!, release]);
      if (s!.status === "rejected") throw s.reason;
      if (a!.status === "fulfilled" && r!.status === "fulfilled") {
        results.push(a.value);
        continue;
      }
      const err: unknown = a!.status === "rejected" ? a.reason : (r as PromiseRejectedResult).reason;
      if (!isOpError(err)) throw err;
      await client.query("ROLLBACK TO SAVEPOINT op");
      results.push({ error: new Error(`${describeOp(op)}: ${reasonOf(err)}`, { cause: err }) });
    }
    const commit = await client.query("COMMIT");
    if (commit.command !== "COMMIT") throw new Error("the transaction was rolled back");
    return results;
  }

  async commit(ops: readonly WriteOp[]): Promise<OpResult[]> {
    if (ops.length === 0) return [];
    return this.withClient(async (client) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await this.pipelined(client, ops)) ?? (await this.isolated(client, ops));
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          if (attempt < 3 && RETRY_WHOLE.has((err as { code?: string }).code ?? "")) continue;
          throw err;
        }
      }
    });
  }

  async episodeExists(id: string): Promise<boolean> {
    return ((await this.query("exists", [id])).rowCount ?? 0) > 0;
  }

  async runningOwners(): Promise<(string | null)[]> {
    return (await this.query<{ owner: string | null }>("runningOwners", [])).rows.map((r) => r.owner);
  }

  async interrupt(owner: string | null, endedAt: number): Promise<number> {
    return (await this.query("interrupt", [owner, endedAt])).rowCount ?? 0;
  }

  async loadEpisode(id: string): Promise<StoredEpisode | null> {
    const row = (await this.query<EpisodeRowPg>("loadEpisode", [id])).rows[0];
    if (!row) return null;
    return {
      id: row.id,
      kind: row.kind,
      envId: row.env_id,
      envSha256: row.env_sha256,
      taskId: row.task_id,
      transport: row.transport,
      sessionId: row.session_id,
      status: row.status,
      needed: row.needed,
      callCount: row.call_count,
      meta: row.meta === null ? null : (JSON.parse(row.meta) as Record<string, unknown>),
      score: row.score === null ? null : (JSON.parse(row.score) as unknown),
      lease: row.lease_owner === null ? null : { owner: row.lease_owner, until: row.lease_until!, epoch: row.lease_epoch },
    };
  }

  async recordedCalls(episodeId: string): Promise<RecordedCall[]> {
    type Row = { seq: number; tool: string; arguments: string; output: string; output_utf16: Buffer | null; is_error: boolean; error_kind: string | null };
    return (await this.query<Row>("recordedCalls", [episodeId])).rows.map((r) => ({
      seq: r.seq,
      tool: r.tool,
      arguments: JSON.parse(r.arguments) as Record<string, unknown>,
      output: fromPgText(r.output, r.output_utf16),
      isError: r.is_error,
      errorKind: r.error_kind,
    }));
  }

  async lease(episodeId: string, owner: string, now: number, until: number, idleBefore?: number): Promise<Lease | null> {
    type Row = { lease_owner: string; lease_until: number; lease_epoch: number };
    const row = (await this.query<Row>("lease", [episodeId, owner, now, until, idleBefore ?? null])).rows[0];
    return row ? { owner: row.lease_owner, until: row.lease_until, epoch: row.lease_epoch } : null;
  }

  async staleEpisodes(before: number, now: number, limit: number, after?: string): Promise<string[]> {
    return (await this.query<{ id: string }>("stale", [before, now, limit, after ?? null])).rows.map((r) => r.id);
  }

  async release(episodeId: string, owner: string): Promise<void> {
    await this.query("release", [episodeId, owner]);
  }

  /** Rewrites the schema-version row to itself, giving up at once on another transaction's lock. */
  async probe(): Promise<void> {
    await this.withClient(async (client) => {
      const steps = [
        client.query("BEGIN"),
        client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.probeLockTimeoutMs))}`),
        client.query("UPDATE envforge_schema SET version = version"),
        client.query("COMMIT"),
      ];
      const settled = await Promise.allSettled(steps);
      const failed = settled.find((s) => s.status === "rejected");
      if (failed) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw (failed as PromiseRejectedResult).reason;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Rows per read while copying a snapshot: large enough to amortize round trips, small enough not to hold a table twice. */
const CHUNK = 1000;

type PgRow = Record<string, unknown>;

/**
 * Copies one table into SQLite in key order, a chunk at a time (keyset pagination inside the
 * snapshot's transaction), each chunk written before the next is read.
 */
async function copyTable(client: pg.Client, db: Db, table: string, key: readonly string[], insert: string, toSqlite: (r: PgRow) => unknown[], only?: { column: string; ids: readonly string[] }): Promise<void> {
  const stmt = db.prepare(insert);
  const write = db.transaction((rows: PgRow[]) => {
    for (const row of rows) stmt.run(toSqlite(row));
  });
  const order = key.join(", ");
  const after = `(${order}) > (${key.map((_, i) => `$${i + 1}`).join(", ")})`;
  let last: unknown[] | null = null;
  for (;;) {
    const params: unknown[] = last ? [...last] : [];
    const where: string[] = last ? [after] : [];
    if (only) where.push(`${only.column} = ANY($${params.push(only.ids)})`);
    const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
    const { rows }: pg.QueryResult<PgRow> = await client.query<PgRow>(`SELECT * FROM ${table} ${clause} ORDER BY ${order} LIMIT ${CHUNK}`, params);
    write(rows);
    if (rows.length < CHUNK) return;
    const tail: PgRow = rows[rows.length - 1]!;
    last = key.map((k): unknown => tail[k]);
  }
}

const flag = (b: unknown): number => (b ? 1 : 0);

/** An exact text column of a PostgreSQL row as the SQLite recorder stores it. */
const sqliteText = (r: PgRow, column: string): string | Buffer | null =>
  r[column] === null ? null : exactText(fromPgText(r[column] as string, r[`${column}_utf16`] as Buffer | null));

/**
 * A consistent copy of a PostgreSQL store in an in-memory SQLite database at the current schema,
 * for the synchronous readers (score, export, view, the reward API): one REPEATABLE READ
 * transaction, tables copied in chunks, exact texts kept (lone surrogates as UTF-16 blobs, as
 * the SQLite recorder keeps them).
 */
export async function snapshotToSqlite(url: string, options: Pick<PostgresOptions, "connectTimeoutMs"> & { episodes?: readonly string[] } = {}): Promise<Db> {
  // With `episodes`, only their rows (the reward API reads one episode): the copy costs what they hold, not the store.
  const of = (column: string) => (options.episodes ? { column, ids: options.episodes } : undefined);
  const location = withoutPassword(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.connectTimeoutMs ?? 5000, application_name: "envforge" });
  client.on("error", () => undefined);
  const db = openDb(":memory:");
  try {
    await client.connect();
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const version = (await client.query<{ version: number }>(`SELECT version FROM envforge_schema`).catch(() => ({ rows: [] }))).rows[0]?.version ?? 0;
    if (version !== SCHEMA_VERSION) {
      throw new Error(`schema version ${version}, expected ${SCHEMA_VERSION}; open it once read-write (envforge serve) to migrate`);
    }
    await copyTable(client, db, "episodes", ["id"],
      `INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, session_id, client_name, client_version, protocol_version, status,
       started_at, ended_at, needed, call_count, solved_ftrl, solved_strict, final_answer, final_meta, score, owner, meta, lease_owner, lease_until,
       lease_epoch) VALUES (${Array(25).fill("?").join(", ")})`,
      (r) => [r.id, r.kind, r.env_id, r.env_sha256, r.task_id, r.transport, r.session_id, r.client_name, r.client_version, r.protocol_version,
        r.status, r.started_at, r.ended_at, r.needed, r.call_count, r.solved_ftrl, r.solved_strict, sqliteText(r, "final_answer"), r.final_meta,
        r.score, r.owner, r.meta, r.lease_owner, r.lease_until, r.lease_epoch], of("id"));
    await copyTable(client, db, "messages", ["id"],
      `INSERT INTO messages (id, episode_id, ts, direction, type, method, request_id, latency_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      (r) => [Number(r.id), r.episode_id, r.ts, r.direction, r.type, r.method, r.request_id, r.latency_ms, sqliteText(r, "body")], of("episode_id"));
    await copyTable(client, db, "calls", ["episode_id", "seq"],
      `INSERT INTO calls (episode_id, seq, request_id, tool, arguments, output, is_error, error_kind, solved_ftrl, solved_strict, started_at,
       latency_ms, assistant_meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      (r) => [r.episode_id, r.seq, r.request_id, r.tool, r.arguments, sqliteText(r, "output"), flag(r.is_error), r.error_kind, r.solved_ftrl,
        r.solved_strict, r.started_at, r.latency_ms, r.assistant_meta], of("episode_id"));
    await copyTable(client, db, "imports", ["id"],
      `INSERT INTO imports (id, format, source, sha256, episodes, imported_at) VALUES (?, ?, ?, ?, ?, ?)`,
      (r) => [r.id, r.format, r.source, r.sha256, r.episodes, r.imported_at]);
    await copyTable(client, db, "model_calls", ["id"],
      `INSERT INTO model_calls (id, episode_id, api, path, model, stream, status, started_at, latency_ms, request, response, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      (r) => [Number(r.id), r.episode_id, r.api, r.path, r.model, flag(r.stream), r.status, r.started_at, r.latency_ms, r.request, r.response, r.error], of("episode_id"));
    await client.query("COMMIT");
    return db;
  } catch (err) {
    db.close();
    throw new DatabaseOpenError(location, reasonOf(err), { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}
