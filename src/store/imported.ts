// Writes imported trajectories: every episode and call of one `envforge import` in a single transaction, so a failure leaves nothing behind.
import type { EpisodeScores } from "../schema/index.ts";
import type { Db } from "./db.ts";
import { now } from "./recorder.ts";

export interface ImportedCall {
  tool: string;
  arguments: Record<string, unknown>;
  output: string;
  isError: boolean;
  solvedFtrl: string | null;
  solvedStrict: string | null;
  startedAt: number;
  assistantMeta: unknown;
}

export interface ImportedEpisodeRecord {
  id: string;
  envId: string;
  envSha256: string | null;
  taskId: string;
  needed: number;
  status: "submitted" | "closed";
  startedAt: number;
  endedAt: number;
  finalAnswer: string | null;
  finalMeta: unknown;
  score: EpisodeScores;
  meta: Record<string, unknown>;
  calls: ImportedCall[];
}

export interface ImportBatch {
  id: string;
  format: string;
  source: string;
  sha256: string;
}

/** Ids among `ids` already in the database (an import never overwrites). */
export function existingEpisodeIds(db: Db, ids: readonly string[]): string[] {
  const stmt = db.prepare(`SELECT 1 FROM episodes WHERE id = ?`).pluck();
  return ids.filter((id) => stmt.get(id) !== undefined);
}

/** Stores the batch and its episodes in one transaction; throws (storing nothing) on any failure. */
export function storeImport(db: Db, batch: ImportBatch, episodes: readonly ImportedEpisodeRecord[]): void {
  const begin = db.prepare(
    `INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, status, started_at, ended_at, needed, call_count, solved_ftrl, solved_strict, final_answer, final_meta, score, meta)
     VALUES (@id, 'imported', @env_id, @env_sha256, @task_id, 'file', @status, @started_at, @ended_at, @needed, @call_count, @solved_ftrl, @solved_strict, @final_answer, @final_meta, @score, @meta)`,
  );
  const call = db.prepare(
    `INSERT INTO calls (episode_id, seq, request_id, tool, arguments, output, is_error, error_kind, solved_ftrl, solved_strict, started_at, latency_ms, assistant_meta)
     VALUES (?, ?, NULL, ?, ?, ?, ?, NULL, ?, ?, ?, 0, ?)`,
  );
  const log = db.prepare(`INSERT INTO imports (id, format, source, sha256, episodes, imported_at) VALUES (?, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    log.run(batch.id, batch.format, batch.source, batch.sha256, episodes.length, now());
    for (const e of episodes) {
      begin.run({
        id: e.id,
        env_id: e.envId,
        env_sha256: e.envSha256,
        task_id: e.taskId,
        status: e.status,
        started_at: e.startedAt,
        ended_at: e.endedAt,
        needed: e.needed,
        call_count: e.calls.length,
        solved_ftrl: e.calls.filter((c) => c.solvedFtrl !== null).length,
        solved_strict: e.calls.filter((c) => c.solvedStrict !== null).length,
        final_answer: e.finalAnswer,
        final_meta: JSON.stringify(e.finalMeta),
        score: JSON.stringify(e.score),
        meta: JSON.stringify({ ...e.meta, import: batch.id }),
      });
      e.calls.forEach((c, seq) =>
        call.run(e.id, seq + 1, c.tool, JSON.stringify(c.arguments), c.output, c.isError ? 1 : 0, c.solvedFtrl, c.solvedStrict, c.startedAt, JSON.stringify(c.assistantMeta)),
      );
    }
  }).immediate();
}
