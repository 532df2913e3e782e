// The PostgreSQL store backend against a real server: migrations, per-op commit results, leases and fencing, probing, exact text, and the SQLite snapshot.
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WriteOp } from "../../src/store/backend.ts";
import { DatabaseOpenError, openDb, type Db } from "../../src/store/db.ts";
import { StoreError } from "../../src/store/failure.ts";
import { PG_MIGRATIONS } from "../../src/store/migrations-pg.ts";
import { SCHEMA_VERSION } from "../../src/store/migrations.ts";
import { fromPgText, PostgresBackend, snapshotToSqlite, toPgText, withoutPassword } from "../../src/store/postgres.ts";
import { Records } from "../../src/store/reader.ts";
import { exactText } from "../../src/store/sqlite.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";

let server: TestPostgres;
let databases = 0;
/** A fresh database on the shared server, so no test sees another's rows. */
const freshDb = (): Promise<string> => server.createDatabase(`t${++databases}`);

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);

afterAll(async () => {
  await server?.remove();
});

const begin = (id: string, owner = "host:1:1", startedAt = 1000): WriteOp => ({
  op: "begin", id, kind: "episode", envId: "env", envSha256: "ab12", taskId: "t1", transport: "http",
  sessionId: null, needed: 2, startedAt, owner, meta: JSON.stringify({ seed: 7 }),
});
const call = (episodeId: string, seq: number, output = `out ${seq}`, extra: Partial<Extract<WriteOp, { op: "call" }>> = {}): WriteOp => ({
  op: "call", episodeId, seq, requestId: String(seq), tool: "lookup", arguments: JSON.stringify({ q: seq }), output, isError: false,
  errorKind: null, solvedFtrl: seq === 1 ? "a" : null, solvedStrict: null, startedAt: 1000 + seq, latencyMs: 0.5, assistantMeta: null, ...extra,
});
const message = (episodeId: string | null, body: string, ts = 1000): WriteOp => ({
  op: "message", episodeId, ts, direction: "in", type: "request", method: "tools/call", requestId: "1", latencyMs: null, body,
});
const end = (id: string, finalAnswer: string | null = "42"): WriteOp => ({
  op: "end", id, status: "submitted", endedAt: 2000, finalAnswer, finalMeta: null, score: JSON.stringify({ ftrl: { solve_f1: 1 } }),
});

