// The recorder on real SQLite files: migrations, episode lifecycle, readers, and crash recovery.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDb, Recorder, Records, SCHEMA_VERSION } from "../../src/store/index.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "envforge-record-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Schema version 1 exactly as released; frozen here so that later migrations are tested against it. */
const V1 = `
  CREATE TABLE episodes (id TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'episode', env_id TEXT, env_sha256 TEXT, task_id TEXT,
    transport TEXT NOT NULL, session_id TEXT, client_name TEXT, client_version TEXT, protocol_version TEXT,
    status TEXT NOT NULL DEFAULT 'running', started_at REAL NOT NULL, ended_at REAL, needed INTEGER,
    call_count INTEGER NOT NULL DEFAULT 0, solved_ftrl INTEGER NOT NULL DEFAULT 0, solved_strict INTEGER NOT NULL DEFAULT 0,
    final_answer TEXT, final_meta TEXT, score TEXT, owner TEXT, meta TEXT);
  CREATE INDEX episodes_env_task ON episodes (env_id, task_id);
  CREATE INDEX episodes_status ON episodes (status);
  CREATE INDEX episodes_started ON episodes (started_at);
  CREATE TABLE messages (id INTEGER PRIMARY KEY, episode_id TEXT REFERENCES episodes (id), ts REAL NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    type TEXT NOT NULL CHECK (type IN ('request', 'notification', 'response', 'error', 'invalid')),
    method TEXT, request_id TEXT, latency_ms REAL, body TEXT NOT NULL);
  CREATE INDEX messages_episode ON messages (episode_id, id);
  CREATE TABLE calls (episode_id TEXT NOT NULL REFERENCES episodes (id), seq INTEGER NOT NULL, request_id TEXT, tool TEXT NOT NULL,
    arguments TEXT NOT NULL, output TEXT NOT NULL, is_error INTEGER NOT NULL, error_kind TEXT, solved_ftrl TEXT, solved_strict TEXT,
    started_at REAL NOT NULL, latency_ms REAL NOT NULL, assistant_meta TEXT, PRIMARY KEY (episode_id, seq)) WITHOUT ROWID;
`;

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("schema and migrations", () => {
  it("opens a version-1 database written by the first release and keeps its rows", async () => {
    const file = join(dir, "v1.db");
    const old = new Database(file);
    old.exec(V1);
    old.pragma("user_version = 1");
    old.prepare(`INSERT INTO episodes (id, env_id, task_id, transport, status, started_at, call_count) VALUES ('old-1', 'e', 't', 'stdio', 'submitted', 1000, 2)`).run();
    old.prepare(`INSERT INTO calls VALUES ('old-1', 1, '3', 'get_film', '{"title":"X"}', 'out', 0, NULL, 'X', NULL, 1000, 1.5, NULL)`).run();
    old.close();

    const recorder = Recorder.open(file);
    expect(recorder.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const records = new Records(recorder.db);
    const detail = records.getEpisodeDetail("old-1");
    expect(detail?.episode).toMatchObject({ envId: "e", taskId: "t", status: "submitted", callCount: 2 });
    expect(detail?.calls).toEqual([expect.objectContaining({ tool: "get_film", arguments: { title: "X" }, solvedFtrl: "X", solvedStrict: null })]);
    await recorder.close();
  });

  it("creates an empty database at the current version, and refuses one from a newer envforge", () => {
    const file = join(dir, "new.db");
    openDb(file).close();
    const db = new Database(file);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openDb(file)).toThrow(/newer than this envforge understands/);
  });
});

