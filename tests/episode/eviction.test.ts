// Eviction under a memory budget: idle episodes lose their sandbox and are rebuilt from the store's record at their next call, with the outputs of an uninterrupted run.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvironmentRegistry, EpisodeService, textOf, type EpisodeSession } from "../../src/episode/index.ts";
import { compileEnvironment, compileJavaScript, SandboxPool, type CompiledEnvironment, type Episode } from "../../src/runtime/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { Recorder } from "../../src/store/index.ts";
import { makeEnv } from "../runtime/helpers.ts";
import { COUNTER_INPUT, ROOT, tempDir, type TempDir } from "../serve/fixtures.ts";

/** The counter environment plus a seeded roll and a module-level tick counter, which no checkpoint holds. */
const ENV = Environment.parse({
  ...COUNTER_INPUT,
  id: "test-evict",
  tools: [
    ...COUNTER_INPUT.tools,
    { name: "roll", description: "Add a random amount to the counter.", input_schema: { type: "object", properties: {} } },
    { name: "tick", description: "Count calls since the episode began.", input_schema: { type: "object", properties: {} } },
  ],
  implementation: {
    ...COUNTER_INPUT.implementation,
    prelude: `${COUNTER_INPUT.implementation.prelude}\nlet ticks = 0;`,
    tools: {
      ...COUNTER_INPUT.implementation.tools,
      roll: "function roll(args, state) { const r = Math.floor(Math.random() * 1000); state.count += r; return { roll: r, count: state.count }; }",
      tick: "function tick(args, state) { ticks++; return { ticks, count: state.count }; }",
    },
  },
});

type Script = { tool: string; args: Record<string, unknown> }[];
/** Before the eviction: four calls that take effect (a tool error does) and one refused, which replay must skip. */
const before = (i: number): Script => [
  { tool: "roll", args: {} },
  { tool: "add", args: { n: i % 7 } },
  { tool: "fail", args: { message: `m${i}` } },
  { tool: "add", args: { n: "not a number" } },
  { tool: "tick", args: {} },
];
const after = (i: number): Script => [
  { tool: "roll", args: {} },
  { tool: "tick", args: {} },
  { tool: "lookup_code", args: { name: i % 2 ? "alpha" : "beta" } },
  { tool: "add", args: { n: 1 } },
];
const TOOK_EFFECT_BEFORE = 4;
const EPISODES = 5000;
const BUDGET = 16;
/** Episodes driven at once; far more than the budget, so calls in flight hold the sandboxes of many. */
const CONCURRENCY = 64;
/** Room for about 25,000 sandbox opens on a shared 2-core machine; a limit on the run, never asserted. */
const LONG = 900_000;

let tmp: TempDir;
let recorder: Recorder;
let local: Promise<CompiledEnvironment>;
let pool: SandboxPool;

beforeAll(() => {
  tmp = tempDir("envforge-evict-");
  recorder = Recorder.open(tmp.db);
  local = compileJavaScript(ENV);
  pool = new SandboxPool({ workers: 2 });
});
afterAll(async () => {
  await pool.close();
  recorder.close();
  tmp.cleanup();
});

/** A service over `env` (ENV by default) whose episodes run on `compiled` (in process, or on the worker pool). */
function service(compiled: () => Promise<CompiledEnvironment>, resident: number, env = ENV): EpisodeService {
  const registry = new EnvironmentRegistry([{ env }]);
  registry.compile = compiled;
  return new EpisodeService(registry, recorder, { resident });
}

const open = (s: EpisodeService, seed: number): EpisodeSession => s.openChecked({ env: ENV.id, task: "code-alpha", seed, transport: "http", face: "rest" });

/** Sends a script's calls at once (they queue in order behind each other and behind any rebuild) and returns what the agent saw. */
async function run(episode: EpisodeSession, script: Script): Promise<string[]> {
  const outcomes = await Promise.all(script.map((c) => episode.call(c.tool, c.args)));
  return outcomes.map((o) => textOf(o.result));
}

