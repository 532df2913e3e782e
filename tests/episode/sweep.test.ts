// The sweep of shared episodes no process holds: on a real SQLite file and a real PostgreSQL, processes that abandon episodes, sweepers that end them as their own process would have, and what a sweep must leave alone.
import { rmSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EnvironmentRegistry, EpisodeService, textOf, type EpisodeSession } from "../../src/episode/index.ts";
import { startHttpServer } from "../../src/serve/http.ts";
import { Environment, FORMAT_V2, type EpisodeStatus } from "../../src/schema/index.ts";
import { now, openRecorder, Recorder } from "../../src/store/index.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { COUNTER_INPUT, tempDir, type TempDir } from "../serve/fixtures.ts";

/** The counter environment whose tasks also judge the final state (the count must end at 5), so an ending replays the sandbox. */
const ENV = Environment.parse({
  ...COUNTER_INPUT,
  format: FORMAT_V2,
  id: "test-sweep",
  tasks: COUNTER_INPUT.tasks.map((t) => ({ ...t, final_state: { checked: ["/count"], changes: [{ path: "/count", value: 5 }] } })),
});

/** An environment only some processes serve. */
const OTHER = Environment.parse({ ...COUNTER_INPUT, id: "test-other" });

type Script = { tool: string; args: Record<string, unknown> }[];
const SCRIPTS: Script[] = [
  [],
  [{ tool: "add", args: { n: 2 } }, { tool: "add", args: { n: 3 } }, { tool: "lookup_code", args: { name: "alpha" } }],
  [{ tool: "add", args: { n: 4 } }, { tool: "fail", args: { message: "no" } }, { tool: "add", args: { n: "x" } }, { tool: "lookup_code", args: { name: "beta" } }],
];

let tmp: TempDir;
let postgres: TestPostgres;
let databases = 0;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  tmp = tempDir("envforge-sweep-");
  postgres = await startPostgres();
}, 120_000);
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(async () => {
  await postgres?.remove();
  tmp?.cleanup();
});

const registry = (): EnvironmentRegistry => new EnvironmentRegistry([{ env: ENV }], { timeoutMs: 300 });

/** A fresh store of each kind; `open` gives a recorder on it as one server process would have, named by `name`. */
const STORES: { kind: string; fresh: () => Promise<(name: string) => Promise<Recorder>> }[] = [
  {
    kind: "SQLite file",
    fresh: async () => {
      const file = `${tmp.path}/sweep-${++databases}.db`;
      return async (name) => named(Recorder.open(file), name);
    },
  },
  {
    kind: "PostgreSQL",
    fresh: async () => {
      const url = await postgres.createDatabase(`sweep${++databases}`);
      return async (name) => named(await openRecorder(url), name);
    },
  },
];

function named(recorder: Recorder, name: string): Recorder {
  // Each replica is a process of its own: the owner is what tells them apart.
  Object.defineProperty(recorder, "owner", { value: `test-host:${name}:0` });
  closers.push(() => recorder.close());
  return recorder;
}

/** One server process's episode layer on the shared store. */
const replica = (recorder: Recorder): EpisodeService => new EpisodeService(registry(), recorder, { shared: { leaseMs: 60_000 } });

async function run(episode: EpisodeSession, script: Script): Promise<void> {
  for (const { tool, args } of script) await episode.call(tool, args);
}

/** The score ending `script` as `status` gives in one process with the store to itself. */
async function reference(script: Script, seed: number, status: Exclude<EpisodeStatus, "running">): Promise<unknown> {
  const alone = new EpisodeService(registry(), named(Recorder.open(":memory:"), "alone"));
  const episode = await alone.open({ env: ENV.id, task: "code-alpha", transport: "http", face: "rest", seed });
  await run(episode, script);
  await episode.end(status);
  return episode.progress().score;
}

/** Process A opens one REST episode per script, runs it, and lets them all go (a shutdown, or its idle reaper). */
async function abandon(a: EpisodeService, prefix: string, scripts: Script[]): Promise<string[]> {
  const ids = scripts.map((_, i) => `${prefix}-${i}`);
  for (const [i, script] of scripts.entries()) {
    await run(await a.open({ env: ENV.id, task: "code-alpha", id: ids[i]!, transport: "http", face: "rest", seed: i }), script);
  }
  await a.closeAll();
  return ids;
}

const row = async (recorder: Recorder, id: string) => (await recorder.loadEpisode(id))!;

