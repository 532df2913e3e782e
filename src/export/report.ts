// Score tables from the database: metrics with 95% intervals per environment, scenario, complexity and model, and per-group GRPO statistics.
import type { EpisodeRow, Records } from "../store/index.ts";
import { confidenceInterval, grpoAdvantages, mean, passAtK, sampleStd, succeeded, type Interval } from "../score/index.ts";
import { complexityLabel, plural, type Environment, type EpisodeScore, type RewardMode } from "../schema/index.ts";
import { recordedEpisodes } from "./rows.ts";
import { agentOf, runMetaOf, scoreOf } from "./transcript.ts";

export interface ReportOptions {
  mode?: RewardMode;
  envId?: string;
  model?: string;
  /** Average every model and client together in the environment, scenario and complexity tables (by default each gets its own rows). */
  pool?: boolean;
  /** Count episodes in which the client called no tool at all (health checks such as `claude mcp list`); left out by default. */
  includeEmpty?: boolean;
}

export interface MetricRow {
  key: string;
  /** The model or client these rows average; null in the model table (the key is the model) and when pooled. */
  model: string | null;
  episodes: number;
  solve_precision: Interval;
  solve_rate: Interval;
  solve_f1: Interval;
  /** Share of episodes whose submitted answer holds the task's final answer (no answer counts as wrong). */
  answer_accuracy: Interval;
  /** Mean state_match over the episodes of tasks that declare a final state; null when there are none. */
  state_match: Interval | null;
}

/** One GRPO group: the rollouts of one agent on one task. */
export interface GroupStats {
  env: string;
  task: string;
  model: string;
  n: number;
  /** Episode ids, by rollout index where the runner gave one. */
  episodes: string[];
  /** The group reward of each rollout: its solve_f1. */
  rewards: number[];
  mean: number;
  std: number;
  /** verl's GRPO outcome advantages of the rewards. */
  advantages: number[];
  /** Rollouts that succeeded: solve_rate 1 and the answer correct. */
  successes: number;
  pass_at_1: number;
  /** pass@n for the whole group; null for a group of one (it equals pass@1). */
  pass_at_n: number | null;
}

export interface Report {
  mode: RewardMode;
  /** What the tables count and how success is defined, for readers of the JSON. */
  definitions: { group_reward: string; success: string; interval: string; complexity: string; rows: string };
  episodes: {
    /** Episodes read (after the environment and model filters). */
    read: number;
    /** Episodes in the tables. */
    scored: number;
    /** Left out: `failed` (the runner's model endpoint failed), `superseded` (a later attempt of the same rollout counts), `no calls` (the client called no tool: a health check), else the status of an episode with no score. */
    excluded: Record<string, number>;
  };
  tables: { environment: MetricRow[]; scenario: MetricRow[]; complexity: MetricRow[]; model: MetricRow[] };
  groups: GroupStats[];
}

interface Scored {
  episode: EpisodeRow;
  score: EpisodeScore;
  agent: string;
  env: Environment | undefined;
  k: number | null;
}

const complexityKey = (env: Environment | undefined): string => (env ? complexityLabel(env.complexity) : "unknown");

/**
 * An episode in which the client called no tool, not even `submit_answer`: a health check
 * (`claude mcp list`, an Inspector connect) rather than an attempt. A rollout whose model
 * answered without tools submits its answer, so it still counts. src/store's
 * `excludeEmpty` is the same rule in SQL.
 */
export const isEmptyEpisode = (episode: EpisodeRow): boolean => episode.callCount === 0 && episode.status !== "submitted";

function metricRow(key: string, model: string | null, rows: readonly Scored[]): MetricRow {
  const pick = (f: (s: EpisodeScore) => number): Interval => confidenceInterval(rows.map((r) => f(r.score)));
  return {
    key,
    model,
    episodes: rows.length,
    solve_precision: pick((s) => s.solve_precision),
    solve_rate: pick((s) => s.solve_rate),
    solve_f1: pick((s) => s.solve_f1),
    answer_accuracy: pick((s) => (s.answer_correct === true ? 1 : 0)),
    state_match: rows.some((r) => r.score.state) ? confidenceInterval(rows.filter((r) => r.score.state).map((r) => r.score.state!.state_match)) : null,
  };
}

/** Rows by `keyOf`, and by model or client unless `pooled`: averaging an oracle with a random policy describes neither. */
function table(rows: readonly Scored[], keyOf: (r: Scored) => string, pooled: boolean): MetricRow[] {
  const groups = new Map<string, Scored[]>();
  for (const r of rows) {
    const key = JSON.stringify([keyOf(r), pooled ? null : r.agent]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, rs]) => {
      const [k, model] = JSON.parse(key) as [string, string | null];
      return metricRow(k, model, rs);
    });
}

export { succeeded };