async function withPg<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const columnsOf = (url: string): Promise<Record<string, string[]>> =>
  withPg(url, async (c) => {
    const { rows } = await c.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'envforge_schema' ORDER BY table_name, column_name`,
    );
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.table_name] ??= []).push(r.column_name);
    return out;
  });

const schemaVersion = (url: string): Promise<number> =>
  withPg(url, async (c) => (await c.query<{ version: number }>(`SELECT version FROM envforge_schema`)).rows[0]!.version);

describe("PostgresBackend: migrations", () => {
  it("migrates an empty database to the SQLite schema's tables and columns, plus the _utf16 twins", async () => {
    const url = await freshDb();
    const store = await PostgresBackend.open(url);
    await store.close();
    expect(PG_MIGRATIONS).toHaveLength(SCHEMA_VERSION);
    expect(await schemaVersion(url)).toBe(SCHEMA_VERSION);
    const sqlite = openDb(":memory:");
    const expected: Record<string, string[]> = {};
    for (const table of ["calls", "episodes", "imports", "messages", "model_calls"]) {
      const names = (sqlite.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
      const twins = { calls: ["output_utf16"], episodes: ["final_answer_utf16"], messages: ["body_utf16"] }[table] ?? [];
      expected[table] = [...names, ...twins].sort();
    }
    sqlite.close();
    expect(await columnsOf(url)).toEqual(expected);
  });

  it("re-opens an up-to-date database without migrating again and keeps its rows", async () => {
    const url = await freshDb();
    const first = await PostgresBackend.open(url);
    await first.commit([begin("e1")]);
    await first.close();
    const second = await PostgresBackend.open(url);
    expect(await second.episodeExists("e1")).toBe(true);
    await second.close();
    expect(await schemaVersion(url)).toBe(SCHEMA_VERSION);
  });

  it("lets several pools open a fresh database at once, migrating it once", async () => {
    const url = await freshDb();
    const stores = await Promise.all([PostgresBackend.open(url), PostgresBackend.open(url), PostgresBackend.open(url)]);
    await Promise.all(stores.map((s) => s.close()));
    expect(await schemaVersion(url)).toBe(SCHEMA_VERSION);
  });

  it("refuses a database written by a newer envforge, naming the URL without its password", async () => {
    const url = await freshDb();
    await (await PostgresBackend.open(url)).close();
    await withPg(url, (c) => c.query(`UPDATE envforge_schema SET version = 99`));
    const err = await PostgresBackend.open(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseOpenError);
    expect((err as Error).message).toContain("newer than this envforge understands");
    expect((err as Error).message).toContain(withoutPassword(url));
    expect((err as Error).message).not.toContain("envforge-test");
  });

  it("says clearly why it cannot connect, without the password", async () => {
    const url = server.url.replace("envforge-test", "wrong-secret");
    const err = await PostgresBackend.open(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseOpenError);
    expect((err as Error).message).toMatch(/^cannot open the database postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: .*password authentication failed/);
    expect((err as Error).message).not.toContain("wrong-secret");
  });
});

describe("withoutPassword", () => {
  it("removes the password from the userinfo and from the query", () => {
    expect(withoutPassword("postgres://u:s3cret@db.example:5432/envforge?sslmode=require&password=s3cret")).toBe(
      "postgres://u@db.example:5432/envforge?sslmode=require",
    );
    expect(withoutPassword("postgres://db.example/envforge")).toBe("postgres://db.example/envforge");
  });
});

describe("PostgresBackend: commit", () => {
  let url: string;
  let store: PostgresBackend;
  beforeAll(async () => {
    url = await freshDb();
    store = await PostgresBackend.open(url);
  });
  afterAll(async () => store?.close());

  it("applies every op in order and reports each, refusing a duplicate seq alone", async () => {
    const results = await store.commit([begin("c1"), message("c1", "{}"), call("c1", 1), call("c1", 1, "again"), call("c1", 2), end("c1"), end("c1")]);
    expect(results.map((r) => ("error" in r ? r.error.message : r.changed))).toEqual([
      true, true, true, "call 1 of episode c1: that call is already recorded", true, true, false,
    ]);
    const episode = await store.loadEpisode("c1");
    // The refused call neither stays nor counts.
    expect({ status: episode!.status, callCount: episode!.callCount }).toEqual({ status: "submitted", callCount: 2 });
    expect((await store.recordedCalls("c1")).map((c) => c.output)).toEqual(["out 1", "out 2"]);
  });

  it("rolls back a failing op alone when the database raises an error for it (duplicate id, NUL in a plain column)", async () => {
    const results = await store.commit([
      begin("c2"),
      begin("c2"),
      call("c2", 1, "kept", { requestId: "nul\u0000inside" }),
      call("c2", 2, "kept too"),
      message("c2", "after"),
      { op: "client", id: "c2", name: "agent", version: "1", protocol: null },
    ]);
    expect(results.map((r) => ("error" in r ? r.error.message.split(":")[0] : r.changed))).toEqual([
      true, "begin of episode c2", "call 1 of episode c2", true, true, true,
    ]);
    expect(((results[1] as { error: Error }).error.cause as { code: string }).code).toBe("23505");
    expect(await store.recordedCalls("c2")).toEqual([{ seq: 2, tool: "lookup", arguments: { q: 2 }, output: "kept too", isError: false, errorKind: null }]);
    expect((await store.loadEpisode("c2"))!.callCount).toBe(1);
  });

  it("gives each op of a mixed batch the result it would get alone (runs of messages and calls share a statement)", async () => {
    await store.commit([begin("m1"), begin("m2")]);
    expect(await store.lease("m2", "A", 0, 10)).toEqual({ owner: "A", until: 10, epoch: 1 });
    const ops: WriteOp[] = [
      message("m1", "first"), call("m1", 1), call("m2", 1, "fenced", { epoch: 0 }), message("m2", "second"), call("m2", 1, "current", { epoch: 1 }),
      call("ghost", 1), call("m1", 2), call("m1", 2, "repeat"), { ...message("m1", "third"), method: "nul\u0000method" } as WriteOp,
      { op: "client", id: "m1", name: "agent", version: null, protocol: null }, message("m1", "fourth"), call("m1", 3),
    ];
    const results = await store.commit(ops);
    expect(results.map((r) => ("error" in r ? r.error.message.replace(/:.*/s, "") : r.changed))).toEqual([
      true, true, "call 1 of episode m2", true, true, "call 1 of episode ghost", true, "call 2 of episode m1", "message of episode m1", true, true, true,
    ]);
    expect((await store.recordedCalls("m1")).map((c) => c.output)).toEqual(["out 1", "out 2", "out 3"]);
    expect((await store.recordedCalls("m2")).map((c) => c.output)).toEqual(["current"]);
    expect([(await store.loadEpisode("m1"))!.callCount, (await store.loadEpisode("m2"))!.callCount]).toEqual([3, 1]);
    const bodies = await withPg(url, async (c) => (await c.query<{ body: string }>(`SELECT body FROM messages WHERE episode_id IN ('m1', 'm2') ORDER BY id`)).rows);
    expect(bodies.map((r) => r.body)).toEqual(["first", "second", "fourth"]);
  });

  it("refuses a call for an episode that is not recorded", async () => {
    const [result] = await store.commit([call("nowhere", 1)]);
    expect((result as { error: Error }).error.message).toBe("call 1 of episode nowhere: the episode is not recorded");
  });

  it("returns the calls of an episode in seq order with their exact text", async () => {
    const odd = ["nul \u0000 byte", "lone \ud800 high", "lone \udc00 low", "pair \ud83d\ude00 ok", ""];
    await store.commit([begin("c3"), ...odd.map((output, i) => call("c3", odd.length - i, output, { isError: i === 0 }))]);
    const calls = await store.recordedCalls("c3");
    expect(calls.map((c) => [c.seq, c.output, c.isError])).toEqual(odd.map((output, i) => [odd.length - i, output, i === 0]).reverse());
  });
});

describe("PostgresBackend: leases, owners and interruption", () => {
  let url: string;
  let store: PostgresBackend;
  beforeAll(async () => {
    url = await freshDb();
    store = await PostgresBackend.open(url);
  });
  afterAll(async () => store?.close());

  it("grants a free, expired or own lease, refuses a live one, and grows the epoch with each new owner", async () => {
    await store.commit([begin("l1")]);
    expect(await store.lease("l1", "A", 1000, 2000)).toEqual({ owner: "A", until: 2000, epoch: 1 });
    expect(await store.lease("l1", "B", 1500, 2500)).toBeNull();
    expect(await store.lease("l1", "A", 1500, 3000)).toEqual({ owner: "A", until: 3000, epoch: 1 });
    expect(await store.lease("l1", "B", 3000.5, 4000)).toEqual({ owner: "B", until: 4000, epoch: 2 });
    expect((await store.loadEpisode("l1"))!.lease).toEqual({ owner: "B", until: 4000, epoch: 2 });

    // A, fenced at its old epoch, cannot record a call; B can.
    const [fenced, current] = await store.commit([call("l1", 1, "from A", { epoch: 1 }), call("l1", 2, "from B", { epoch: 2 })]);
    expect((fenced as { error: Error }).error.message).toBe(
      "call 1 of episode l1: the episode's lease is at epoch 2, not 1; another process took it over",
    );
    expect(current).toEqual({ changed: true });
    expect((await store.recordedCalls("l1")).map((c) => c.output)).toEqual(["from B"]);

    await store.release("l1", "A");
    expect((await store.loadEpisode("l1"))!.lease?.owner).toBe("B");
    // Released between calls: expired but still B's, so B takes it back at the same epoch and anyone else at the next.
    await store.release("l1", "B");
    expect((await store.loadEpisode("l1"))!.lease).toEqual({ owner: "B", until: 0, epoch: 2 });
    expect(await store.lease("l1", "B", 3200, 3400)).toEqual({ owner: "B", until: 3400, epoch: 2 });
    await store.release("l1", "B");
    expect(await store.lease("l1", "A", 3500, 5000)).toEqual({ owner: "A", until: 5000, epoch: 3 });
  });

  it("grants a contested lease to exactly one of two processes", async () => {
    const other = await PostgresBackend.open(url);
    try {
      await store.commit([begin("race")]);
      const granted = await Promise.all([store.lease("race", "A", 1000, 2000), other.lease("race", "B", 1000, 2000)]);
      expect(granted.filter((g) => g !== null)).toHaveLength(1);
      expect((await store.loadEpisode("race"))!.lease).toEqual({ ...granted.find((g) => g !== null), epoch: 1 });
    } finally {
      await other.close();
    }
  });

  it("commits calls of the same episodes from two processes at once, in opposite orders, without losing any", async () => {
    const other = await PostgresBackend.open(url);
    try {
      const ids = ["x1", "x2", "x3", "x4"];
      await store.commit(ids.map((id) => begin(id)));
      const batch = (order: string[], from: number): WriteOp[] => order.flatMap((id) => [call(id, from), call(id, from + 1)]);
      const rounds = Array.from({ length: 10 }, (_, r) => [store.commit(batch(ids, r * 4 + 1)), other.commit(batch([...ids].reverse(), r * 4 + 3))]);
      const results = (await Promise.all(rounds.flat())).flat();
      expect(results.every((r) => "changed" in r && r.changed)).toBe(true);
      for (const id of ids) expect((await store.loadEpisode(id))!.callCount).toBe(40);
    } finally {
      await other.close();
    }
  });

  it("keeps queries waiting in line for a busy pool, however long, rather than failing them as a store that cannot be reached", async () => {
    // One connection, and a connect timeout far below how long it stays busy.
    const busy = await PostgresBackend.open(url, { poolSize: 1, connectTimeoutMs: 50 });
    try {
      await busy.commit([begin("crowd")]);
      await withPg(url, async (locker) => {
        await locker.query("BEGIN");
        await locker.query(`SELECT 1 FROM episodes WHERE id = 'crowd' FOR UPDATE`);
        // The lease waits for the row lock on the only connection; every other query waits for that connection.
        const lease = busy.lease("crowd", "A", 1000, 2000);
        const reads = Array.from({ length: 8 }, () => busy.loadEpisode("crowd"));
        const waiting = async () => (await locker.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE episodes%'`)).rows[0].n as number;
        while ((await waiting()) === 0) await new Promise((r) => setTimeout(r, 10));
        // Well past the connect timeout: a query still in line then would have failed before.
        await new Promise((r) => setTimeout(r, 300));
        await locker.query("COMMIT");
        expect(await lease).toEqual({ owner: "A", until: 2000, epoch: 1 });
        expect((await Promise.all(reads)).map((e) => e?.lease?.owner)).toEqual(Array(8).fill("A"));
      });
    } finally {
      await busy.close();
    }
  });

  it("grants no lease on an ended or unknown episode", async () => {
    await store.commit([begin("l2"), end("l2")]);
    expect(await store.lease("l2", "A", 1000, 2000)).toBeNull();
    expect(await store.lease("nowhere", "A", 1000, 2000)).toBeNull();
  });

  it("lists the owners of running episodes and interrupts one owner's", async () => {
    // o5 is leased: another process may take it over, so it is not interrupted.
    await store.commit([begin("o1", "X"), begin("o2", "X"), begin("o3", "Y"), begin("o4", "Z"), end("o4"), { ...begin("o5", "X"), leaseUntil: 0 } as WriteOp]);
    expect((await store.runningOwners()).filter((o) => o !== "host:1:1").sort()).toEqual(["X", "Y"]);
    expect(await store.interrupt("X", 5000)).toBe(2);
    expect(await store.interrupt(null, 5000)).toBe(0);
    expect((await store.runningOwners()).filter((o) => o !== "host:1:1").sort()).toEqual(["X", "Y"]);
    expect((await store.loadEpisode("o5"))!.status).toBe("running");
    expect((await store.loadEpisode("o1"))!.status).toBe("interrupted");
    expect(await store.episodeExists("o1")).toBe(true);
    expect(await store.episodeExists("o9")).toBe(false);
  });

  it("loads what a takeover needs", async () => {
    await store.commit([begin("t1"), call("t1", 1)]);
    expect(await store.loadEpisode("t1")).toEqual({
      id: "t1", kind: "episode", envId: "env", envSha256: "ab12", taskId: "t1", transport: "http", sessionId: null,
      status: "running", needed: 2, callCount: 1, meta: { seed: 7 }, score: null, lease: null,
    });
    expect(await store.loadEpisode("t9")).toBeNull();
  });
});