/** Lets the episodes' queues drain: an episode turns idle (and evictable) a few microtasks after its last call resolves. */
const drained = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `job` for every index, CONCURRENCY at a time, keeping results by index. */
async function each<T>(n: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  for (let start = 0; start < n; start += CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n - start) }, async (_, k) => (out[start + k] = await job(start + k))));
  }
  return out;
}

/** What the agent sees in an uninterrupted episode with seed `i`: both scripts, nothing evicted. */
async function uninterrupted(s: EpisodeService, i: number): Promise<string[]> {
  const episode = open(s, i);
  const outputs = [...(await run(episode, before(i))), ...(await run(episode, after(i)))];
  await episode.end("closed");
  expect(s.stats.evictions).toBe(0);
  return outputs;
}

/** The outputs after the eviction point in an uninterrupted episode. */
const continued = async (i: number) => (await uninterrupted(service(() => local, 1), i)).slice(before(i).length);

describe("episodes under a memory budget", () => {
  let reference: string[][];
  beforeAll(async () => {
    const s = service(() => local, 1);
    reference = [];
    // One at a time, each ended before the next opens: no episode is ever evicted.
    for (let i = 0; i < EPISODES; i++) reference.push(await uninterrupted(s, i));
  }, LONG);

  for (const kind of ["in-process", "pooled"] as const) {
    it(`continues ${EPISODES} evicted ${kind} episodes with the outputs of an uninterrupted run`, async () => {
      const s = service(kind === "pooled" ? () => pool.compile(ENV) : () => local, BUDGET);
      const evicted: string[] = [];
      s.onEvict = (id) => evicted.push(id);
      const episodes = Array.from({ length: EPISODES }, (_, i) => open(s, i));
      const first = await each(EPISODES, (i) => run(episodes[i]!, before(i)));
      await drained();
      expect(s.stats.resident).toBeLessThanOrEqual(BUDGET);
      const resident = episodes.filter((e) => e.resident).length;
      expect(resident).toBe(s.stats.resident);
      expect(s.stats.evictions).toBe(EPISODES - resident);
      expect(new Set(evicted).size).toBe(EPISODES - resident);

      // An episode still resident at its turn runs on; every other one is rebuilt (its calls hold it from here on).
      let evictedAtTurn = 0;
      const second = await each(EPISODES, (i) => {
        if (!episodes[i]!.resident) evictedAtTurn++;
        return run(episodes[i]!, after(i));
      });
      await drained();
      for (let i = 0; i < EPISODES; i++) expect([...first[i]!, ...second[i]!], `episode ${i}`).toEqual(reference[i]);
      const stats = s.stats;
      expect(evictedAtTurn).toBeGreaterThanOrEqual(EPISODES - resident);
      expect(stats.rebuilds).toBe(evictedAtTurn);
      expect(stats.replayedCalls).toBe(TOOK_EFFECT_BEFORE * stats.rebuilds);
      expect(stats.replayFailures).toBe(0);
      expect(stats.resident).toBeLessThanOrEqual(BUDGET);
      await s.closeAll();
      expect(s.stats.resident).toBe(0);
    }, LONG);
  }
});

