// Viewer queries: filtered, sorted, paged episode lists, facets, chart aggregates and change polling, each served by an index at 100,000+ episodes.
import type { EpisodeKind, EpisodeStatus, RewardMode } from "../schema/index.ts";
import { episodeRow, type EpisodeRow, type Records } from "./reader.ts";

/**
 * SQL for values kept inside JSON columns. Migration 2 indexes these exact expressions, and
 * SQLite uses an expression index only for the identical expression: never reword them.
 */
export const AGENT_SQL = `coalesce(json_extract(final_meta, '$."envforge/run".agent'), 'client:' || nullif(client_name, ''), 'unknown')`;
export type ScoreMetric = "solve_f1" | "solve_precision" | "solve_rate";
export const metricSql = (mode: RewardMode, metric: ScoreMetric): string => `json_extract(score, '$.${mode}.${metric}')`;
export const SCORE_SQL: Readonly<Record<RewardMode, string>> = { ftrl: metricSql("ftrl", "solve_f1"), strict: metricSql("strict", "solve_f1") };
export const RUN_END_SQL = `json_extract(final_meta, '$."envforge/run".end')`;

/** What a list may be sorted by; `scenario` and `complexity` are environment attributes the caller groups environments by. */
export const EPISODE_SORTS = ["started", "ended", "id", "env", "task", "scenario", "complexity", "agent", "client", "status", "calls", "solved", "score"] as const;
export type EpisodeSort = (typeof EPISODE_SORTS)[number];

export interface EpisodeQuery {
  /** Only episodes of these environments; an empty list matches nothing. */
  envIds?: readonly string[];
  taskId?: string;
  /** The runner's agent (policy or model), else `client:<name>`, else `unknown`: as `agentOf` in src/export. */
  agent?: string;
  clientName?: string;
  statuses?: readonly EpisodeStatus[];
  /** `episode` unless told; `all` takes catalog and proxy sessions too. */
  kind?: EpisodeKind | "all";
  /** Which reward the score bounds, the score sort and the aggregates read (solve_f1); ftrl unless told. */
  mode?: RewardMode;
  minScore?: number;
  maxScore?: number;
  /** Leave out rollouts the runner marked failed (its model endpoint failed), as the score tables do. */
  excludeFailed?: boolean;
  /** Leave out episodes in which the client called no tool, not even submit_answer (health checks), as the score tables do: `isEmptyEpisode` in src/export. */
  excludeEmpty?: boolean;
}

export interface EpisodeOrder {
  sort: EpisodeSort;
  dir: "asc" | "desc";
  /**
   * For `scenario` and `complexity`: environment ids grouped by that attribute, groups in
   * ascending order of it; episodes of environments in no group sort as null.
   */
  envGroups?: readonly (readonly string[])[];
}

/** An episode as a list shows it: the stored row plus the agent it is credited to. */
export type BrowseRow = EpisodeRow & { agent: string };

export interface BrowsePage {
  rows: BrowseRow[];
  /** Episodes matching the query, ignoring limit and offset. */
  total: number;
}

type Raw = Record<string, unknown>;

/** The WHERE clause of a query and its parameters, in order. No value is ever spliced into the SQL text. */
function whereOf(q: EpisodeQuery, extra: string[] = []): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const kind = q.kind ?? "episode";
  if (kind !== "all") (where.push("kind = ?"), params.push(kind));
  if (q.envIds !== undefined) {
    if (q.envIds.length === 1) (where.push("env_id = ?"), params.push(q.envIds[0]));
    else (where.push("env_id IN (SELECT value FROM json_each(?))"), params.push(JSON.stringify(q.envIds)));
  }
  if (q.taskId !== undefined) (where.push("task_id = ?"), params.push(q.taskId));
  if (q.agent !== undefined) (where.push(`${AGENT_SQL} = ?`), params.push(q.agent));
  if (q.clientName !== undefined) (where.push("client_name = ?"), params.push(q.clientName));
  if (q.statuses !== undefined) {
    where.push(`status IN (${q.statuses.map(() => "?").join(", ") || "NULL"})`);
    params.push(...q.statuses);
  }
  const score = SCORE_SQL[q.mode ?? "ftrl"];
  if (q.minScore !== undefined) (where.push(`${score} >= ?`), params.push(q.minScore));
  if (q.maxScore !== undefined) (where.push(`${score} <= ?`), params.push(q.maxScore));
  if (q.excludeFailed) where.push(`${RUN_END_SQL} IS NOT 'error'`);
  // Both columns are in the covering index, so the charts stay index-only.
  if (q.excludeEmpty) where.push("(call_count > 0 OR status = 'submitted')");
  where.push(...extra);
  return { sql: where.length ? `WHERE ${where.join(" AND ")}` : "", params };
}

