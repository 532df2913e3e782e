// Reads recorded episodes, messages and calls back, for scoring, export, the reward API and the viewer.
import type { EpisodeKind, EpisodeScores, EpisodeStatus, TransportKind } from "../schema/index.ts";
import { openDb, type Db } from "./db.ts";
import type { CallRecord, Direction, MessageType } from "./recorder.ts";

export interface EpisodeRow {
  id: string;
  kind: EpisodeKind;
  envId: string | null;
  envSha256: string | null;
  taskId: string | null;
  transport: TransportKind;
  sessionId: string | null;
  clientName: string | null;
  clientVersion: string | null;
  protocolVersion: string | null;
  status: EpisodeStatus;
  startedAt: number;
  endedAt: number | null;
  needed: number | null;
  /** Environment tool calls executed (p); submit_answer and refused calls are not counted. */
  callCount: number;
  solvedFtrl: number;
  solvedStrict: number;
  finalAnswer: string | null;
  finalMeta: unknown;
  score: EpisodeScores | null;
  owner: string | null;
  meta: Record<string, unknown> | null;
}

export interface MessageRow {
  id: number;
  episodeId: string | null;
  ts: number;
  direction: Direction;
  type: MessageType;
  method: string | null;
  requestId: string | null;
  latencyMs: number | null;
  /** JSON text of the message as it went over the wire (raw text when type is `invalid`). */
  body: string;
}

/** A recorded tool call reads back exactly as it was written. */
export type CallRow = CallRecord;

export interface EpisodeFilter {
  envId?: string;
  taskId?: string;
  status?: EpisodeStatus | EpisodeStatus[];
  /** Defaults to `episode`; `all` lists catalog and proxy sessions too. */
  kind?: EpisodeKind | "all";
  clientName?: string;
  /** Only episodes started at or after / before these times (ms since the epoch). */
  since?: number;
  until?: number;
  /** Newest first by default. */
  order?: "newest" | "oldest";
  limit?: number;
  offset?: number;
}

export interface EpisodePage {
  episodes: EpisodeRow[];
  /** How many episodes match the filter, ignoring limit and offset. */
  total: number;
  /** The offset of the next page, or null on the last one. */
  nextOffset: number | null;
}

export interface EpisodeDetail {
  episode: EpisodeRow;
  calls: CallRow[];
  messages: MessageRow[];
}

export interface RecordCounts {
  episodes: number;
  messages: number;
  calls: number;
  byStatus: Partial<Record<EpisodeStatus, number>>;
}

type Raw = Record<string, unknown>;

const JSON_COLUMNS = new Set(["final_meta", "score", "meta", "arguments", "assistant_meta"]);

/** A row as SQLite returns it -> camelCase fields, JSON columns parsed, `is_error` as a boolean. */
function fromRow<T>(r: Raw): T {
  const out: Raw = {};
  for (const [key, value] of Object.entries(r)) {
    const name = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (JSON_COLUMNS.has(key)) out[name] = typeof value === "string" ? JSON.parse(value) : null;
    else if (key === "is_error") out[name] = value === 1;
    // Text with lone surrogates is kept as a UTF-16 blob (see `exactText` in the recorder).
    else if (value instanceof Uint8Array) out[name] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf16le");
    else out[name] = value;
  }
  return out as T;
}

/** A raw episodes row -> EpisodeRow (extra selected columns come along, camelCased). */
export const episodeRow = (r: Raw): EpisodeRow => fromRow<EpisodeRow>(r);
const messageRow = (r: Raw): MessageRow => fromRow<MessageRow>(r);
const callRow = (r: Raw): CallRow => fromRow<CallRow>(r);

/** Read access to a recording database; all SQL stays in this layer. */
export class Records {
  constructor(readonly db: Db) {}

  /** Opens a database read-only (it must exist and be at the current schema version). */
  static open(file: string): Records {
    return new Records(openDb(file, { readonly: true }));
  }

  listEpisodes(filter: EpisodeFilter = {}): EpisodePage {
    const where: string[] = [];
    const params: unknown[] = [];
    const kind = filter.kind ?? "episode";
    if (kind !== "all") (where.push("kind = ?"), params.push(kind));
    if (filter.envId !== undefined) (where.push("env_id = ?"), params.push(filter.envId));
    if (filter.taskId !== undefined) (where.push("task_id = ?"), params.push(filter.taskId));
    if (filter.clientName !== undefined) (where.push("client_name = ?"), params.push(filter.clientName));
    if (filter.since !== undefined) (where.push("started_at >= ?"), params.push(filter.since));
    if (filter.until !== undefined) (where.push("started_at < ?"), params.push(filter.until));
    if (filter.status !== undefined) {
      const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
      where.push(`status IN (${statuses.map(() => "?").join(", ") || "NULL"})`);
      params.push(...statuses);
    }
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const limit = Math.max(0, Math.min(filter.limit ?? 100, 10_000));
    const offset = Math.max(0, filter.offset ?? 0);
    const dir = filter.order === "oldest" ? "ASC" : "DESC";
    const total = this.db.prepare(`SELECT count(*) FROM episodes ${clause}`).pluck().get(...params) as number;
    const rows = this.db
      .prepare(`SELECT * FROM episodes ${clause} ORDER BY started_at ${dir}, id ${dir} LIMIT ? OFFSET ?`)
      .all(...params, limit, offset) as Raw[];
    return { episodes: rows.map(episodeRow), total, nextOffset: offset + rows.length < total ? offset + rows.length : null };
  }

  getEpisode(id: string): EpisodeRow | null {
    const row = this.db.prepare(`SELECT * FROM episodes WHERE id = ?`).get(id) as Raw | undefined;
    return row ? episodeRow(row) : null;
  }

  /** An episode with its calls and every message, in the order they were recorded. */
  getEpisodeDetail(id: string): EpisodeDetail | null {
    const episode = this.getEpisode(id);
    return episode ? { episode, calls: this.listCalls(id), messages: this.listMessages(id) } : null;
  }

  listCalls(episodeId: string): CallRow[] {
    return (this.db.prepare(`SELECT * FROM calls WHERE episode_id = ? ORDER BY seq`).all(episodeId) as Raw[]).map(callRow);
  }

  /** Messages of an episode (or, with null, those no session could be tied to), after a message id. */
  listMessages(episodeId: string | null, options: { afterId?: number; limit?: number } = {}): MessageRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM messages WHERE episode_id IS ? AND id > ? ORDER BY id LIMIT ?`)
      .all(episodeId, options.afterId ?? 0, options.limit ?? -1) as Raw[];
    return rows.map(messageRow);
  }

  counts(): RecordCounts {
    const one = (sql: string): number => this.db.prepare(sql).pluck().get() as number;
    const byStatus: Partial<Record<EpisodeStatus, number>> = {};
    for (const r of this.db.prepare(`SELECT status, count(*) AS n FROM episodes GROUP BY status`).all() as { status: EpisodeStatus; n: number }[]) {
      byStatus[r.status] = r.n;
    }
    return { episodes: one(`SELECT count(*) FROM episodes`), messages: one(`SELECT count(*) FROM messages`), calls: one(`SELECT count(*) FROM calls`), byStatus };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
