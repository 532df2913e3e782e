// Score tables from the database: metrics with 95% intervals per environment, scenario, complexity and model, and per-group GRPO statistics.
import type { EpisodeRow, Records } from "../store/index.ts";
import { confidenceInterval, grpoAdvantages, mean, passAtK, sampleStd, succeeded, type Interval } from "../score/index.ts";
import type { Environment, EpisodeScore, RewardMode } from "../schema/index.ts";
import { recordedEpisodes } from "./rows.ts";
import { agentOf, runMetaOf, scoreOf } from "./transcript.ts";

export interface ReportOptions {
  mode?: RewardMode;
  envId?: string;
  model?: string;
}

export interface MetricRow {
  key: string;
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
  definitions: { group_reward: string; success: string; interval: string; complexity: string };
  episodes: {
    /** Episodes read (after the environment and model filters). */
    read: number;
    /** Episodes in the tables. */
    scored: number;
    /** Left out: `failed` (the runner's model endpoint failed), `superseded` (a later attempt of the same rollout counts), else the status of an episode with no score. */
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

/** `level N` when the four scaling strategies share level N (as in the shipped suite), else each strategy's level. */
const complexityKey = (env: Environment | undefined): string => {
  if (!env) return "unknown";
  const c = env.complexity;
  const levels = [c.functional_generalization, c.parameter_expansion, c.parameter_type_generalization, c.toolset_extension];
  return levels.every((l) => l === levels[0]) ? `level ${levels[0]}` : `fg${levels[0]} pe${levels[1]} ptg${levels[2]} te${levels[3]}`;
};

function metricRow(key: string, rows: readonly Scored[]): MetricRow {
  const pick = (f: (s: EpisodeScore) => number): Interval => confidenceInterval(rows.map((r) => f(r.score)));
  return {
    key,
    episodes: rows.length,
    solve_precision: pick((s) => s.solve_precision),
    solve_rate: pick((s) => s.solve_rate),
    solve_f1: pick((s) => s.solve_f1),
    answer_accuracy: pick((s) => (s.answer_correct === true ? 1 : 0)),
    state_match: rows.some((r) => r.score.state) ? confidenceInterval(rows.filter((r) => r.score.state).map((r) => r.score.state!.state_match)) : null,
  };
}

function table(rows: readonly Scored[], keyOf: (r: Scored) => string): MetricRow[] {
  const groups = new Map<string, Scored[]>();
  for (const r of rows) {
    const key = keyOf(r);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, rs]) => metricRow(key, rs));
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
    },
    episodes: { read, scored: rows.length, excluded },
    tables: {
      environment: table(rows, (r) => r.episode.envId ?? "unknown"),
      scenario: table(rows, (r) => r.env?.scenario ?? "unknown"),
      complexity: table(rows, (r) => complexityKey(r.env)),
      model: table(rows, (r) => r.agent),
    },
    groups,
  };
}

const fmt = (x: number | null): string => (x === null || Number.isNaN(x) ? "-" : x.toFixed(3));
const withHalf = (i: Interval): string => (i.half_width === null ? fmt(i.mean) : `${fmt(i.mean)} ± ${fmt(i.half_width)}`);

function render(header: readonly string[], body: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The report as plain-text tables (the same numbers `--json` prints). */
export function formatReport(report: Report): string {
  const out: string[] = [];
  const { read, scored, excluded } = report.episodes;
  const left = Object.entries(excluded).map(([k, v]) => `${v} ${k}`);
  out.push(`${scored} of ${read} episodes scored (${report.mode} reward)${left.length ? `; left out: ${left.join(", ")}` : ""}. Means ± 95% CI half-width.`);
  for (const [name, rows] of Object.entries(report.tables)) {
    if (rows.length === 0) continue;
    out.push("", render([name, "n", "precision", "rate", "f1", "answer", "state"], rows.map((r) => [r.key, String(r.episodes), withHalf(r.solve_precision), withHalf(r.solve_rate), withHalf(r.solve_f1), withHalf(r.answer_accuracy), r.state_match ? withHalf(r.state_match) : "-"])));
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