describe("PostgresBackend: a server going away or a lock held", () => {
  it("fails probe and commit with an error naming the URL while the server is down, and works again after a restart", async () => {
    const url = await freshDb();
    const store = await PostgresBackend.open(url, { connectTimeoutMs: 2000 });
    try {
      await store.probe();
      await server.stop();
      try {
        const probe = await store.probe().catch((e: unknown) => e);
        expect(probe).toBeInstanceOf(StoreError);
        expect((probe as StoreError).message).toContain(`cannot write to ${withoutPassword(url)}: `);
        expect((probe as StoreError).message).not.toContain("envforge-test");
        await expect(store.commit([begin("down")])).rejects.toBeInstanceOf(StoreError);
      } finally {
        await server.start();
      }
      await store.probe();
      expect(await store.commit([begin("up")])).toEqual([{ changed: true }]);
      expect(await store.episodeExists("down")).toBe(false);
    } finally {
      await store.close();
    }
  });

  it("fails a commit that waits longer than the lock timeout for another transaction's row, and commits once it is gone", async () => {
    const url = await freshDb();
    const store = await PostgresBackend.open(url, { lockTimeoutMs: 50 });
    try {
      await store.commit([begin("held")]);
      await withPg(url, async (c) => {
        await c.query("BEGIN");
        await c.query("SELECT 1 FROM episodes WHERE id = 'held' FOR UPDATE");
        const err = await store.commit([call("held", 1)]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).reason).toMatch(/lock timeout/);
        await c.query("ROLLBACK");
      });
      expect(await store.commit([call("held", 1)])).toEqual([{ changed: true }]);
    } finally {
      await store.close();
    }
  });

  it("fails probe at once when another transaction holds the schema row's lock", async () => {
    const url = await freshDb();
    const store = await PostgresBackend.open(url, { probeLockTimeoutMs: 50 });
    try {
      await withPg(url, async (c) => {
        await c.query("BEGIN");
        await c.query("UPDATE envforge_schema SET version = version");
        await expect(store.probe()).rejects.toThrow(/lock timeout/);
        await c.query("ROLLBACK");
      });
      await store.probe();
    } finally {
      await store.close();
    }
  });
});