describe("a record that does not replay", () => {
  const tamper = (sql: string, ...params: unknown[]) => {
    const db = new Database(tmp.db);
    try {
      expect(db.prepare(sql).run(...params).changes).toBe(1);
    } finally {
      db.close();
    }
  };
  const row = (id: string) => {
    const db = new Database(tmp.db, { readonly: true });
    try {
      return db.prepare("SELECT status, final_meta FROM episodes WHERE id = ?").get(id) as { status: string; final_meta: string | null };
    } finally {
      db.close();
    }
  };

  it("ends the episode as error naming the first differing seq, and the others keep working", async () => {
    const s = service(() => local, 1);
    const [a, b, c] = [7, 8, 9].map((seed) => open(s, seed)) as [EpisodeSession, EpisodeSession, EpisodeSession];
    for (const [i, e] of [a, b, c].entries()) await run(e, before(7 + i));
    await drained();
    expect([a.resident, b.resident, c.resident]).toEqual([false, false, true]);
    // Seq 2 is the `add`; the agent saw this output, the store now says it saw another.
    tamper("UPDATE calls SET output = output || ' ' WHERE episode_id = ? AND seq = 2", a.id);

    const [broken] = await run(a, after(7));
    expect(broken).toMatch(/cannot be rebuilt from its record: replaying call seq 2 \(add\) gave a different output/);
    expect(a.status).toBe("error");
    expect(a.ended).toBe(true);
    const stored = row(a.id);
    expect(stored.status).toBe("error");
    expect(JSON.parse(stored.final_meta!)).toMatchObject({ replay_mismatch_seq: 2 });
    expect(s.stats.replayFailures).toBe(1);
    expect(textOf((await a.call("tick", {})).result)).toMatch(/has ended \(error\)/);

    expect(await run(b, after(8))).toEqual(await continued(8));
    expect(await run(c, after(9))).toEqual(await continued(9));
    expect([b.status, c.status]).toEqual(["running", "running"]);
    await s.closeAll();
  });

  it("ends the episode as error when calls that took effect are missing from the store", async () => {
    const s = service(() => local, 1);
    const [a, b] = [11, 12].map((seed) => open(s, seed)) as [EpisodeSession, EpisodeSession];
    await run(a, before(11));
    await run(b, before(12));
    await drained();
    expect(a.resident).toBe(false);
    // The last call (tick, seq 5) goes missing: every remaining output replays, but the episode had one more.
    tamper("DELETE FROM calls WHERE episode_id = ? AND seq = 5", a.id);
    const [broken] = await run(a, after(11));
    expect(broken).toMatch(/the store holds 3 calls that took effect, the replay kept 3, and the episode had 4/);
    expect(row(a.id).status).toBe("error");
    expect(await run(b, after(12))).toEqual(await continued(12));
    await s.closeAll();
  });
});

describe("a call in flight", () => {
  it("keeps its episode's sandbox, and other episodes wait for the slot in arrival order", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Episodes whose `add` of 999 waits for the gate: a call held in flight without any clock.
    const gated = local.then((compiled): CompiledEnvironment => ({
      env: compiled.env,
      limits: compiled.limits,
      openEpisode: (options) => {
        const episode = compiled.openEpisode(options);
        return new Proxy(episode, {
          get(target, key) {
            if (key === "call") return async (tool: string, args: { n?: number }) => (tool === "add" && args.n === 999 ? gate.then(() => target.call(tool, args)) : target.call(tool, args));
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === "function" ? value.bind(target) : value;
          },
        }) satisfies Episode;
      },
    }));
    const s = service(() => gated, 1);
    const held = open(s, 1);
    await run(held, [{ tool: "add", args: { n: 1 } }]);
    const inFlight = held.call("add", { n: 999 });
    const seeds = [2, 3, 4, 5];
    const others = seeds.map((seed) => open(s, seed));
    const finished: number[] = [];
    const runs = others.map((other, k) => run(other, before(0)).then((outputs) => (finished.push(seeds[k]!), outputs)));
    await drained();
    // The only slot holds a call in flight: nothing is evicted, no other sandbox opens, every other episode waits.
    expect(s.stats).toMatchObject({ resident: 1, waiting: 4, evictions: 0 });
    expect(held.resident).toBe(true);
    expect(others.map((o) => o.resident)).toEqual([false, false, false, false]);
    expect(finished).toEqual([]);
    release();
    expect(textOf((await inFlight).result)).toMatch(/1000/);
    const outputs = await Promise.all(runs);
    // First come, first served; each ran its whole script once let in, then gave its slot to the next.
    expect(finished).toEqual(seeds);
    expect(s.stats).toMatchObject({ resident: 1, waiting: 0, evictions: 4, rebuilds: 0 });
    const alone = service(() => local, 1);
    for (const [k, seed] of seeds.entries()) {
      const episode = open(alone, seed);
      expect(outputs[k]).toEqual(await run(episode, before(0)));
      await episode.end("closed");
    }
    await s.closeAll();
    expect(s.stats.resident).toBe(0);
  });
});

