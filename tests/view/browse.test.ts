// The viewer's queries in src/record against a 100,000-episode recording: pages match an independent filter-and-sort, indexes serve them, old databases migrate.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentOf, scoreOf } from "../../src/export/index.ts";
import {
  MIGRATIONS,
  AGENT_SQL,
  SCORE_SQL,
  Recorder,
  Records,
  agentSums,
  browseEpisodes,
  episodeFacets,
  explainBrowse,
  scoreGroups,
  scoreHistogram,
  type EpisodeOrder,
  type EpisodeQuery,
  type EpisodeRow,
} from "../../src/store/index.ts";
import { runMetaOf } from "../../src/export/index.ts";
import { writeSynthetic } from "./synthetic.ts";

const EPISODES = 100_000;
const ENVS = Array.from({ length: 120 }, (_, i) => `env-${i}`);

let dir: string;
let recorder: Recorder;
let records: Records;
/** Every episode, read through the recorder's own paging reader: the oracle the viewer's queries are checked against. */
let all: EpisodeRow[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "envforge-view-browse-"));
  recorder = Recorder.open(join(dir, "big.db"));
  await writeSynthetic(recorder, { episodes: EPISODES, envIds: ENVS, seed: 11 });
  records = new Records(recorder.db);
  all = [];
  for (let offset: number | null = 0; offset !== null; ) {
    const page = records.listEpisodes({ limit: 10_000, offset, order: "oldest" });
    all.push(...page.episodes);
    offset = page.nextOffset;
  }
}, 120_000);

afterAll(() => {
  recorder?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Key = string | number | null;

/** SQLite's order: nulls lowest, then numbers, then text (binary); the insertion order breaks ties. */
function compare(a: Key, b: Key): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
  return a < b ? -1 : 1;
}

function expected(query: EpisodeQuery, key: (e: EpisodeRow) => Key, dir: "asc" | "desc", offset: number, limit: number): string[] {
  const mode = query.mode ?? "ftrl";
  const rows = all
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => {
      const f1 = scoreOf(e, mode)?.solve_f1 ?? null;
      return (
        (query.envIds === undefined || query.envIds.includes(e.envId ?? "")) &&
        (query.taskId === undefined || e.taskId === query.taskId) &&
        (query.agent === undefined || agentOf(e) === query.agent) &&
        (query.clientName === undefined || e.clientName === query.clientName) &&
        (query.statuses === undefined || query.statuses.includes(e.status)) &&
        (query.minScore === undefined || (f1 !== null && f1 >= query.minScore)) &&
        (query.maxScore === undefined || (f1 !== null && f1 <= query.maxScore)) &&
        (!query.excludeFailed || runMetaOf(e)?.end !== "error")
      );
    });
  const sign = dir === "asc" ? 1 : -1;
  rows.sort((x, y) => sign * (compare(key(x.e), key(y.e)) || x.i - y.i));
  return rows.slice(offset, offset + limit).map((r) => r.e.id);
}

