// The model side of episodes: each request and response the model proxy relayed, written when it starts and completed when it ends.
import type { Db } from "./db.ts";
import { now } from "./recorder.ts";

export interface ModelCallStart {
  episodeId: string;
  /** `chat` (chat completions), `responses`, `messages` (Anthropic), or `other`. */
  api: string;
  /** The path after `/e/<episode>`, e.g. `/v1/chat/completions`. */
  path: string;
  model: string | null;
  stream: boolean;
  /** The request body as sent (credentials are headers and never stored). */
  request: string;
}

export interface ModelCallRow extends ModelCallStart {
  id: number;
  status: number | null;
  startedAt: number;
  latencyMs: number | null;
  /** The upstream's body: JSON, or the server-sent event stream as received. */
  response: string | null;
  error: string | null;
}

/** Writes model calls; each write commits at once (the proxy's calls are seconds long, not hot). */
export class ModelCallLog {
  private readonly insert;
  private readonly update;

  constructor(readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO model_calls (episode_id, api, path, model, stream, started_at, request) VALUES (@episodeId, @api, @path, @model, @stream, @startedAt, @request)`,
    );
    this.update = db.prepare(`UPDATE model_calls SET status = ?, latency_ms = ?, response = ?, error = ? WHERE id = ?`);
  }

  /** Records the request; returns the row id to complete. */
  begin(start: ModelCallStart): { id: number; startedAt: number } {
    const startedAt = now();
    const r = this.insert.run({ ...start, stream: start.stream ? 1 : 0, startedAt });
    return { id: Number(r.lastInsertRowid), startedAt };
  }

  /** Completes a call with what the upstream answered (or why it failed). */
  finish(id: number, startedAt: number, end: { status: number | null; response: string | null; error?: string | null }): void {
    this.update.run(end.status, now() - startedAt, end.response, end.error ?? null, id);
  }
}

/** The model calls of one episode, in the order they were made. */
export function listModelCalls(db: Db, episodeId: string): ModelCallRow[] {
  const rows = db
    .prepare(
      `SELECT id, episode_id AS episodeId, api, path, model, stream, status, started_at AS startedAt, latency_ms AS latencyMs, request, response, error
       FROM model_calls WHERE episode_id = ? ORDER BY id`,
    )
    .all(episodeId) as (Omit<ModelCallRow, "stream"> & { stream: number })[];
  return rows.map((r) => ({ ...r, stream: r.stream === 1 }));
}