describe("an evicted episode that ends", () => {
  it("is scored on its rebuilt final state, as if it had never been evicted", async () => {
    const hotels = Environment.parse(JSON.parse(readFileSync(resolve(ROOT, "environments/multi-hop/hotels-mh-write0-974f444d.json"), "utf8")));
    const task = hotels.tasks.find((t) => t.final_state)!;
    const compiled = compileJavaScript(hotels);
    const scored = async (evict: boolean) => {
      const s = service(() => compiled, 1, hotels);
      const episode = s.openChecked({ env: hotels.id, task: task.id, seed: 3, transport: "http", face: "rest" });
      for (const step of task.gold_plan) {
        await episode.call(step.tool, step.arguments);
        // Another episode's call takes the only resident place.
        if (evict) await s.openChecked({ env: hotels.id, task: task.id, seed: 4, transport: "http", face: "rest" }).call(step.tool, step.arguments);
        await drained();
      }
      expect(episode.resident).toBe(!evict);
      await episode.answer(task.answer);
      await s.closeAll();
      return episode.progress().score!;
    };
    const kept = await scored(false);
    expect(kept.ftrl.state?.state_match).toBe(1);
    expect(await scored(true)).toEqual(kept);
  });
});

describe("Python episodes", () => {
  it("continue after eviction with the outputs of an uninterrupted run", async () => {
    const def = (name: string, params: string, ...body: string[]) => `def ${name}(${params}):\n${body.map((l) => `    ${l}`).join("\n")}\n`;
    const python = makeEnv(
      {
        roll: { source: def("roll", "data", "data['items'].append(random.randint(0, 999))", "return data['items']") },
        put: { source: def("put", "data, item", "data['items'].append(item)", "return len(data['items'])") },
        fail: { source: def("fail", "data", "data['items'].append('kept')", "raise ValueError('no such order')") },
        ticks: { source: "seen = []\n" + def("ticks", "", "seen.append(1)", "return len(seen)") },
      },
      { prelude: "import random\n", state: { items: [] }, language: "python", id: "python-evict" },
    );
    const compiled = compileEnvironment(python);
    const script = (i: number): Script => [
      { tool: "roll", args: {} },
      { tool: "put", args: { item: `p${i}` } },
      { tool: "fail", args: {} },
      { tool: "ticks", args: {} },
    ];
    const outputs = async (resident: number, episodes: number) => {
      const s = service(() => compiled, resident, python);
      const opened = Array.from({ length: episodes }, (_, i) => s.openChecked({ env: python.id, seed: i, transport: "http", face: "rest" }));
      const first = await each(episodes, (i) => run(opened[i]!, script(i)));
      await drained();
      const second = await each(episodes, (i) => run(opened[i]!, script(i + 100)));
      const { rebuilds, replayFailures } = s.stats;
      await s.closeAll();
      return { seen: first.map((f, i) => [...f, ...second[i]!]), rebuilds, replayFailures };
    };
    const evicted = await outputs(2, 20);
    const kept = await outputs(20, 20);
    expect(kept.rebuilds).toBe(0);
    // The module-level list counts on across the eviction: the replay ran every call again.
    expect([kept.seen[0]![1], kept.seen[0]![3], kept.seen[0]![5], kept.seen[0]![7]]).toEqual(["2", "1", "5", "2"]);
    expect(evicted.rebuilds).toBeGreaterThanOrEqual(18);
    expect(evicted.replayFailures).toBe(0);
    expect(evicted.seen).toEqual(kept.seen);
  }, LONG);
});