describe("episode pages at 100,000 episodes", () => {
  const cases: { name: string; query: EpisodeQuery; order: EpisodeOrder; key: (e: EpisodeRow) => Key; offset: number }[] = [
    { name: "newest first", query: {}, order: { sort: "started", dir: "desc" }, key: (e) => e.startedAt, offset: 0 },
    { name: "an environment's submitted episodes, best score first", query: { envIds: ["env-7"], statuses: ["submitted"] }, order: { sort: "score", dir: "desc" }, key: (e) => scoreOf(e, "ftrl")?.solve_f1 ?? null, offset: 0 },
    { name: "a score range in strict mode, page 40, by calls", query: { mode: "strict", minScore: 0.25, maxScore: 0.5 }, order: { sort: "calls", dir: "asc" }, key: (e) => e.callCount, offset: 2000 },
    { name: "one agent, by strict solved count", query: { agent: "random", mode: "strict" }, order: { sort: "solved", dir: "desc" }, key: (e) => e.solvedStrict, offset: 150 },
    { name: "a client and a task, by agent", query: { clientName: "claude-code", taskId: "task-2" }, order: { sort: "agent", dir: "asc" }, key: (e) => agentOf(e), offset: 10 },
    { name: "several environments, ended last first", query: { envIds: ENVS.slice(10, 40), statuses: ["closed", "idle_timeout"] }, order: { sort: "ended", dir: "desc" }, key: (e) => e.endedAt, offset: 0 },
    { name: "a model above a score, by calls", query: { agent: "oracle", minScore: 0.5 }, order: { sort: "calls", dir: "desc" }, key: (e) => e.callCount, offset: 40 },
    { name: "everything, deep page by status", query: {}, order: { sort: "status", dir: "asc" }, key: (e) => e.status, offset: 60_000 },
  ];

  for (const c of cases) {
    it(`returns the right rows: ${c.name}`, () => {
      const page = browseEpisodes(records, c.query, c.order, { limit: 50, offset: c.offset });
      const want = expected(c.query, c.key, c.order.dir, c.offset, 50);
      expect(want.length).toBeGreaterThan(0);
      expect(page.rows.map((r) => r.id)).toEqual(want);
      expect(page.total).toBe(expected(c.query, c.key, c.order.dir, 0, Number.MAX_SAFE_INTEGER).length);
      for (const r of page.rows) expect(r.agent).toBe(agentOf(r));
    });
  }

  it("sorts by an environment attribute through the groups it is given", () => {
    const groups = [ENVS.filter((_, i) => i % 3 === 2), ENVS.filter((_, i) => i % 3 === 0)];
    const rank = (e: EpisodeRow): number | null => {
      const g = groups.findIndex((ids) => ids.includes(e.envId ?? ""));
      return g < 0 ? null : g;
    };
    const page = browseEpisodes(records, { statuses: ["submitted"] }, { sort: "scenario", dir: "asc", envGroups: groups }, { limit: 30, offset: 500 });
    expect(page.rows.map((r) => r.id)).toEqual(expected({ statuses: ["submitted"] }, rank, "asc", 500, 30));
  });

  it("serves filtered and sorted pages from an index, never by reading every row", () => {
    const plans = [
      explainBrowse(records, {}, { sort: "started", dir: "desc" }),
      explainBrowse(records, {}, { sort: "score", dir: "asc" }),
      explainBrowse(records, { agent: "oracle", minScore: 0.5 }, { sort: "calls", dir: "desc" }),
      explainBrowse(records, { envIds: ENVS.slice(0, 5) }, { sort: "scenario", dir: "desc", envGroups: [ENVS] }),
    ];
    for (const plan of plans) {
      expect(plan.join(" | ")).toMatch(/USING COVERING INDEX/);
      expect(plan.join(" | ")).not.toMatch(/SCAN episodes(?! USING)/);
    }
  });

  it("indexes exactly the expressions the queries use", () => {
    const migration = MIGRATIONS[1]!;
    expect(migration).toContain(AGENT_SQL);
    expect(migration).toContain(SCORE_SQL.ftrl);
    expect(migration).toContain(SCORE_SQL.strict);
  });
});

