// Episodes in a store shared by several server processes: any process continues any episode from its record, under a fenced lease.
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EnvironmentRegistry, EpisodeService, type EpisodeSession } from "../../src/episode/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { COUNTER, tempDir, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
const closers: (() => Promise<void>)[] = [];
beforeEach(() => {
  tmp = tempDir("envforge-shared-");
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  tmp.cleanup();
});

/** One server process's episode layer: its own recorder (and so its own owner name) on the shared file. */
function replica(name: string, leaseMs = 2_000): EpisodeService {
  const recorder = Recorder.open(tmp.db);
  Object.defineProperty(recorder, "owner", { value: `test-host:${name}:0` });
  const service = new EpisodeService(new EnvironmentRegistry([{ env: COUNTER }], { timeoutMs: 300 }), recorder, { shared: { leaseMs } });
  closers.push(() => recorder.close());
  return service;
}

const total = async (episode: EpisodeSession, n: number): Promise<string> => (await episode.call("add", { n })).result.content.map((c) => (c.type === "text" ? c.text : "")).join("");

describe("a shared store", () => {
  it("continues one episode across three processes in any order, with the outputs of one uninterrupted run", async () => {
    const replicas = [replica("a"), replica("b"), replica("c")];
    const alone = new EpisodeService(new EnvironmentRegistry([{ env: COUNTER }], { timeoutMs: 300 }), Recorder.open(":memory:"));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -5, max: 9 })), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2 }), async (steps, ender) => {
        const id = `shared-${Math.random().toString(36).slice(2)}`;
        await replicas[0]!.open({ env: COUNTER.id, task: "code-alpha", id, transport: "http", face: "rest", seed: 3 });
        const reference = await alone.open({ env: COUNTER.id, task: "code-alpha", transport: "http", face: "rest", seed: 3 });
        for (const [r, n] of steps) {
          const episode = await replicas[r]!.get(id);
          expect(await total(episode, n)).toBe(await total(reference, n));
        }
        const last = await replicas[steps.at(-1)![0]]!.get(id);
        expect(last.progress().calls.made).toBe(steps.length);
        // Ended by any process, even one that never ran a call of it: scored on every call, as the uninterrupted run is.
        const ending = await replicas[ender]!.get(id);
        await ending.end("closed");
        await reference.end("closed");
        expect(ending.progress()).toMatchObject({ status: "closed", calls: { made: steps.length } });
        expect(ending.progress().score).toEqual(reference.progress().score);
        const stored = Records.open(tmp.db);
        expect(stored.getEpisode(id)).toMatchObject({ status: "closed", score: reference.progress().score });
        stored.close();
      }),
      { numRuns: 12, seed: 42 },
    );
    const records = Records.open(tmp.db);
    // Every call recorded once, in order, under the process that ran it.
    for (const e of records.listEpisodes({ limit: 100 }).episodes) {
      expect(e.status).toBe("closed");
      expect(records.listCalls(e.id).map((c) => c.seq)).toEqual(Array.from({ length: e.callCount }, (_, i) => i + 1));
    }
    records.close();
  });

  it("lets an ended episode go everywhere, and says so with 410", async () => {
    const [a, b] = [replica("a"), replica("b")];
    const opened = await a.open({ env: COUNTER.id, task: "code-alpha", id: "ends", transport: "http", face: "rest" });
    await total(opened, 1);
    const other = await b.get("ends");
    await total(other, 1);
    await other.answer("K-7731-QZ");
    // The first process still holds its old object: its next call finds the episode ended.
    await expect(opened.call("add", { n: 1 })).rejects.toThrow(/has ended/);
    await expect(a.get("ends")).rejects.toMatchObject({ status: 410 });
  });

  it("ends once, as it ended elsewhere, an episode closed here after another process ended it", async () => {
    const [a, b] = [replica("a"), replica("b")];
    const ends: string[] = [];
    a.events.observe({ opened: () => undefined, ended: (_face, status) => void ends.push(status), called: () => undefined, evicted: () => undefined, replayed: () => undefined });
    const opened = await a.open({ env: COUNTER.id, task: "code-alpha", id: "closed-late", transport: "http", face: "rest" });
    await total(opened, 1);
    await (await b.get("closed-late")).answer("K-7731-QZ");
    await opened.end("closed");
    expect(opened.status).toBe("submitted");
    expect(ends).toEqual(["submitted"]);
    expect(a.find("closed-late")).toBeUndefined();
    const records = Records.open(tmp.db);
    expect(records.getEpisode("closed-late")?.status).toBe("submitted");
    records.close();
  });

  it("refuses to continue a record its environment no longer reproduces, and marks the episode", async () => {
    const [a, b] = [replica("a"), replica("b")];
    const opened = await a.open({ env: COUNTER.id, task: "code-alpha", id: "tampered", transport: "http", face: "rest" });
    await total(opened, 4);
    await opened.call("add", { n: 1 });
    const db = new Database(tmp.db);
    db.prepare(`UPDATE calls SET output = '{"count": 40}' WHERE episode_id = 'tampered' AND seq = 1`).run();
    db.close();
    const other = await b.get("tampered");
    const refused = await other.call("add", { n: 1 });
    expect(refused.result.isError).toBe(true);
    expect(JSON.stringify(refused.result.content)).toMatch(/cannot be rebuilt from its record: replaying call seq 1/);
    const records = Records.open(tmp.db);
    const row = records.getEpisode("tampered")!;
    expect(row.status).toBe("error");
    expect(row.finalMeta).toMatchObject({ replay_mismatch_seq: 1 });
    expect(row.callCount).toBe(2);
    records.close();
    // Other episodes keep working.
    const fine = await b.open({ env: COUNTER.id, task: "code-alpha", id: "fine", transport: "http", face: "rest" });
    expect(await total(fine, 2)).toBe('{"count": 2}');
  });

  it("does not take over an episode bound to its connection (legacy MCP)", async () => {
    const [a, b] = [replica("a"), replica("b")];
    await a.open({ env: COUNTER.id, task: "code-alpha", id: "bound", transport: "http", face: "mcp" });
    await expect(b.get("bound")).rejects.toMatchObject({ status: 409 });
  });

  it("lets a shutting-down process go of its episodes without ending them", async () => {
    const [a, b] = [replica("a"), replica("b")];
    const opened = await a.open({ env: COUNTER.id, task: "code-alpha", id: "rolling", transport: "http", face: "rest" });
    await total(opened, 2);
    await a.closeAll("closed");
    expect(await total(await b.get("rolling"), 3)).toBe('{"count": 5}');
  });
});