describe("recorder", () => {
  it("records an episode's calls and messages and ends it once", async () => {
    const recorder = Recorder.open(join(dir, "r.db"));
    void recorder.beginEpisode({ id: "ep", envId: "env", taskId: "task", transport: "http", needed: 2, meta: { seed: 7 } });
    void recorder.setClient("ep", { name: "probe", version: "1.2.3" });
    void recorder.queueMessage({ episodeId: "ep", direction: "in", type: "request", method: "tools/call", requestId: "1", body: "{}" });
    void recorder.recordCall({
      episodeId: "ep", seq: 1, requestId: "1", tool: "get_film", arguments: { title: "A" }, output: "Elena", isError: false,
      errorKind: null, solvedFtrl: "Elena", solvedStrict: "Elena", startedAt: 1, latencyMs: 0.5, assistantMeta: { content: "thinking" },
    });
    void recorder.recordCall({
      episodeId: "ep", seq: 2, requestId: "2", tool: "get_person", arguments: {}, output: "an error occured when call get_person: bad", isError: true,
      errorKind: "invalid_arguments", solvedFtrl: null, solvedStrict: null, startedAt: 2, latencyMs: 0.1, assistantMeta: undefined,
    });
    expect(await recorder.endEpisode("ep", { status: "submitted", finalAnswer: "1961" })).toBe(true);
    expect(await recorder.endEpisode("ep", { status: "idle_timeout" })).toBe(false);

    const records = new Records(recorder.db);
    const detail = records.getEpisodeDetail("ep")!;
    expect(detail.episode).toMatchObject({
      status: "submitted", finalAnswer: "1961", clientName: "probe", clientVersion: "1.2.3", callCount: 2, solvedFtrl: 1, solvedStrict: 1, needed: 2, meta: { seed: 7 },
    });
    expect(detail.episode.endedAt).toBeGreaterThanOrEqual(detail.episode.startedAt);
    expect(detail.calls.map((c) => [c.seq, c.isError, c.errorKind, c.assistantMeta])).toEqual([
      [1, false, null, { content: "thinking" }],
      [2, true, "invalid_arguments", null],
    ]);
    expect(detail.messages).toHaveLength(1);
    await recorder.close();
  });

  it("commits what was queued in one turn together, a waited-for message with everything queued before it", async () => {
    const file = join(dir, "r.db");
    const recorder = Recorder.open(file);
    const other = Records.open(file);
    const seen = () => other.listMessages("g").map((m) => `${m.direction}:${m.requestId}`);
    void recorder.beginEpisode({ id: "g", transport: "memory" });
    void recorder.queueMessage({ episodeId: "g", direction: "in", type: "request", method: "ping", requestId: "1", body: "{}" });
    expect(seen()).toEqual([]);
    await recorder.queueMessage({ episodeId: "g", direction: "out", type: "response", requestId: "1", body: "{}" });
    expect(seen()).toEqual(["in:1", "out:1"]);

    void recorder.queueMessage({ episodeId: "g", direction: "in", type: "request", method: "ping", requestId: "2", body: "{}" });
    void recorder.queueMessage({ episodeId: "g", direction: "out", type: "response", requestId: "2", body: "{}" });
    expect(seen()).toHaveLength(2);
    await recorder.committed();
    expect(seen()).toEqual(["in:1", "out:1", "in:2", "out:2"]);

    void recorder.queueMessage({ episodeId: "g", direction: "in", type: "notification", method: "notifications/cancelled", body: "{}" });
    await new Promise((r) => setImmediate(r));
    expect(seen()).toHaveLength(5);
    other.close();
    await recorder.close();
  });

  it("refuses a second episode with the same id alone: the writes committed beside it stay", async () => {
    const recorder = Recorder.open(join(dir, "r.db"));
    await recorder.beginEpisode({ id: "same", transport: "stdio" });
    const again = recorder.beginEpisode({ id: "same", transport: "stdio" });
    const beside = recorder.beginEpisode({ id: "beside", transport: "stdio" });
    await expect(again).rejects.toThrow(/UNIQUE/);
    await expect(beside).resolves.toBe(true);
    expect(recorder.failure).toBeNull();
    expect(await recorder.episodeExists("same")).toBe(true);
    expect(await recorder.episodeExists("beside")).toBe(true);
    expect(await recorder.episodeExists("other")).toBe(false);
    await recorder.close();
  });

  it("marks episodes of dead server processes interrupted, and leaves live ones running", async () => {
    const file = join(dir, "r.db");
    const recorder = Recorder.open(file);
    await recorder.beginEpisode({ id: "mine", transport: "stdio" });
    const host = recorder.owner.split(":")[0];
    const insert = recorder.db.prepare(`INSERT INTO episodes (id, transport, started_at, owner) VALUES (?, 'http', 1, ?)`);
    insert.run("dead", `${host}:${deadPid()}:1`);
    insert.run("parent-alive", `${host}:${process.ppid}:1`);
    insert.run("other-host", `elsewhere.invalid:${deadPid()}:1`);
    insert.run("my-pid-earlier-run", `${host}:${process.pid}:1`);
    // Leased: another process may take it over, so it stays running.
    recorder.db.prepare(`INSERT INTO episodes (id, transport, started_at, owner, lease_owner, lease_until, lease_epoch) VALUES ('dead-leased', 'http', 1, ?, ?, 0, 1)`).run(`${host}:${deadPid()}:1`, `${host}:${deadPid()}:1`);

    const second = Recorder.open(file);
    expect(await second.recoverInterrupted()).toBe(2);
    const status = (id: string) => new Records(second.db).getEpisode(id)?.status;
    expect(status("dead")).toBe("interrupted");
    expect(status("my-pid-earlier-run")).toBe("interrupted");
    expect(status("mine")).toBe("running");
    expect(status("parent-alive")).toBe("running");
    expect(status("other-host")).toBe("running");
    expect(status("dead-leased")).toBe("running");
    await second.close();
    await recorder.close();
  });
});

