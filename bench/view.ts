// Viewer queries at 100,000 episodes: filtered and sorted pages, facets, chart aggregates and whole HTTP pages, beside plain one-pass SQL on the schema without the viewer's indexes.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { AGENT_SQL, agentSums, browseEpisodes, episodeFacets, Recorder, Records, scoreGroups, scoreHistogram, SCORE_SQL, type EpisodeOrder, type EpisodeQuery } from "../src/store/index.ts";
import { startViewServer, Viewer } from "../src/view/index.ts";
import { writeSynthetic } from "../tests/view/synthetic.ts";

const EPISODES = 100_000;
const ENVS = Array.from({ length: 200 }, (_, i) => `env-${i}`);
const RUNS = 7;

function median(f: () => unknown): number {
  f();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), "envforge-bench-view-"));
try {
  const file = join(dir, "view.db");
  const recorder = Recorder.open(file);
  let t = performance.now();
  await writeSynthetic(recorder, { episodes: EPISODES, envIds: ENVS, seed: 3 });
  console.log(`view: wrote ${EPISODES.toLocaleString("en-US")} episodes through the recorder in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  recorder.close();

  // The baseline: the same database without migration 2's indexes, queried the plain way (one statement, whole rows).
  const plainFile = join(dir, "plain.db");
  copyFileSync(file, plainFile);
  const plain = new Database(plainFile);
  for (const index of ["episodes_browse", "episodes_kind_started", "episodes_kind_score_ftrl", "episodes_kind_score_strict"]) plain.exec(`DROP INDEX ${index}`);
  plain.exec("VACUUM");

  const records = new Records(new Database(file));
  const cases: { name: string; query: EpisodeQuery; order: EpisodeOrder; offset: number; where: string; params: unknown[]; by: string }[] = [
    { name: "newest first, page 1", query: {}, order: { sort: "started", dir: "desc" }, offset: 0, where: "kind = 'episode'", params: [], by: "started_at DESC" },
    { name: "newest first, page 400", query: {}, order: { sort: "started", dir: "desc" }, offset: 20_000, where: "kind = 'episode'", params: [], by: "started_at DESC" },
    { name: "env + status, by score", query: { envIds: ["env-7"], statuses: ["submitted"] }, order: { sort: "score", dir: "desc" }, offset: 0, where: "kind = 'episode' AND env_id = ? AND status = ?", params: ["env-7", "submitted"], by: `${SCORE_SQL.ftrl} DESC` },
    { name: "status, by score, page 200", query: { statuses: ["submitted"] }, order: { sort: "score", dir: "desc" }, offset: 10_000, where: "kind = 'episode' AND status = ?", params: ["submitted"], by: `${SCORE_SQL.ftrl} DESC` },
    { name: "score range, newest first", query: { minScore: 0.4, maxScore: 0.6 }, order: { sort: "started", dir: "desc" }, offset: 0, where: `kind = 'episode' AND ${SCORE_SQL.ftrl} BETWEEN ? AND ?`, params: [0.4, 0.6], by: "started_at DESC" },
    { name: "one model, by score, page 100", query: { agent: "random" }, order: { sort: "score", dir: "asc" }, offset: 5_000, where: `kind = 'episode' AND ${AGENT_SQL} = ?`, params: ["random"], by: `${SCORE_SQL.ftrl} ASC` },
    { name: "everything, by model", query: {}, order: { sort: "agent", dir: "asc" }, offset: 0, where: "kind = 'episode'", params: [], by: `${AGENT_SQL} ASC` },
    { name: "everything, by calls, page 400", query: {}, order: { sort: "calls", dir: "desc" }, offset: 20_000, where: "kind = 'episode'", params: [], by: "call_count DESC" },
    { name: "a client, by task", query: { clientName: "claude-code" }, order: { sort: "task", dir: "asc" }, offset: 0, where: "kind = 'episode' AND client_name = ?", params: ["claude-code"], by: "task_id ASC" },
  ];
  console.log("\nview: one page of 50 episodes with its total count (median of 7, ms)");
  console.log(`${"query".padEnd(34)} ${"viewer".padStart(8)} ${"plain".padStart(8)}  ratio`);
  let sumViewer = 0;
  let sumPlain = 0;
  for (const c of cases) {
    const mine = median(() => browseEpisodes(records, c.query, c.order, { limit: 50, offset: c.offset }));
    const count = plain.prepare(`SELECT count(*) FROM episodes WHERE ${c.where}`).pluck();
    const page = plain.prepare(`SELECT *, ${AGENT_SQL} AS agent FROM episodes WHERE ${c.where} ORDER BY ${c.by}, rowid LIMIT 50 OFFSET ?`);
    const theirs = median(() => (count.get(...c.params), page.all(...c.params, c.offset)));
    sumViewer += mine;
    sumPlain += theirs;
    console.log(`${c.name.padEnd(34)} ${mine.toFixed(1).padStart(8)} ${theirs.toFixed(1).padStart(8)}  ${(theirs / mine).toFixed(1)}x faster`);
  }
  console.log(`${"all pages".padEnd(34)} ${sumViewer.toFixed(1).padStart(8)} ${sumPlain.toFixed(1).padStart(8)}  ${(sumPlain / sumViewer).toFixed(1)}x faster`);

  console.log("\nview: whole-index reads (median of 7, ms; cached between changes in the viewer)");
  const q: EpisodeQuery = { excludeFailed: true };
  for (const [name, f] of [
    ["filter values (facets)", () => episodeFacets(records)],
    ["reward histogram", () => scoreHistogram(records, q)],
    ["precision/rate per agent", () => agentSums(records, q)],
    ["GRPO groups, first page", () => scoreGroups(records, q)],
  ] as const) {
    console.log(`${name.padEnd(34)} ${median(f).toFixed(1).padStart(8)}`);
  }

  const viewer = new Viewer({ records, environments: [] });
  const server = await startViewServer({ viewer });
  const fetchTime = (path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      request(`${server.url}${path.slice(1)}`, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - start) : reject(new Error(`${path}: ${res.statusCode}`))));
      })
        .on("error", reject)
        .end();
    });
  console.log("\nview: HTTP pages from a 127.0.0.1 server (median of 7, ms)");
  for (const path of ["/", "/?status=submitted&sort=score&page=200", "/?model=random&min_score=0.5&sort=calls", "/episodes/syn-4242", "/charts"]) {
    const times: number[] = [];
    for (let i = 0; i <= RUNS; i++) times.push(await fetchTime(path));
    // The first request warms the caches; the charts page is then served from its cache until the data changes.
    console.log(`${path.padEnd(44)} ${times.slice(1).sort((a, b) => a - b)[Math.floor(RUNS / 2)]!.toFixed(1).padStart(8)}   (first: ${times[0]!.toFixed(1)})`);
  }
  await server.close();
  records.close();
  plain.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