/** Builds the report over every recorded episode that has a score. */
export function buildReport(records: Records, environments: readonly Environment[], options: ReportOptions = {}): Report {
  const mode = options.mode ?? "ftrl";
  const envs = new Map(environments.map((e) => [e.id, e]));
  const excluded: Record<string, number> = {};
  const exclude = (why: string): void => void (excluded[why] = (excluded[why] ?? 0) + 1);
  // The latest attempt of each rollout; episodes from other clients are their own rollout.
  const latest = new Map<string, { attempt: number; row: Scored }>();
  let read = 0;
  for (const episode of recordedEpisodes(records, options.envId)) {
    const agent = agentOf(episode);
    if (options.model !== undefined && agent !== options.model) continue;
    read++;
    const run = runMetaOf(episode);
    const score = scoreOf(episode, mode);
    if (run?.end === "error") exclude("failed");
    else if (!options.includeEmpty && isEmptyEpisode(episode)) exclude("no calls");
    else if (!score) exclude(episode.status);
    else {
      const key = run?.rollout ?? episode.id;
      const attempt = run?.attempt ?? 1;
      const prior = latest.get(key);
      if (prior) exclude("superseded");
      if (!prior || prior.attempt < attempt) latest.set(key, { attempt, row: { episode, score, agent, env: envs.get(episode.envId ?? ""), k: run?.k ?? null } });
    }
  }
  const rows = [...latest.values()].map((v) => v.row);
  const pooled = options.pool === true;

  const groupMap = new Map<string, Scored[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.episode.envId, r.episode.taskId, r.agent]);
    groupMap.set(key, [...(groupMap.get(key) ?? []), r]);
  }
  const groups: GroupStats[] = [...groupMap.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, rs]) => {
      const ordered = [...rs].sort((a, b) => (a.k ?? 0) - (b.k ?? 0) || (a.episode.id < b.episode.id ? -1 : 1));
      const rewards = ordered.map((r) => r.score.solve_f1);
      const n = rewards.length;
      const c = ordered.filter((r) => succeeded(r.score)).length;
      const first = ordered[0]!;
      return {
        env: first.episode.envId ?? "",
        task: first.episode.taskId ?? "",
        model: first.agent,
        n,
        episodes: ordered.map((r) => r.episode.id),
        rewards,
        mean: mean(rewards),
        std: sampleStd(rewards),
        advantages: grpoAdvantages(rewards),
        successes: c,
        pass_at_1: passAtK(n, c, 1),
        pass_at_n: n > 1 ? passAtK(n, c, n) : null,
      };
    });

  return {
    mode,
    definitions: {
      group_reward: `solve_f1 of the episode (${mode} reward)`,
      success: "solve_rate == 1 and the submitted answer contains the final answer (and, for tasks with a final state, state_match == 1)",
      interval: "95% two-sided, Student t with n-1 degrees of freedom; null below two episodes",
      complexity: "level N when all four scaling strategies are at level N, else fgA peB ptgC teD (functional generalization, parameter expansion, parameter type generalization, toolset extension)",
      rows: options.pool ? "every model and client averaged together" : "one row per key and model or client (the model table: one per model or client)",
    },
    episodes: { read, scored: rows.length, excluded },
    tables: {
      environment: table(rows, (r) => r.episode.envId ?? "unknown", pooled),
      scenario: table(rows, (r) => r.env?.scenario ?? "unknown", pooled),
      complexity: table(rows, (r) => complexityKey(r.env), pooled),
      model: table(rows, (r) => r.agent, true),
    },
    groups,
  };
}

const fmt = (x: number | null): string => (x === null || Number.isNaN(x) ? "-" : x.toFixed(3));
const withHalf = (i: Interval): string => (i.half_width === null ? fmt(i.mean) : `${fmt(i.mean)} ± ${fmt(i.half_width)}`);

/** A plain-text table: the first `textColumns` columns left-aligned, the numbers after them right-aligned. */
function render(header: readonly string[], body: readonly string[][], textColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i < textColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The report as plain-text tables (the same numbers `--json` prints). */
export function formatReport(report: Report): string {
  const out: string[] = [];
  const { read, scored, excluded } = report.episodes;
  const left = Object.entries(excluded).map(([k, v]) => (k === "no calls" ? `${plural(v, "episode")} without a tool call (health checks; --include-empty counts them)` : `${v} ${k}`));
  out.push(`${scored} of ${plural(read, "episode")} scored (${report.mode} reward)${left.length ? `; left out: ${left.join(", ")}` : ""}. Means ± 95% CI half-width.`);
  for (const [name, rows] of Object.entries(report.tables)) {
    if (rows.length === 0) continue;
    const byModel = rows.some((r) => r.model !== null);
    const head = [name, ...(byModel ? ["model"] : []), "n", "precision", "rate", "f1", "answer", "state"];
    const cells = (r: MetricRow): string[] => [r.key, ...(byModel ? [r.model ?? ""] : []), String(r.episodes), withHalf(r.solve_precision), withHalf(r.solve_rate), withHalf(r.solve_f1), withHalf(r.answer_accuracy), r.state_match ? withHalf(r.state_match) : "-"];
    out.push("", render(head, rows.map(cells), byModel ? 2 : 1));
  }
  if (report.groups.length > 0) {
    out.push(
      "",
      render(
        ["group (env / task / model)", "n", "mean", "std", "pass@1", "pass@n", "advantages"],
        report.groups.map((g) => [`${g.env} / ${g.task} / ${g.model}`, String(g.n), fmt(g.mean), fmt(g.std), fmt(g.pass_at_1), fmt(g.pass_at_n), g.advantages.map((a) => a.toFixed(2)).join(" ")]),
      ),
    );
  }
  return `${out.join("\n")}\n`;
}