describe("readers", () => {
  it("pages through a filtered listing without gaps or repeats", async () => {
    const recorder = Recorder.open(join(dir, "r.db"));
    const statuses = ["running", "submitted", "closed"] as const;
    for (let i = 0; i < 40; i++) {
      const id = `ep-${String(i).padStart(2, "0")}`;
      void recorder.beginEpisode({ id, envId: i % 2 ? "odd" : "even", taskId: "t", transport: "memory" });
      const status = statuses[i % 3]!;
      if (status !== "running") await recorder.endEpisode(id, { status });
    }
    await recorder.beginEpisode({ id: "catalog-1", kind: "catalog", transport: "http" });
    const records = new Records(recorder.db);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 }), fc.constantFrom(undefined, "odd", "even"), fc.constantFrom(undefined, "submitted" as const), (limit, envId, status) => {
        const filter = { ...(envId ? { envId } : {}), ...(status ? { status } : {}) };
        const all = records.listEpisodes({ ...filter, limit: 1000 });
        const seen: string[] = [];
        let offset: number | null = 0;
        while (offset !== null) {
          const page = records.listEpisodes({ ...filter, limit, offset });
          expect(page.total).toBe(all.total);
          seen.push(...page.episodes.map((e) => e.id));
          offset = page.nextOffset;
        }
        expect(seen).toEqual(all.episodes.map((e) => e.id));
        for (const e of all.episodes) {
          expect(e.kind).toBe("episode");
          if (envId) expect(e.envId).toBe(envId);
          if (status) expect(e.status).toBe(status);
        }
      }),
    );
    expect(records.listEpisodes({ kind: "all", limit: 1000 }).total).toBe(41);
    expect(records.counts()).toMatchObject({ episodes: 41, byStatus: { running: 15, submitted: 13, closed: 13 } });
    recorder.close();
  });

  it("opens read-only for viewers and refuses writes", async () => {
    const file = join(dir, "r.db");
    const recorder = Recorder.open(file);
    await recorder.beginEpisode({ id: "x", transport: "stdio" });
    const records = Records.open(file);
    expect(records.getEpisode("x")?.status).toBe("running");
    expect(() => records.db.prepare(`DELETE FROM episodes`).run()).toThrow(/readonly/);
    records.close();
    await recorder.close();
  });
});

describe("leases", () => {
  const call = (episodeId: string, seq: number, epoch?: number) => ({
    episodeId, seq, requestId: null, tool: "add", arguments: { n: seq }, output: `${seq}`, isError: false, errorKind: null,
    solvedFtrl: null, solvedStrict: null, startedAt: seq, latencyMs: 0, assistantMeta: null, ...(epoch !== undefined ? { epoch } : {}),
  });

  it("hands an episode between two processes' recorders, growing the epoch, and fences the one that lost it", async () => {
    const file = join(dir, "r.db");
    const a = Recorder.open(file);
    const b = Recorder.open(file);
    // Two processes: the owner is what tells them apart.
    Object.defineProperty(b, "owner", { value: `${a.owner}-b` });
    await a.beginEpisode({ id: "ep", transport: "http", leaseUntil: 0 });
    expect(await a.lease("ep", Date.now() + 60_000)).toMatchObject({ owner: a.owner, epoch: 1 });
    // Held and live: the other process waits.
    expect(await b.lease("ep", Date.now() + 60_000)).toBeNull();
    await a.recordCall(call("ep", 1, 1));
    await a.release("ep");
    // Released between calls: the owner takes it back at the same epoch, another at the next one.
    expect(await b.lease("ep", Date.now() + 60_000)).toMatchObject({ owner: b.owner, epoch: 2 });
    await expect(a.recordCall(call("ep", 2, 1))).rejects.toThrow(/no longer holds its lease/);
    await b.recordCall(call("ep", 2, 2));
    await b.release("ep");
    expect(await a.lease("ep", Date.now() + 60_000)).toMatchObject({ owner: a.owner, epoch: 3 });
    expect((await a.recordedCalls("ep")).map((c) => [c.seq, c.output, c.errorKind])).toEqual([[1, "1", null], [2, "2", null]]);
    expect(await a.loadEpisode("ep")).toMatchObject({ status: "running", callCount: 2, lease: { owner: a.owner, epoch: 3 } });
    // An expired lease is anyone's.
    await a.lease("ep", 1);
    expect(await b.lease("ep", Date.now() + 60_000)).toMatchObject({ owner: b.owner, epoch: 4 });
    // Ended: nobody's.
    await b.endEpisode("ep", { status: "closed" });
    expect(await a.lease("ep", Date.now() + 60_000)).toBeNull();
    expect(a.failure).toBeNull();
    await a.close();
    await b.close();
  });

  it("gives an episode opened without a lease to no other process", async () => {
    const recorder = Recorder.open(join(dir, "r.db"));
    await recorder.beginEpisode({ id: "bound", transport: "http" });
    expect(await recorder.loadEpisode("bound")).toMatchObject({ lease: null });
    expect(await recorder.loadEpisode("none")).toBeNull();
    await recorder.close();
  });
});