/** Sorts on one column or indexed expression. */
const SORT_COLUMNS: Readonly<Partial<Record<EpisodeSort, string>>> = {
  started: "started_at",
  ended: "ended_at",
  id: "id",
  env: "env_id",
  task: "task_id",
  agent: AGENT_SQL,
  client: "client_name",
  status: "status",
  calls: "call_count",
};

/** The ORDER BY expression of a sort and its parameters. */
function orderOf(order: EpisodeOrder, mode: RewardMode): { expr: string; params: unknown[] } {
  const column = SORT_COLUMNS[order.sort];
  if (column !== undefined) return { expr: column, params: [] };
  if (order.sort === "solved") return { expr: mode === "strict" ? "solved_strict" : "solved_ftrl", params: [] };
  if (order.sort === "score") return { expr: SCORE_SQL[mode], params: [] };
  // scenario, complexity: few groups, each an IN over a list SQLite indexes once, so a few lookups per row.
  const groups = order.envGroups ?? [];
  if (groups.length === 0) return { expr: "NULL", params: [] };
  const arms = groups.map((_, i) => `WHEN env_id IN (SELECT value FROM json_each(?)) THEN ${i}`).join(" ");
  return { expr: `CASE ${arms} END`, params: groups.map((g) => JSON.stringify(g)) };
}

const clampInt = (n: number | undefined, lo: number, hi: number, fallback: number): number =>
  n === undefined || !Number.isFinite(n) ? fallback : Math.max(lo, Math.min(hi, Math.trunc(n)));

/**
 * One page of episodes. The sort runs over rowids read from the covering index, and only the
 * page's rows are then read whole. Ties (and nulls, which SQLite sorts lowest) fall back to
 * the rowid in the same direction, which every index carries, so pages never overlap or skip.
 */
export function browseEpisodes(records: Records, query: EpisodeQuery, order: EpisodeOrder, page: { limit?: number; offset?: number } = {}): BrowsePage {
  const db = records.db;
  const { sql, params } = pageSql(query, order);
  const limit = clampInt(page.limit, 0, 10_000, 50);
  const offset = clampInt(page.offset, 0, Number.MAX_SAFE_INTEGER, 0);
  const where = whereOf(query);
  // A score bound alone is counted best off its own index; with other filters the planner would pick that index anyway and read whole rows for the rest.
  const scoreBound = query.minScore !== undefined || query.maxScore !== undefined;
  const others = filtered({ ...query, minScore: undefined, maxScore: undefined });
  const countHint = (query.kind ?? "episode") !== "all" && scoreBound && others ? " INDEXED BY episodes_browse" : "";
  const total = db.prepare(`SELECT count(*) FROM episodes${countHint} ${where.sql}`).pluck().get(...where.params) as number;
  const rowids = db.prepare(`${sql} LIMIT ? OFFSET ?`).pluck().all(...params, limit, offset) as number[];
  if (rowids.length === 0) return { rows: [], total };
  const byRowid = new Map<number, BrowseRow>();
  const rows = db.prepare(`SELECT rowid AS rowid_, *, ${AGENT_SQL} AS agent FROM episodes WHERE rowid IN (SELECT value FROM json_each(?))`).all(JSON.stringify(rowids)) as Raw[];
  for (const r of rows) {
    const { rowid_, ...rest } = r;
    byRowid.set(rowid_ as number, episodeRow(rest) as BrowseRow);
  }
  return { rows: rowids.flatMap((id) => byRowid.get(id) ?? []), total };
}

const filtered = (q: EpisodeQuery): boolean =>
  [q.envIds, q.taskId, q.agent, q.clientName, q.statuses, q.minScore, q.maxScore].some((v) => v !== undefined) || q.excludeFailed === true || q.excludeEmpty === true;

/**
 * Without statistics SQLite prefers an index in the sort's order and then reads whole rows to
 * test each filter, which costs a table read per skipped row on deep or narrow pages. So a
 * filtered or differently sorted page names the covering index: one narrow scan, then a sort
 * of rowids. The id sort (not in that index) and kind `all` are left to the planner.
 */
