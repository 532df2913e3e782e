// What one sweep tick costs the store: `staleEpisodes` (limit 100) over 1,000 and 10,000 running shared episodes on SQLite and PostgreSQL, beside `runningOwners` (a scan of the running episodes) in the same run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoreBackend, WriteOp } from "../src/store/backend.ts";
import { openDb } from "../src/store/db.ts";
import { PostgresBackend } from "../src/store/postgres.ts";
import { SqliteBackend } from "../src/store/sqlite.ts";
import { startPostgres } from "../tests/helpers/postgres.ts";

const SIZES = [1_000, 10_000] as const;
const CALLS = 10;
const MESSAGES = 5;
const LIMIT = 100;

/** Episode i: started at i, its calls and messages at i + k; one in four ended, one in four held (leased until far ahead). */
function episode(i: number): WriteOp[] {
  const id = `e${String(i).padStart(6, "0")}`;
  return [
    {
      op: "begin", id, kind: "episode", envId: "env", envSha256: null, taskId: "t", transport: "http", sessionId: null, needed: 1,
      startedAt: i, owner: "bench", meta: null, leaseUntil: i % 4 === 1 ? 1e15 : 0,
    },
    ...Array.from({ length: CALLS }, (_, k): WriteOp => ({
      op: "call", episodeId: id, seq: k + 1, requestId: null, tool: "lookup", arguments: "{}", output: "x".repeat(200), isError: false,
      errorKind: null, solvedFtrl: null, solvedStrict: null, startedAt: i + k, latencyMs: 0.5, assistantMeta: null,
    })),
    ...Array.from({ length: MESSAGES }, (_, k): WriteOp => ({
      op: "message", episodeId: id, ts: i + k, direction: "in", type: "request", method: "tools/call", requestId: null, latencyMs: null, body: "{}",
    })),
    ...(i % 4 === 2 ? [{ op: "end", id, status: "closed", endedAt: i + 20, finalAnswer: null, finalMeta: null, score: null } as WriteOp] : []),
  ];
}

async function fill(store: StoreBackend, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 500) await store.commit(Array.from({ length: Math.min(500, to - i) }, (_, j) => episode(i + j)).flat());
}

/** Median milliseconds of seven runs (after two to warm up). */
async function medianMs(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[3]!;
}

const server = await startPostgres({ durable: true });
const dir = mkdtempSync(join(tmpdir(), "envforge-bench-sweep-"));
try {
  const stores: [string, StoreBackend][] = [
    ["sqlite", new SqliteBackend(openDb(join(dir, "sweep.db")), 5000)],
    ["postgres", await PostgresBackend.open(await server.createDatabase("sweep"))],
  ];
  console.log(`sweep: staleEpisodes(limit ${LIMIT}) vs runningOwners, ${CALLS} calls and ${MESSAGES} messages per episode (median ms of 7)`);
  let filled = 0;
  for (const size of SIZES) {
    for (const [, store] of stores) await fill(store, filled, size);
    filled = size;
    for (const [name, store] of stores) {
      // Every episode idle before the cutoff: the query computes the last activity of each unheld running one.
      const sweep = await medianMs(() => store.staleEpisodes(1e12, 1e12, LIMIT));
      const scan = await medianMs(() => store.runningOwners());
      console.log(`  ${name.padEnd(8)} ${String(size).padStart(6)} episodes: staleEpisodes ${sweep.toFixed(2).padStart(8)} ms   runningOwners ${scan.toFixed(2).padStart(8)} ms   ratio ${(sweep / scan).toFixed(1)}`);
    }
  }
  for (const [, store] of stores) await store.close();
} finally {
  await server.remove();
  rmSync(dir, { recursive: true, force: true });
}
