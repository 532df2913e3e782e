// What the viewer's pages and JSON API show of the episode list: the environments' attributes joined to recorded rows, filters turned into record queries.
import { browseEpisodes, type BrowseRow, type EpisodeOrder, type EpisodeQuery, type Records } from "../store/index.ts";
import { complexityLabel, complexityLevel as levelOf, SCENARIOS, type Environment, type EpisodeStatus, type RewardMode, type Scenario } from "../schema/index.ts";
import { MAX_COMPLEXITY, SOURCES, type ListParams } from "./params.ts";

/** The level the viewer filters, sorts and charts by, on the 0-3 scale: the highest of the four strategies' levels (their shared level when they agree). */
export const complexityLevel = (env: Environment): number => levelOf(env.complexity);

/** The environments the viewer knows, by id; episodes of others still show, without scenario, complexity or recomputed scores. */
export class EnvIndex {
  readonly byId: ReadonlyMap<string, Environment>;

  constructor(environments: readonly Environment[]) {
    this.byId = new Map(environments.map((e) => [e.id, e]));
  }

  get(id: string | null): Environment | undefined {
    return id === null ? undefined : this.byId.get(id);
  }

  /** Environment ids of one scenario or complexity level, for filtering. */
  idsWhere(pred: (env: Environment) => boolean): string[] {
    return [...this.byId.values()].filter(pred).map((e) => e.id);
  }

  /** Environment ids grouped by scenario (in the method's order) or by complexity level, for sorting. */
  groups(by: "scenario" | "complexity"): string[][] {
    if (by === "scenario") return SCENARIOS.map((s) => this.idsWhere((e) => e.scenario === s));
    return Array.from({ length: MAX_COMPLEXITY + 1 }, (_, level) => this.idsWhere((e) => complexityLevel(e) === level));
  }
}

/** The record query and order for the list's parameters. */
export function recordQuery(p: ListParams, envs: EnvIndex): { query: EpisodeQuery; order: EpisodeOrder } {
  const f = p.filters;
  const query: EpisodeQuery = { mode: p.mode, kind: SOURCES[f.source ?? "recorded"] };
  // Scenario and complexity belong to environments: they narrow the set of environment ids.
  if (f.env !== undefined || f.scenario !== undefined || f.complexity !== undefined) {
    let ids = f.env !== undefined ? [f.env] : null;
    if (f.scenario !== undefined || f.complexity !== undefined) {
      const matching = envs.idsWhere((e) => (f.scenario === undefined || e.scenario === f.scenario) && (f.complexity === undefined || complexityLevel(e) === f.complexity));
      ids = ids === null ? matching : ids.filter((id) => matching.includes(id));
    }
    query.envIds = ids ?? [];
  }
  if (f.task !== undefined) query.taskId = f.task;
  if (f.model !== undefined) query.agent = f.model;
  if (f.client !== undefined) query.clientName = f.client;
  if (f.status !== undefined) query.statuses = f.status;
  if (f.minScore !== undefined) query.minScore = f.minScore;
  if (f.maxScore !== undefined) query.maxScore = f.maxScore;
  const order: EpisodeOrder = { sort: p.sort, dir: p.dir };
  if (p.sort === "scenario" || p.sort === "complexity") order.envGroups = envs.groups(p.sort);
  return { query, order };
}

/** One episode as the list and the JSON API show it. */
export interface ListRow {
  id: string;
  env: string | null;
  task: string | null;
  scenario: Scenario | null;
  /** 0-3: the highest of the four strategies' levels (`complexityLevel`). */
  complexity: number | null;
  /** `level N` when the four strategies share it, else each one's level (`fg1 pe2 ptg0 te3`). */
  complexity_label: string | null;
  /** The runner's policy or model, else `client:<name>`. */
  agent: string;
  client: string | null;
  status: EpisodeStatus;
  started_at: number;
  ended_at: number | null;
  /** Environment tool calls executed (p). */
  calls: number;
  /** Sub-answers the task needs (n). */
  needed: number | null;
  solved: Record<RewardMode, number>;
  /** solve_f1 of the finished episode in each reward mode; null while running or when unscored. */
  score: Record<RewardMode, number | null>;
  answer_correct: boolean | null;
}

export function listRow(r: BrowseRow, envs: EnvIndex): ListRow {
  const env = envs.get(r.envId);
  return {
    id: r.id,
    env: r.envId,
    task: r.taskId,
    scenario: env?.scenario ?? null,
    complexity: env ? complexityLevel(env) : null,
    complexity_label: env ? complexityLabel(env.complexity) : null,
    agent: r.agent,
    client: r.clientName,
    status: r.status,
    started_at: r.startedAt,
    ended_at: r.endedAt,
    calls: r.callCount,
    needed: r.needed,
    solved: { ftrl: r.solvedFtrl, strict: r.solvedStrict },
    score: { ftrl: r.score?.ftrl.solve_f1 ?? null, strict: r.score?.strict.solve_f1 ?? null },
    answer_correct: r.score?.ftrl.answer_correct ?? null,
  };
}

export interface ListPage {
  total: number;
  page: number;
  per_page: number;
  pages: number;
  mode: RewardMode;
  sort: ListParams["sort"];
  dir: ListParams["dir"];
  rows: ListRow[];
}

export function listPage(records: Records, envs: EnvIndex, p: ListParams): ListPage {
  const { query, order } = recordQuery(p, envs);
  const page = browseEpisodes(records, query, order, { limit: p.perPage, offset: (p.page - 1) * p.perPage });
  return {
    total: page.total,
    page: p.page,
    per_page: p.perPage,
    pages: Math.max(1, Math.ceil(page.total / p.perPage)),
    mode: p.mode,
    sort: p.sort,
    dir: p.dir,
    rows: page.rows.map((r) => listRow(r, envs)),
  };
}