describe("aggregates at 100,000 episodes", () => {
  const scoredRows = (mode: "ftrl" | "strict") => all.filter((e) => scoreOf(e, mode) !== null && runMetaOf(e)?.end !== "error");

  it("counts every scored episode once in the histogram, in the right bin", () => {
    const bins = scoreHistogram(records, { excludeFailed: true, mode: "strict" }, 10);
    const rows = scoredRows("strict");
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(rows.length);
    const env = "env-3";
    const mine = rows.filter((e) => e.envId === env);
    for (let b = 0; b < 10; b++) {
      const want = mine.filter((e) => Math.min(9, Math.floor(scoreOf(e, "strict")!.solve_f1 * 10)) === b).length;
      expect(bins.find((x) => x.envId === env && x.bin === b)?.count ?? 0).toBe(want);
    }
  });

  it("sums precision and rate per agent", () => {
    const sums = agentSums(records, { excludeFailed: true });
    const rows = scoredRows("ftrl");
    for (const s of sums) {
      const mine = rows.filter((e) => agentOf(e) === s.agent);
      expect(s.count).toBe(mine.length);
      expect(s.precision).toBeCloseTo(mine.reduce((t, e) => t + scoreOf(e, "ftrl")!.solve_precision, 0), 6);
      expect(s.rateSq).toBeCloseTo(mine.reduce((t, e) => t + scoreOf(e, "ftrl")!.solve_rate ** 2, 0), 6);
    }
    expect(sums.reduce((n, s) => n + s.count, 0)).toBe(rows.length);
  });

  it("pages GRPO groups with their scores in start order", () => {
    const result = scoreGroups(records, { excludeFailed: true, envIds: ENVS.slice(0, 4) }, { limit: 5, offset: 3 });
    const rows = scoredRows("ftrl").filter((e) => ENVS.slice(0, 4).includes(e.envId ?? ""));
    const groups = new Map<string, EpisodeRow[]>();
    for (const e of rows) {
      const key = JSON.stringify([e.envId, e.taskId, agentOf(e)]);
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    const keys = [...groups.keys()].filter((k) => groups.get(k)!.length >= 2).sort((a, b) => {
      const [x, y] = [JSON.parse(a) as string[], JSON.parse(b) as string[]];
      return compare(x[0]!, y[0]!) || compare(x[1]!, y[1]!) || compare(x[2]!, y[2]!);
    });
    expect(result.total).toBe(keys.length);
    expect(result.flat).toBe(keys.filter((k) => new Set(groups.get(k)!.map((e) => scoreOf(e, "ftrl")!.solve_f1)).size === 1).length);
    expect(result.groups.map((g) => JSON.stringify([g.envId, g.taskId, g.agent]))).toEqual(keys.slice(3, 8));
    for (const g of result.groups) {
      expect(g.scores).toEqual(groups.get(JSON.stringify([g.envId, g.taskId, g.agent]))!.map((e) => scoreOf(e, "ftrl")!.solve_f1));
    }
  });

  it("lists facet values with their counts", () => {
    const facets = episodeFacets(records, 1000);
    expect(facets.envs.map((f) => f.value).sort()).toEqual([...new Set(all.map((e) => e.envId))].sort());
    const agents = new Map<string, number>();
    for (const e of all) agents.set(agentOf(e), (agents.get(agentOf(e)) ?? 0) + 1);
    expect(Object.fromEntries(facets.agents.map((f) => [f.value, f.count]))).toEqual(Object.fromEntries(agents));
    expect(facets.statuses.reduce((n, f) => n + f.count, 0)).toBe(all.length);
  });
});

describe("migration 2", () => {
  it("adds the viewer's indexes to a version-1 database and keeps its rows", () => {
    const file = join(dir, "v1.db");
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!);
    old.pragma("user_version = 1");
    old.prepare(`INSERT INTO episodes (id, env_id, task_id, transport, status, started_at, score, final_meta) VALUES ('a', 'e', 't', 'http', 'submitted', 1, ?, ?)`).run(
      JSON.stringify({ ftrl: { solve_f1: 0.5 }, strict: { solve_f1: 0.25 } }),
      JSON.stringify({ "envforge/run": { agent: "m" } }),
    );
    old.close();
    const r = Recorder.open(file);
    const names = r.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'episodes'`).pluck().all();
    expect(names).toEqual(expect.arrayContaining(["episodes_browse", "episodes_kind_started", "episodes_kind_score_ftrl", "episodes_kind_score_strict"]));
    const page = browseEpisodes(new Records(r.db), { agent: "m", minScore: 0.5, maxScore: 0.5 }, { sort: "score", dir: "desc" });
    expect(page.rows.map((x) => [x.id, x.agent])).toEqual([["a", "m"]]);
    r.close();
  });
});