function pageSql(query: EpisodeQuery, order: EpisodeOrder): { sql: string; params: unknown[] } {
  const where = whereOf(query);
  const by = orderOf(order, query.mode ?? "ftrl");
  const dir = order.dir === "asc" ? "ASC" : "DESC";
  const indexOrdered = !filtered(query) && (order.sort === "started" || order.sort === "score");
  const hint = (query.kind ?? "episode") !== "all" && order.sort !== "id" && !indexOrdered ? " INDEXED BY episodes_browse" : "";
  return { sql: `SELECT rowid FROM episodes${hint} ${where.sql} ORDER BY ${by.expr} ${dir}, rowid ${dir}`, params: [...where.params, ...by.params] };
}

/** The query plan of a page query, for tests that check an index serves it. */
export function explainBrowse(records: Records, query: EpisodeQuery, order: EpisodeOrder): string[] {
  const { sql, params } = pageSql(query, order);
  return (records.db.prepare(`EXPLAIN QUERY PLAN ${sql} LIMIT 50`).all(...params) as { detail: string }[]).map((p) => p.detail);
}

export interface FacetValue {
  value: string;
  count: number;
}

export interface EpisodeFacets {
  envs: FacetValue[];
  tasks: FacetValue[];
  agents: FacetValue[];
  clients: FacetValue[];
  statuses: FacetValue[];
}

/**
 * The scored episodes that match a query, as a materialized table of the named columns. SQLite
 * reads expressions from an index only outside aggregate functions, so aggregates run over this
 * (filled from the covering index) rather than over the table's wide rows.
 */
function scored(query: EpisodeQuery, columns: Record<string, string>, requireScore = true): { cte: string; params: unknown[] } {
  const where = whereOf(query, requireScore ? [`${SCORE_SQL[query.mode ?? "ftrl"]} IS NOT NULL`] : []);
  const list = Object.entries(columns).map(([name, expr]) => `${expr} AS ${name}`).join(", ");
  return { cte: `WITH s AS MATERIALIZED (SELECT ${list} FROM episodes ${where.sql})`, params: where.params };
}

/** The values each filter can take, most frequent first, at most `limit` of each, in one pass over the index. */
export function episodeFacets(records: Records, limit = 500): EpisodeFacets {
  const names = ["envs", "tasks", "agents", "clients", "statuses"] as const;
  const s = scored({}, { envs: "env_id", tasks: "task_id", agents: AGENT_SQL, clients: "client_name", statuses: "status" }, false);
  const arms = names.map(
    (n) => `SELECT * FROM (SELECT '${n}' AS facet, ${n} AS value, count(*) AS count FROM s WHERE ${n} IS NOT NULL GROUP BY ${n} ORDER BY count DESC, value LIMIT ${limit | 0})`,
  );
  const rows = records.db.prepare(`${s.cte} ${arms.join(" UNION ALL ")}`).all(...s.params) as (FacetValue & { facet: (typeof names)[number] })[];
  const out: EpisodeFacets = { envs: [], tasks: [], agents: [], clients: [], statuses: [] };
  for (const { facet, value, count } of rows) out[facet].push({ value, count });
  return out;
}

/** Scored episodes per environment and score bin: bin b holds scores in [b/bins, (b+1)/bins), the last bin also 1. */
export interface ScoreBinCount {
  envId: string | null;
  bin: number;
  count: number;
  sum: number;
}

export function scoreHistogram(records: Records, query: EpisodeQuery, bins = 10): ScoreBinCount[] {
  const s = scored(query, { env_id: "env_id", f: SCORE_SQL[query.mode ?? "ftrl"] });
  return records.db
    .prepare(`${s.cte} SELECT env_id AS envId, min(max(CAST(f * ? AS INTEGER), 0), ? - 1) AS bin, count(*) AS count, sum(f) AS sum FROM s GROUP BY env_id, bin`)
    .all(...s.params, bins, bins) as ScoreBinCount[];
}

/** Per agent: how many scored episodes, and sums for the mean and spread of precision, rate and f1. */
export interface AgentSums {
  agent: string;
  count: number;
  precision: number;
  precisionSq: number;
  rate: number;
  rateSq: number;
  f1: number;
}

export function agentSums(records: Records, query: EpisodeQuery): AgentSums[] {
  const mode = query.mode ?? "ftrl";
  const s = scored(query, { agent: AGENT_SQL, p: metricSql(mode, "solve_precision"), r: metricSql(mode, "solve_rate"), f: metricSql(mode, "solve_f1") });
  return records.db
    .prepare(
      `${s.cte} SELECT agent, count(*) AS count, sum(p) AS precision, sum(p * p) AS precisionSq, sum(r) AS rate, sum(r * r) AS rateSq, sum(f) AS f1
       FROM s GROUP BY agent ORDER BY agent`,
    )
    .all(...s.params) as AgentSums[];
}