/** The reference: the same ops written to SQLite the way the SQLite recorder writes them. */
function applyToSqlite(db: Db, ops: readonly WriteOp[]): void {
  const run = (sql: string, params: unknown[]) => db.prepare(sql).run(params);
  for (const op of ops) {
    if (op.op === "begin") {
      run(`INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, session_id, needed, started_at, owner, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [op.id, op.kind, op.envId, op.envSha256, op.taskId, op.transport, op.sessionId, op.needed, op.startedAt, op.owner, op.meta]);
    } else if (op.op === "message") {
      run(`INSERT INTO messages (episode_id, ts, direction, type, method, request_id, latency_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [op.episodeId, op.ts, op.direction, op.type, op.method, op.requestId, op.latencyMs, exactText(op.body)]);
    } else if (op.op === "call") {
      run(`INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [op.episodeId, op.seq, op.requestId, op.tool, op.arguments, exactText(op.output),
        op.isError ? 1 : 0, op.errorKind, op.solvedFtrl, op.solvedStrict, op.startedAt, op.latencyMs, op.assistantMeta]);
      run(`UPDATE episodes SET call_count = call_count + 1, solved_ftrl = solved_ftrl + ?, solved_strict = solved_strict + ? WHERE id = ?`,
        [op.solvedFtrl === null ? 0 : 1, op.solvedStrict === null ? 0 : 1, op.episodeId]);
    } else if (op.op === "client") {
      run(`UPDATE episodes SET client_name = coalesce(?, client_name), client_version = coalesce(?, client_version), protocol_version = coalesce(?, protocol_version) WHERE id = ?`,
        [op.name, op.version, op.protocol, op.id]);
    } else {
      run(`UPDATE episodes SET status = ?, ended_at = ?, final_answer = ?, final_meta = ?, score = ? WHERE id = ? AND status = 'running'`,
        [op.status, op.endedAt, op.finalAnswer === null ? null : exactText(op.finalAnswer), op.finalMeta, op.score, op.id]);
    }
  }
}

const dump = (db: Db): Record<string, unknown[]> =>
  Object.fromEntries(
    ["episodes ORDER BY id", "messages ORDER BY id", "calls ORDER BY episode_id, seq", "imports ORDER BY id", "model_calls ORDER BY id"].map((t) => [
      t.split(" ")[0],
      db.prepare(`SELECT * FROM ${t}`).all(),
    ]),
  );

describe("snapshotToSqlite", () => {
  it("copies every row, in more than one chunk, exactly as a SQLite store fed the same ops holds it", async () => {
    const url = await freshDb();
    const store = await PostgresBackend.open(url);
    const texts = ["plain", "nul \u0000", "lone \ud800", "emoji \ud83d\ude00", "tab\tnewline\n"];
    const ops: WriteOp[] = [message(null, "not an episode's")];
    for (let e = 0; e < 30; e++) {
      const id = `s${String(e).padStart(2, "0")}`;
      ops.push(begin(id, `owner${e % 3}`, 1000 + e), { op: "client", id, name: "agent", version: null, protocol: "2025-06-18" });
      for (let seq = 1; seq <= 40; seq++) {
        const text = texts[(e + seq) % texts.length]!;
        ops.push(message(id, `{"q":${seq}} ${text}`, 1000 + seq), call(id, seq, text, { isError: seq % 7 === 0, assistantMeta: JSON.stringify({ turn: seq }) }));
      }
      if (e % 2 === 0) ops.push(end(id, texts[e % texts.length]!));
    }
    for (let i = 0; i < ops.length; i += 256) await store.commit(ops.slice(i, i + 256));
    await store.lease("s01", "A", 0, 9999);
    await store.close();
    await withPg(url, async (c) => {
      await c.query(`INSERT INTO imports VALUES ('imp1', 'jsonl', 'file.jsonl', 'ff', 0, 1234.5)`);
      await c.query(`INSERT INTO model_calls (episode_id, api, path, model, stream, status, started_at, latency_ms, request, response, error)
                     VALUES ('s00', 'chat', '/v1/chat/completions', 'm', true, 200, 1000.25, 12.5, '{}', 'data: x', NULL)`);
    });

    const expected = openDb(":memory:");
    applyToSqlite(expected, ops);
    expected.prepare(`UPDATE episodes SET lease_owner = 'A', lease_until = 9999, lease_epoch = 1 WHERE id = 's01'`).run();
    expected.prepare(`INSERT INTO imports VALUES ('imp1', 'jsonl', 'file.jsonl', 'ff', 0, 1234.5)`).run();
    expected.prepare(`INSERT INTO model_calls (episode_id, api, path, model, stream, status, started_at, latency_ms, request, response, error)
                      VALUES ('s00', 'chat', '/v1/chat/completions', 'm', 1, 200, 1000.25, 12.5, '{}', 'data: x', NULL)`).run();

    const snapshot = await snapshotToSqlite(url);
    try {
      expect(dump(snapshot).calls).toHaveLength(1200);
      expect(dump(snapshot)).toEqual(dump(expected));
      const [got, want] = [new Records(snapshot), new Records(expected)];
      expect(got.counts()).toEqual(want.counts());
      expect(got.getEpisodeDetail("s03")).toEqual(want.getEpisodeDetail("s03"));
      expect(got.getEpisodeDetail("s03")!.calls.map((c) => c.output)).toEqual(
        Array.from({ length: 40 }, (_, i) => texts[(3 + i + 1) % texts.length]),
      );
    } finally {
      snapshot.close();
      expected.close();
    }
  });

  it("refuses a database that was never migrated, naming the URL", async () => {
    const url = await freshDb();
    await expect(snapshotToSqlite(url)).rejects.toThrow(`cannot open the database ${withoutPassword(url)}: schema version 0, expected ${SCHEMA_VERSION}`);
  });
});

/** Any UTF-16 code units, weighted towards NUL, lone surrogates and pairs. */
const anyText = fc.string({
  unit: fc.oneof(fc.constantFrom("\u0000", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d\ude00", "a", "\uFFFD"), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))),
  maxLength: 40,
});

describe("exact text", () => {
  it("round-trips any string through the text and its UTF-16 twin", () => {
    fc.assert(fc.property(anyText, (s) => {
      const [text, utf16] = toPgText(s);
      expect(text.includes("\u0000")).toBe(false);
      expect(fromPgText(text, utf16)).toBe(s);
    }), { numRuns: 2000 });
  });

  it("stores any string as a call's output, a message's body and a final answer, and reads it back identical", async () => {
    const url = await freshDb();
    const store = await PostgresBackend.open(url);
    let n = 0;
    try {
      await fc.assert(fc.asyncProperty(anyText, anyText, anyText, async (output, body, answer) => {
        const id = `p${++n}`;
        const results = await store.commit([begin(id), message(id, body), call(id, 1, output), end(id, answer)]);
        expect(results).toEqual([{ changed: true }, { changed: true }, { changed: true }, { changed: true }]);
        expect((await store.recordedCalls(id))[0]!.output).toBe(output);
        const snapshot = await snapshotToSqlite(url);
        try {
          const detail = new Records(snapshot).getEpisodeDetail(id)!;
          expect(detail.calls[0]!.output).toBe(output);
          expect(detail.messages[0]!.body).toBe(body);
          expect(detail.episode.finalAnswer).toBe(answer);
        } finally {
          snapshot.close();
        }
      }), { numRuns: 40 });
    } finally {
      await store.close();
    }
  });
});
