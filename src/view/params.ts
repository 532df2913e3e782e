// The viewer's query string: filters, sort and page, parsed strictly (a bad value is a clear error) and written back into links.
import { EPISODE_SORTS, type EpisodeSort } from "../store/index.ts";
import { EpisodeStatus, RewardMode, SCENARIOS, type Scenario } from "../schema/index.ts";

/** The highest complexity level: the strategies' own 0-3 scale (see `complexityLevel`). */
export const MAX_COMPLEXITY = 3;
export const MAX_PER_PAGE = 500;
export const DEFAULT_PER_PAGE = 50;

/** Where an episode came from: recorded by envforge (the default list), or stored by `envforge import`. */
export const SOURCES = { recorded: "episode", imported: "imported" } as const;
export type Source = keyof typeof SOURCES;

export interface Filters {
  /** Unset: recorded episodes. */
  source?: Source;
  env?: string;
  task?: string;
  /** The agent a rollout is credited to: the runner's policy or model, else `client:<name>`. */
  model?: string;
  client?: string;
  scenario?: Scenario;
  complexity?: number;
  status?: EpisodeStatus[];
  minScore?: number;
  maxScore?: number;
}

export interface ListParams {
  filters: Filters;
  mode: RewardMode;
  sort: EpisodeSort;
  dir: "asc" | "desc";
  page: number;
  perPage: number;
  /** Which page of GRPO groups the charts show. */
  groupsPage: number;
  /** Count episodes without a tool call (health checks) in the charts; left out by default, as in `score --db`. */
  includeEmpty: boolean;
}

/** A query string the viewer cannot act on; the message says which parameter and why. */
export class ParamError extends Error {}

const KNOWN = new Set(["source", "env", "task", "model", "client", "scenario", "complexity", "status", "min_score", "max_score", "mode", "sort", "dir", "page", "per_page", "groups_page", "include_empty", "partial"]);

function text(q: URLSearchParams, name: string): string | undefined {
  const values = q.getAll(name).map((v) => v.trim()).filter((v) => v !== "");
  if (values.length > 1) throw new ParamError(`${name} is given ${values.length} times; give it once`);
  const v = values[0];
  if (v !== undefined && v.length > 500) throw new ParamError(`${name} is longer than 500 characters`);
  return v;
}

function int(q: URLSearchParams, name: string, lo: number, hi: number): number | undefined {
  const v = text(q, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new ParamError(`${name} must be a whole number from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  return Number(v);
}

function score(q: URLSearchParams, name: string): number | undefined {
  const v = text(q, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^[0-9.eE+-]+$/.test(v) || !Number.isFinite(n) || n < 0 || n > 1) throw new ParamError(`${name} must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  return n;
}

function oneOf<T extends string>(q: URLSearchParams, name: string, options: readonly T[]): T | undefined {
  const v = text(q, name);
  if (v === undefined) return undefined;
  if (!(options as readonly string[]).includes(v)) throw new ParamError(`${name} must be one of ${options.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Parses the list and chart parameters; unknown parameters are refused so a typo is not silently ignored. */
export function parseParams(q: URLSearchParams): ListParams {
  for (const name of q.keys()) if (!KNOWN.has(name)) throw new ParamError(`unknown parameter ${JSON.stringify(name)}; known: ${[...KNOWN].join(", ")}`);
  const statusText = text(q, "status");
  const status = statusText?.split(",").map((s) => s.trim());
  for (const s of status ?? []) if (!EpisodeStatus.safeParse(s).success) throw new ParamError(`status must be among ${EpisodeStatus.options.join(", ")}, got ${JSON.stringify(s)}`);
  const filters: Filters = {};
  const set = <K extends keyof Filters>(key: K, value: Filters[K] | undefined): void => {
    if (value !== undefined) filters[key] = value;
  };
  set("source", oneOf(q, "source", Object.keys(SOURCES) as Source[]));
  set("env", text(q, "env"));
  set("task", text(q, "task"));
  set("model", text(q, "model"));
  set("client", text(q, "client"));
  set("scenario", oneOf(q, "scenario", SCENARIOS));
  set("complexity", int(q, "complexity", 0, MAX_COMPLEXITY));
  set("status", status as EpisodeStatus[] | undefined);
  set("minScore", score(q, "min_score"));
  set("maxScore", score(q, "max_score"));
  if (filters.minScore !== undefined && filters.maxScore !== undefined && filters.minScore > filters.maxScore) {
    throw new ParamError(`min_score (${filters.minScore}) is above max_score (${filters.maxScore})`);
  }
  return {
    filters,
    mode: oneOf(q, "mode", RewardMode.options) ?? "ftrl",
    sort: oneOf(q, "sort", EPISODE_SORTS) ?? "started",
    dir: oneOf(q, "dir", ["asc", "desc"] as const) ?? "desc",
    page: int(q, "page", 1, 1_000_000_000) ?? 1,
    perPage: int(q, "per_page", 1, MAX_PER_PAGE) ?? DEFAULT_PER_PAGE,
    groupsPage: int(q, "groups_page", 1, 1_000_000_000) ?? 1,
    includeEmpty: (int(q, "include_empty", 0, 1) ?? 0) === 1,
  };
}

/** The query string of `p` with `change` applied, leaving out defaults so links stay short and stable. */
export function queryString(p: ListParams, change: Partial<Omit<ListParams, "filters">> = {}): string {
  const v = { ...p, ...change };
  const f = v.filters;
  const pairs: [string, string | number | undefined][] = [
    ["source", f.source === "recorded" ? undefined : f.source],
    ["env", f.env],
    ["task", f.task],
    ["model", f.model],
    ["client", f.client],
    ["scenario", f.scenario],
    ["complexity", f.complexity],
    ["status", f.status?.join(",")],
    ["min_score", f.minScore],
    ["max_score", f.maxScore],
    ["mode", v.mode === "ftrl" ? undefined : v.mode],
    ["sort", v.sort === "started" ? undefined : v.sort],
    ["dir", v.dir === "desc" ? undefined : v.dir],
    ["page", v.page === 1 ? undefined : v.page],
    ["per_page", v.perPage === DEFAULT_PER_PAGE ? undefined : v.perPage],
    ["groups_page", v.groupsPage === 1 ? undefined : v.groupsPage],
    ["include_empty", v.includeEmpty ? 1 : undefined],
  ];
  const q = new URLSearchParams();
  for (const [k, val] of pairs) if (val !== undefined) q.set(k, String(val));
  const s = q.toString();
  return s ? `?${s}` : "";
}
