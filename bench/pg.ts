// The PostgreSQL store's write cost: commits/s and ops/s of PostgresBackend for batches of 1, 16 and 256 calls, beside a plain better-sqlite3 insert loop in the same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WriteOp } from "../src/store/backend.ts";
import { openDb, type Db } from "../src/store/db.ts";
import { PostgresBackend, snapshotToSqlite } from "../src/store/postgres.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";

const BATCHES = [1, 16, 256] as const;
const EPISODES = 64;
const OUTPUT = "x".repeat(200);

/** Fresh ops each time (seqs only grow), spread over the episodes as concurrent sessions' calls would be. */
function calls(prefix = "e"): (n: number) => WriteOp[] {
  const seqs = new Array<number>(EPISODES).fill(0);
  let next = 0;
  return (n) =>
    Array.from({ length: n }, (): WriteOp => {
      const e = next++ % EPISODES;
      const seq = ++seqs[e]!;
      return {
        op: "call", episodeId: `${prefix}${e}`, seq, requestId: String(seq), tool: "lookup", arguments: `{"q":${seq}}`, output: OUTPUT, isError: false,
        errorKind: null, solvedFtrl: null, solvedStrict: null, startedAt: 1000 + seq, latencyMs: 0.5, assistantMeta: null,
      };
    });
}

const begins = (prefix = "e"): WriteOp[] =>
  Array.from({ length: EPISODES }, (_, e): WriteOp => ({
    op: "begin", id: `${prefix}${e}`, kind: "episode", envId: "env", envSha256: null, taskId: "t", transport: "http", sessionId: null,
    needed: 1, startedAt: 1000, owner: "bench", meta: null,
  }));

/** Median commits/s of three ~500 ms rounds of `commit(batch)` (after a warm-up). */
async function commitsPerSecond(commit: (batch: number) => Promise<void> | void, batch: number): Promise<number> {
  for (let i = 0; i < 5; i++) await commit(batch);
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    let commits = 0;
    const start = performance.now();
    while (performance.now() - start < 500) {
      await commit(batch);
      commits++;
    }
    rates.push(commits / ((performance.now() - start) / 1000));
  }
  return rates.sort((a, b) => a - b)[1]!;
}

/** The baseline: the same rows (a call and its counters' update) inserted by a prepared-statement loop in one transaction. */
function sqliteCommitter(db: Db): (batch: number) => void {
  const insert = db.prepare(`INSERT INTO calls (episode_id, seq, request_id, tool, arguments, output, is_error, error_kind, solved_ftrl, solved_strict,
    started_at, latency_ms, assistant_meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const bump = db.prepare(`UPDATE episodes SET call_count = call_count + 1 WHERE id = ?`);
  const begin = db.prepare(`INSERT INTO episodes (id, kind, transport, started_at, owner) VALUES (?, 'episode', 'http', 1000, 'bench')`);
  for (const op of begins()) if (op.op === "begin") begin.run(op.id);
  const next = calls();
  const commit = db.transaction((ops: WriteOp[]) => {
    for (const c of ops) {
      if (c.op !== "call") continue;
      insert.run(c.episodeId, c.seq, c.requestId, c.tool, c.arguments, c.output, 0, null, null, null, c.startedAt, c.latencyMs, null);
      bump.run(c.episodeId);
    }
  });
  return (batch) => commit(next(batch));
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(9);

const server = await startPostgres({ durable: true });
const dir = mkdtempSync(join(tmpdir(), "envforge-bench-pg-"));
try {
  const results: Record<string, number[]> = {};
  for (const synchronous of ["normal", "full"] as const) {
    const db = openDb(join(dir, `${synchronous}.db`), { synchronous });
    const commit = sqliteCommitter(db);
    results[`sqlite ${synchronous}`] = [];
    for (const batch of BATCHES) results[`sqlite ${synchronous}`]!.push(await commitsPerSecond(commit, batch));
    db.close();
  }
  const url = await server.createDatabase("bench");
  const store = await PostgresBackend.open(url);
  await store.commit(begins());
  const next = calls();
  results["postgres"] = [];
  for (const batch of BATCHES) {
    results["postgres"].push(await commitsPerSecond(async () => void (await store.commit(next(batch))), batch));
  }
  // Four commits in flight at once over their own episodes, as replicas holding different episodes commit side by side.
  const committers = ["a", "b", "c", "d"];
  for (const prefix of committers) await store.commit(begins(prefix));
  const nexts = committers.map((prefix) => calls(prefix));
  results["postgres, 4 committers at once"] = [];
  for (const batch of BATCHES) {
    const rate = await commitsPerSecond(async () => void (await Promise.all(nexts.map((n) => store.commit(n(batch))))), batch);
    results["postgres, 4 committers at once"].push(rate * 4);
  }
  await store.close();
  const start = performance.now();
  const snapshot = await snapshotToSqlite(url);
  const copied = snapshot.prepare(`SELECT (SELECT count(*) FROM calls) + (SELECT count(*) FROM episodes)`).pluck().get() as number;
  const snapshotMs = performance.now() - start;
  snapshot.close();

  console.log(`pg: store commits of call ops (200-byte outputs over ${EPISODES} episodes); PostgreSQL 18 with fsync on, on loopback`);
  console.log(`  embedded server initdb + start: ${(server.startupMs / 1000).toFixed(1)} s`);
  console.log(`  ${"store".padEnd(32)} ${"batch".padStart(5)} ${"commits/s".padStart(9)} ${"ops/s".padStart(9)}  vs sqlite normal`);
  for (const [label, rates] of Object.entries(results)) {
    rates.forEach((rate, i) => {
      const ratio = label === "sqlite normal" ? "" : `${(rate / results["sqlite normal"]![i]!).toFixed(2).padStart(7)}x`;
      console.log(`  ${label.padEnd(32)} ${String(BATCHES[i]).padStart(5)} ${fmt(rate)} ${fmt(rate * BATCHES[i]!)}  ${ratio}`);
    });
  }
  console.log(`  snapshot to in-memory SQLite: ${copied.toLocaleString("en-US")} rows in ${snapshotMs.toFixed(0)} ms (${fmt(copied / (snapshotMs / 1000)).trim()} rows/s)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await server.remove();
}