/** A GRPO group: the scored rollouts of one agent on one task. */
export interface ScoreGroup {
  envId: string | null;
  taskId: string | null;
  agent: string;
  /** The group's scores (solve_f1), in the order the episodes started. */
  scores: number[];
}

export interface ScoreGroups {
  /** Groups of at least `minSize` episodes that match the query. */
  total: number;
  /** Of those, groups whose scores are all equal: they give GRPO no advantage to learn from. */
  flat: number;
  groups: ScoreGroup[];
}

/** Groups of at least `minSize` scored episodes, a page of them in env, task, agent order, with their scores. */
export function scoreGroups(records: Records, query: EpisodeQuery, page: { limit?: number; offset?: number; minSize?: number } = {}): ScoreGroups {
  const score = SCORE_SQL[query.mode ?? "ftrl"];
  const s = scored(query, { env_id: "env_id", task_id: "task_id", agent: AGENT_SQL, f: score });
  const minSize = clampInt(page.minSize, 1, 1_000_000, 2);
  const db = records.db;
  const heads = db
    .prepare(
      `${s.cte}, g AS (SELECT env_id, task_id, agent, count(*) AS n, min(f) AS lo, max(f) AS hi FROM s GROUP BY env_id, task_id, agent HAVING n >= ?)
       SELECT env_id AS envId, task_id AS taskId, agent, count(*) OVER () AS total, sum(lo = hi) OVER () AS flat FROM g
       ORDER BY env_id, task_id, agent LIMIT ? OFFSET ?`,
    )
    .all(...s.params, minSize, clampInt(page.limit, 0, 1000, 40), clampInt(page.offset, 0, Number.MAX_SAFE_INTEGER, 0)) as (Omit<ScoreGroup, "scores"> & { total: number; flat: number })[];
  // A group's members are few: find them by environment and task, then test the rest.
  const member = whereOf(query, [`${score} IS NOT NULL`, "env_id IS ?", "task_id IS ?", `${AGENT_SQL} = ?`]);
  const values = db.prepare(`SELECT ${score} FROM episodes INDEXED BY episodes_env_task ${member.sql} ORDER BY started_at, rowid`).pluck();
  const groups = heads.map(({ envId, taskId, agent }) => ({ envId, taskId, agent, scores: values.all(...member.params, envId, taskId, agent) as number[] }));
  const first = heads[0];
  if (first) return { total: first.total, flat: first.flat, groups };
  const summary = db
    .prepare(`${s.cte} SELECT count(*) AS total, coalesce(sum(lo = hi), 0) AS flat FROM (SELECT count(*) AS n, min(f) AS lo, max(f) AS hi FROM s GROUP BY env_id, task_id, agent HAVING n >= ?)`)
    .get(...s.params, minSize) as { total: number; flat: number };
  return { ...summary, groups };
}

/** What a live view compares to notice that an episode moved on. */
export interface EpisodeState {
  rowid: number;
  id: string;
  kind: EpisodeKind;
  status: EpisodeStatus;
  callCount: number;
  solvedFtrl: number;
  solvedStrict: number;
}

/**
 * Changes as cheap to poll as SQLite allows: `data_version` moves when another connection (or
 * process) commits, `total_changes()` when this connection writes (the server's own recorder).
 */
export function changeToken(records: Records): string {
  const db = records.db;
  const version = db.pragma("data_version", { simple: true }) as number;
  const mine = db.prepare("SELECT total_changes()").pluck().get() as number;
  return `${version}:${mine}`;
}

/**
 * Episodes inserted after `afterRowid`, plus the current state of every running episode and
 * of the `watch` ids (episodes that were running when last looked at), oldest first.
 */
export function episodeStates(records: Records, afterRowid: number, watch: readonly string[] = []): EpisodeState[] {
  return records.db
    .prepare(
      `SELECT rowid, id, kind, status, call_count AS callCount, solved_ftrl AS solvedFtrl, solved_strict AS solvedStrict FROM episodes
       WHERE rowid > ? OR status = 'running' OR id IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
    )
    .all(afterRowid, JSON.stringify(watch)) as EpisodeState[];
}

export function lastEpisodeRowid(records: Records): number {
  return records.db.prepare("SELECT coalesce(max(rowid), 0) FROM episodes").pluck().get() as number;
}
