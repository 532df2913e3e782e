// The store's query for abandoned shared episodes, and the lease taken only while an episode is idle: one model, the same answers from SQLite and PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoreBackend, WriteOp } from "../../src/store/backend.ts";
import { openDb } from "../../src/store/db.ts";
import { PostgresBackend } from "../../src/store/postgres.ts";
import { SqliteBackend } from "../../src/store/sqlite.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";

let server: TestPostgres;
let dir: string;
let url: string;
const stores: { name: string; store: StoreBackend; clear: () => Promise<void> }[] = [];

beforeAll(async () => {
  server = await startPostgres();
  // A collation that is not byte order (ICU en-US sorts "a" before "B"): the store must still page in byte order, as SQLite does.
  await withClient(server.url, (c) => c.query(`CREATE DATABASE stale TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`));
  url = Object.assign(new URL(server.url), { pathname: "/stale" }).toString();
  dir = mkdtempSync(join(tmpdir(), "envforge-stale-"));
  const sqlite = new SqliteBackend(openDb(join(dir, "stale.db")), 5000);
  const postgres = await PostgresBackend.open(url);
  const tables = ["messages", "calls", "episodes"];
  stores.push(
    { name: "sqlite", store: sqlite, clear: async () => void sqlite.db.exec(tables.map((t) => `DELETE FROM ${t};`).join("")) },
    {
      name: "postgres",
      store: postgres,
      clear: () => withClient(url, (c) => c.query(`TRUNCATE ${tables.join(", ")}`)).then(() => undefined),
    },
  );
}, 120_000);

async function withClient<T>(connectionString: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  for (const { store } of stores) await store.close();
  await server?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One episode as the model sees it: when it started, whether and how it is leased, and when its calls and messages happened. */
interface Row {
  startedAt: number;
  /** Null: bound to its connection (lease epoch 0); else leased at epoch 1 until then. */
  leaseUntil: number | null;
  ended: boolean;
  calls: { startedAt: number; latencyMs: number }[];
  messages: number[];
}

const time = fc.integer({ min: 0, max: 16 });
const row: fc.Arbitrary<Row> = fc.record({
  startedAt: time,
  leaseUntil: fc.option(time, { nil: null }),
  ended: fc.boolean(),
  calls: fc.array(fc.record({ startedAt: time, latencyMs: fc.constantFrom(0, 0.5, 3) }), { maxLength: 3 }),
  messages: fc.array(time, { maxLength: 3 }),
});

function opsOf(rows: [string, Row][]): WriteOp[] {
  return rows.flatMap(([id, r]): WriteOp[] => {
    return [
      {
        op: "begin", id, kind: "episode", envId: "env", envSha256: null, taskId: "t", transport: "http", sessionId: null, needed: 1,
        startedAt: r.startedAt, owner: "host:1:1", meta: null, ...(r.leaseUntil !== null ? { leaseUntil: r.leaseUntil } : {}),
      },
      ...r.calls.map((c, j): WriteOp => ({
        op: "call", episodeId: id, seq: j + 1, requestId: null, tool: "add", arguments: "{}", output: "{}", isError: false, errorKind: null,
        solvedFtrl: null, solvedStrict: null, startedAt: c.startedAt, latencyMs: c.latencyMs, assistantMeta: null,
      })),
      ...r.messages.map((ts): WriteOp => ({ op: "message", episodeId: id, ts, direction: "in", type: "request", method: "tools/call", requestId: null, latencyMs: null, body: "{}" })),
      ...(r.ended ? [{ op: "end", id, status: "closed", endedAt: 50, finalAnswer: null, finalMeta: null, score: null } as WriteOp] : []),
    ];
  });
}

/** The last activity the store is specified to use: the latest of the start, the end of the last call (by seq) and the last message. */
const activity = (r: Row): number => Math.max(r.startedAt, ...r.calls.slice(-1).map((c) => c.startedAt + c.latencyMs), ...r.messages.slice(-1));

/** Ids as the stores order them: by UTF-8 bytes, which for these (ASCII) is by UTF-16 code units too. */
const ID = fc.constantFrom("a", "B", "b-1", "b_1", "b.1", "b1", "b10", "b9", "Z:0", "z");

function expected(rows: [string, Row][], before: number, now: number, limit: number, after: string | undefined): string[] {
  return rows
    .filter(([id, r]) => !r.ended && r.leaseUntil !== null && r.leaseUntil < now && activity(r) < before && (after === undefined || id > after))
    .map(([id]) => id)
    .sort()
    .slice(0, limit);
}

describe("stale shared episodes", () => {
  it("lists the running leased episodes nobody holds and nobody used since the cutoff, in id order past a cursor, on both backends alike", async () => {
    const rows = fc.uniqueArray(fc.tuple(ID, row), { maxLength: 8, selector: ([id]) => id });
    await fc.assert(
      fc.asyncProperty(rows, time, time, fc.integer({ min: 0, max: 6 }), fc.option(ID, { nil: undefined }), async (rows, before, now, limit, after) => {
        const want = expected(rows, before, now, limit, after);
        for (const { name, store, clear } of stores) {
          await clear();
          const results = await store.commit(opsOf(rows));
          expect(results.filter((r) => "error" in r), name).toEqual([]);
          expect(await store.staleEpisodes(before, now, limit, after), name).toEqual(want);
        }
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it("grants a lease asked for with idleBefore only while the episode is idle, so a use after the cutoff keeps it", async () => {
    for (const { name, store, clear } of stores) {
      await clear();
      const rows: [string, Row][] = [
        ["e0", { startedAt: 10, leaseUntil: 0, ended: false, calls: [{ startedAt: 12, latencyMs: 0.5 }], messages: [] }],
        ["e1", { startedAt: 10, leaseUntil: 0, ended: false, calls: [], messages: [20] }],
        ["e2", { startedAt: 25, leaseUntil: 0, ended: false, calls: [], messages: [] }],
      ];
      await store.commit(opsOf(rows));
      // Cutoff 15: e0 was last used at 12.5; e1 got a message at 20 and e2 started at 25.
      expect(await store.lease("e0", "B", 30, 100, 15), name).toEqual({ owner: "B", until: 100, epoch: 2 });
      expect(await store.lease("e1", "B", 30, 100, 15), name).toBeNull();
      expect(await store.lease("e2", "B", 30, 100, 15), name).toBeNull();
      // Without idleBefore, the ordinary lease rules alone.
      expect(await store.lease("e1", "B", 30, 100), name).toEqual({ owner: "B", until: 100, epoch: 2 });
      // Held now: listed by neither query nor leased to a sweeper.
      expect(await store.staleEpisodes(1000, 40, 10), name).toEqual(["e2"]);
      expect(await store.lease("e0", "C", 40, 200, 1000), name).toBeNull();
    }
  });
});