describe.each(STORES)("sweeping idle shared episodes ($kind)", ({ fresh }) => {
  it("ends the episodes another process let go as idle_timeout, with the score ending them there would give", async () => {
    const open = await fresh();
    const [a, b] = [replica(await open("a")), replica(await open("b"))];
    const ids = await abandon(a, "idle", SCRIPTS);
    expect(await b.sweep(0)).toBe(SCRIPTS.length);
    for (const [i, id] of ids.entries()) {
      const stored = await row(b.recorder, id);
      expect(stored).toMatchObject({ status: "idle_timeout", callCount: SCRIPTS[i]!.length });
      expect(stored.score).toEqual(await reference(SCRIPTS[i]!, i, "idle_timeout"));
    }
    // The final state was replayed from the record: the script that reaches 5 matches it, the others do not.
    expect(await Promise.all(ids.map(async (id) => ((await row(b.recorder, id)).score as { ftrl: { state: { state_match: number } } }).ftrl.state.state_match))).toEqual([0, 1, 0]);
    expect(await b.sweep(0)).toBe(0);
    expect(b.size).toBe(0);
  });

  it("ends an episode taken over without a call from its record (a close sent to another process)", async () => {
    const open = await fresh();
    const [a, b] = [replica(await open("a")), replica(await open("b"))];
    const [id] = await abandon(a, "close", [SCRIPTS[1]!]);
    await (await b.get(id!)).end("closed");
    expect((await row(b.recorder, id!)).score).toEqual(await reference(SCRIPTS[1]!, 0, "closed"));
    expect((await row(b.recorder, id!)).status).toBe("closed");
  });

  it("leaves an episode whose call runs elsewhere, and one a client used since the cutoff, to go on", async () => {
    const open = await fresh();
    const [a, b, c] = [replica(await open("a")), replica(await open("b")), replica(await open("c"))];
    const [held, used] = await abandon(a, "busy", [SCRIPTS[1]!, SCRIPTS[1]!]);
    // A call of `held` runs in process C: its lease is C's until well after this test.
    expect(await c.recorder.lease(held!, now() + 60_000)).not.toBeNull();
    // B finds `used` idle, but before it ends it a client runs a call through C.
    const stale = await b.get(used!);
    const cutoff = now();
    expect(textOf(await (await c.get(used!)).callTool("add", { n: 1 }))).toBe('{"count": 6}');
    expect(await stale.expire(cutoff)).toBe(false);
    expect(await b.sweep(0)).toBe(0);
    expect((await row(b.recorder, held!)).status).toBe("running");
    expect((await row(b.recorder, used!)).status).toBe("running");
    // Both go on where they were, in either process.
    expect(textOf(await stale.callTool("add", { n: 1 }))).toBe('{"count": 7}');
    await c.recorder.release(held!);
    expect(textOf(await (await c.get(held!)).callTool("add", { n: 1 }))).toBe('{"count": 6}');
  });

  it("ends each episode exactly once when two processes sweep at once", async () => {
    const open = await fresh();
    const [a, b, c] = [replica(await open("a")), replica(await open("b")), replica(await open("c"))];
    const scripts = [...SCRIPTS, ...SCRIPTS];
    const ids = await abandon(a, "race", scripts);
    const [byB, byC] = await Promise.all([b.sweep(0), c.sweep(0)]);
    expect(byB + byC).toBe(scripts.length);
    for (const [i, id] of ids.entries()) {
      const stored = await row(b.recorder, id);
      expect(stored.status).toBe("idle_timeout");
      expect(stored.score).toEqual(await reference(scripts[i]!, i, "idle_timeout"));
    }
    expect([b.size, c.size]).toEqual([0, 0]);
  });

  it("pages on past episodes it cannot continue (an environment it does not serve), so they hold back no others", async () => {
    const open = await fresh();
    const a = new EpisodeService(new EnvironmentRegistry([{ env: ENV }, { env: OTHER }], { timeoutMs: 300 }), await open("a"), { shared: { leaseMs: 60_000 } });
    // Ids in byte order: the two foreign episodes fill the first page of two.
    for (const [id, env] of [["a-0", OTHER.id], ["a-1", OTHER.id], ["b-0", ENV.id]] as const) await a.open({ env, task: "code-alpha", id, transport: "http", face: "rest" });
    await a.closeAll();
    const b = replica(await open("b"));
    expect([await b.sweep(0, 2), await b.sweep(0, 2)]).toEqual([0, 1]);
    expect(await Promise.all(["a-0", "a-1", "b-0"].map(async (id) => (await row(b.recorder, id)).status))).toEqual(["running", "running", "idle_timeout"]);
    expect(b.size).toBe(0);
  });

  it("sweeps from the HTTP server's reaper, at most the limit per sweep", async () => {
    const open = await fresh();
    const a = replica(await open("a"));
    const ids = await abandon(a, "served", [SCRIPTS[0]!, SCRIPTS[1]!, SCRIPTS[2]!]);
    const b = replica(await open("b"));
    expect(await b.sweep(0, 2)).toBe(2);
    expect((await Promise.all(ids.map(async (id) => (await row(b.recorder, id)).status))).filter((s) => s === "running")).toHaveLength(1);
    const recorder = await open("server");
    const server = await startHttpServer({ registry: registry(), recorder, port: 0, shared: { leaseMs: 60_000 }, idleTimeoutMs: 1 });
    closers.push(() => server.close());
    await expect.poll(async () => (await Promise.all(ids.map(async (id) => (await row(b.recorder, id)).status))), { timeout: 20_000 }).toEqual(ids.map(() => "idle_timeout"));
  });
});

describe("sweeping while the store is unwritable", () => {
  it("does nothing, and fails nothing, until the store can be written again", async () => {
    const file = `${tmp.path}/down.db`;
    const [a, b] = [replica(named(Recorder.open(file), "a")), replica(named(Recorder.open(file), "b"))];
    const [id] = await abandon(a, "down", [SCRIPTS[1]!]);
    // The file deleted under the open connections: B's next write finds it gone, and its recorder is failed.
    for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
    await expect(b.recorder.lease(id!, now() + 1)).rejects.toThrow(/deleted|replaced|no such file|ENOENT/i);
    expect(b.recorder.failure).not.toBeNull();
    expect(await b.sweep(0)).toBe(0);
    expect(b.size).toBe(0);
  });
});
