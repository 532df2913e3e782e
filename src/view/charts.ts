// The three charts, computed from record aggregates and drawn as SVG by our own code: reward by scenario x complexity, precision vs rate per agent, GRPO group spread.
import { agentSums, scoreGroups, scoreHistogram, type EpisodeQuery, type Records } from "../store/index.ts";
import { mean, sampleStd, tQuantile } from "../score/index.ts";
import { plural, SCENARIOS, type RewardMode } from "../schema/index.ts";
import { complexityLevel, recordQuery, type EnvIndex } from "./data.ts";
import { html, type Html } from "./html.ts";
import type { ListParams } from "./params.ts";

export const BINS = 10;
export const GROUPS_PER_PAGE = 30;

/** One scenario x complexity cell of the reward distribution. */
export interface RewardCell {
  scenario: string;
  /** 0-3, the highest of the four strategy levels (`complexityLevel`); null for environments not loaded here. */
  complexity: number | null;
  count: number;
  mean: number;
  /** Episodes per score bin: bin b holds solve_f1 in [b/10, (b+1)/10), the last one also 1. */
  bins: number[];
}

/** An agent's mean precision and rate with 95% t intervals (half-widths null below two episodes). */
export interface AgentPoint {
  agent: string;
  count: number;
  precision: number;
  precision_half: number | null;
  rate: number;
  rate_half: number | null;
  f1: number;
}

export interface GroupBox {
  env: string | null;
  task: string | null;
  agent: string;
  scores: number[];
  mean: number;
  std: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
}

export interface ChartsData {
  mode: RewardMode;
  /** Scored episodes in the charts (failed rollouts and, unless asked for, episodes without a tool call left out, as in the score tables). */
  episodes: number;
  /** Whether episodes without a tool call (health checks) are counted. */
  includeEmpty: boolean;
  reward: { scenarios: string[]; levels: (number | null)[]; cells: RewardCell[] };
  agents: AgentPoint[];
  groups: { total: number; flat: number; page: number; pages: number; items: GroupBox[] };
}

/** Quantile by linear interpolation between order statistics (numpy's default). */
function quantile(sorted: readonly number[], p: number): number {
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function halfWidth(n: number, sum: number, sumSq: number): number | null {
  if (n < 2) return null;
  const variance = Math.max(0, (sumSq - (sum * sum) / n) / (n - 1));
  return (tQuantile(0.975, n - 1) * Math.sqrt(variance)) / Math.sqrt(n);
}

export function chartsData(records: Records, envs: EnvIndex, p: ListParams): ChartsData {
  const query: EpisodeQuery = { ...recordQuery(p, envs).query, excludeFailed: true, excludeEmpty: !p.includeEmpty };

  const cells = new Map<string, RewardCell>();
  let episodes = 0;
  for (const b of scoreHistogram(records, query, BINS)) {
    const env = envs.get(b.envId);
    const scenario = env?.scenario ?? "unknown";
    const complexity = env ? complexityLevel(env) : null;
    const key = `${scenario}|${complexity}`;
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { scenario, complexity, count: 0, mean: 0, bins: new Array<number>(BINS).fill(0) }));
    cell.bins[b.bin]! += b.count;
    // mean holds the running sum until the end.
    cell.mean += b.sum;
    cell.count += b.count;
    episodes += b.count;
  }
  for (const cell of cells.values()) cell.mean /= cell.count;
  const present = [...cells.values()];
  const scenarios = [...SCENARIOS, "unknown"].filter((s) => present.some((c) => c.scenario === s));
  const levels = [...new Set(present.map((c) => c.complexity))].sort((a, b) => (a ?? 99) - (b ?? 99));

  const agents: AgentPoint[] = agentSums(records, query).map((s) => ({
    agent: s.agent,
    count: s.count,
    precision: s.precision / s.count,
    precision_half: halfWidth(s.count, s.precision, s.precisionSq),
    rate: s.rate / s.count,
    rate_half: halfWidth(s.count, s.rate, s.rateSq),
    f1: s.f1 / s.count,
  }));

  const groups = scoreGroups(records, query, { limit: GROUPS_PER_PAGE, offset: (p.groupsPage - 1) * GROUPS_PER_PAGE });
  const items = groups.groups.map((g): GroupBox => {
    const sorted = [...g.scores].sort((a, b) => a - b);
    return {
      env: g.envId,
      task: g.taskId,
      agent: g.agent,
      scores: g.scores,
      mean: mean(g.scores),
      std: sampleStd(g.scores),
      min: sorted[0]!,
      q1: quantile(sorted, 0.25),
      median: quantile(sorted, 0.5),
      q3: quantile(sorted, 0.75),
      max: sorted[sorted.length - 1]!,
    };
  });
  return {
    mode: p.mode,
    episodes,
    includeEmpty: p.includeEmpty,
    reward: { scenarios, levels, cells: present },
    agents,
    groups: { total: groups.total, flat: groups.flat, page: p.groupsPage, pages: Math.max(1, Math.ceil(groups.total / GROUPS_PER_PAGE)), items },
  };
}

// ---- drawing ------------------------------------------------------------------------------

const f2 = (x: number): string => x.toFixed(2);
const f3 = (x: number): string => x.toFixed(3);
/** SVG coordinates with one decimal: enough for the eye, and stable text for tests. */
const c = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Tableau 10: distinguishable, and readable on light and dark backgrounds. */
const CATEGORICAL = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** Viridis at five stops, interpolated: a mean's colour, dark purple (0) to yellow (1). */
const VIRIDIS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
] as const;

export function viridis(t: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  const mix = (k: 0 | 1 | 2): string => Math.round(a[k] + (b[k] - a[k]) * (x - i)).toString(16).padStart(2, "0");
  return `#${mix(0)}${mix(1)}${mix(2)}`;
}

function svg(id: string, width: number, height: number, title: string, desc: string, body: Html): Html {
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="${id}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-title ${id}-desc" font-family="system-ui, sans-serif" font-size="11"><title id="${id}-title">${title}</title><desc id="${id}-desc">${desc}</desc>${body}</svg>`;
}

const levelLabel = (level: number | null): string => (level === null ? "unknown" : `level ${level}`);

/** Small multiples: one histogram of solve_f1 per scenario x complexity cell, its background coloured by the cell's mean. */
export function rewardChart(data: ChartsData): Html {
  const { scenarios, levels, cells } = data.reward;
  const title = `Reward distribution (solve_f1, ${data.mode}) by scenario and complexity`;
  if (cells.length === 0) return svg("chart-reward", 480, 60, title, "No scored episodes match the filters.", html`<text x="12" y="34" fill="currentColor">No scored episodes match the filters.</text>`);
  const left = 150;
  const top = 30;
  const w = 132;
  const h = 84;
  const gap = 12;
  const width = left + levels.length * (w + gap) + 8;
  const height = top + scenarios.length * (h + gap) + 22;
  let maxShare = 0;
  for (const cell of cells) for (const n of cell.bins) maxShare = Math.max(maxShare, n / cell.count);
  const parts: Html[] = [];
  levels.forEach((level, col) => {
    parts.push(html`<text x="${c(left + col * (w + gap) + w / 2)}" y="18" text-anchor="middle" fill="currentColor" font-weight="600">${levelLabel(level)}</text>`);
  });
  scenarios.forEach((scenario, row) => {
    const y0 = top + row * (h + gap);
    parts.push(html`<text x="${left - 10}" y="${c(y0 + h / 2 + 4)}" text-anchor="end" fill="currentColor" font-weight="600">${scenario}</text>`);
    levels.forEach((level, col) => {
      const x0 = left + col * (w + gap);
      const cell = cells.find((x) => x.scenario === scenario && x.complexity === level);
      if (!cell) {
        parts.push(html`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" rx="4" fill="none" stroke="currentColor" stroke-opacity="0.25" stroke-dasharray="3 3"/><text x="${c(x0 + w / 2)}" y="${c(y0 + h / 2 + 4)}" text-anchor="middle" fill="currentColor" fill-opacity="0.5">none</text>`);
        return;
      }
      const plotTop = y0 + 22;
      const plotH = h - 28;
      const barW = (w - 12) / BINS;
      const bars = cell.bins.map((n, b) => {
        const bh = maxShare > 0 ? ((n / cell.count) / maxShare) * plotH : 0;
        const label = `${scenario}, ${levelLabel(level)}: solve_f1 ${f2(b / BINS)}-${f2((b + 1) / BINS)}: ${n} of ${plural(cell.count, "episode")}`;
        return html`<rect class="bar" x="${c(x0 + 6 + b * barW + 1)}" y="${c(plotTop + plotH - bh)}" width="${c(barW - 2)}" height="${c(Math.max(bh, n > 0 ? 1 : 0))}" fill="#3b5bdb" data-count="${n}"><title>${label}</title></rect>`;
      });
      parts.push(html`<g class="cell" data-scenario="${scenario}" data-complexity="${level ?? "unknown"}" data-count="${cell.count}" data-mean="${f3(cell.mean)}">
<rect x="${x0}" y="${y0}" width="${w}" height="${h}" rx="4" fill="${viridis(cell.mean)}" fill-opacity="0.22" stroke="${viridis(cell.mean)}" stroke-width="1.5"/>
<text x="${x0 + 6}" y="${y0 + 14}" fill="currentColor">n ${cell.count} · mean ${f2(cell.mean)}</text>
<line x1="${x0 + 6}" x2="${x0 + w - 6}" y1="${c(plotTop + plotH)}" y2="${c(plotTop + plotH)}" stroke="currentColor" stroke-opacity="0.35"/>${bars}</g>`);
    });
  });
  const axisY = top + scenarios.length * (h + gap) + 8;
  levels.forEach((_, col) => {
    const x0 = left + col * (w + gap);
    parts.push(html`<text x="${x0 + 6}" y="${axisY}" fill="currentColor" fill-opacity="0.7">0</text><text x="${x0 + w - 6}" y="${axisY}" text-anchor="end" fill="currentColor" fill-opacity="0.7">1</text>`);
  });
  const desc = `Small multiples of ${cells.length} histograms, one per scenario and complexity level present, of ${data.episodes} scored episodes. Each cell's colour shows its mean; bar heights share one scale.`;
  return svg("chart-reward", width, height, title, desc, html`${parts}`);
}

/** Scatter of mean solve precision (y) against mean solve rate (x), one point per agent, with 95% interval whiskers. */
export function agentChart(data: ChartsData): Html {
  const title = `Mean solve precision against solve rate per model or client (${data.mode})`;
  const W = 640;
  const H = 440;
  const m = { l: 60, r: 170, t: 18, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const x = (v: number): number => m.l + v * pw;
  const y = (v: number): number => m.t + (1 - v) * ph;
  const parts: Html[] = [];
  for (let t = 0; t <= 5; t++) {
    const v = t / 5;
    parts.push(
      html`<line x1="${c(x(v))}" x2="${c(x(v))}" y1="${m.t}" y2="${m.t + ph}" stroke="currentColor" stroke-opacity="0.12"/>`,
      html`<line x1="${m.l}" x2="${m.l + pw}" y1="${c(y(v))}" y2="${c(y(v))}" stroke="currentColor" stroke-opacity="0.12"/>`,
      html`<text x="${c(x(v))}" y="${m.t + ph + 16}" text-anchor="middle" fill="currentColor" fill-opacity="0.8">${v.toFixed(1)}</text>`,
      html`<text x="${m.l - 8}" y="${c(y(v) + 4)}" text-anchor="end" fill="currentColor" fill-opacity="0.8">${v.toFixed(1)}</text>`,
    );
  }
  parts.push(
    html`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="currentColor" stroke-opacity="0.4"/>`,
    html`<text x="${c(m.l + pw / 2)}" y="${H - 10}" text-anchor="middle" fill="currentColor" font-weight="600">mean solve rate (completeness)</text>`,
    html`<text transform="translate(16 ${c(m.t + ph / 2)}) rotate(-90)" text-anchor="middle" fill="currentColor" font-weight="600">mean solve precision</text>`,
  );
  const maxN = Math.max(1, ...data.agents.map((a) => a.count));
  data.agents.forEach((a, i) => {
    const color = CATEGORICAL[i % CATEGORICAL.length]!;
    const px = x(a.rate);
    const py = y(a.precision);
    const r = 4 + 6 * Math.sqrt(a.count / maxN);
    const label = `${a.agent}: precision ${f3(a.precision)}${a.precision_half === null ? "" : ` ± ${f3(a.precision_half)}`}, rate ${f3(a.rate)}${a.rate_half === null ? "" : ` ± ${f3(a.rate_half)}`}, ${plural(a.count, "episode")}`;
    const whiskers = [
      a.rate_half === null ? null : html`<line x1="${c(x(Math.max(0, a.rate - a.rate_half)))}" x2="${c(x(Math.min(1, a.rate + a.rate_half)))}" y1="${c(py)}" y2="${c(py)}" stroke="${color}" stroke-width="2"/>`,
      a.precision_half === null ? null : html`<line x1="${c(px)}" x2="${c(px)}" y1="${c(y(Math.max(0, a.precision - a.precision_half)))}" y2="${c(y(Math.min(1, a.precision + a.precision_half)))}" stroke="${color}" stroke-width="2"/>`,
    ];
    parts.push(
      html`<g class="point" data-agent="${a.agent}" data-rate="${f3(a.rate)}" data-precision="${f3(a.precision)}">${whiskers}<circle cx="${c(px)}" cy="${c(py)}" r="${c(r)}" fill="${color}" fill-opacity="0.85" stroke="#fff" stroke-width="1.5"><title>${label}</title></circle></g>`,
    );
    // The legend at the right names every point, so labels never collide with each other or with points.
    const ly = m.t + 8 + i * 20;
    parts.push(html`<circle cx="${m.l + pw + 20}" cy="${ly}" r="6" fill="${color}"/><text x="${m.l + pw + 32}" y="${ly + 4}" fill="currentColor">${a.agent.length > 22 ? `${a.agent.slice(0, 21)}…` : a.agent}</text>`);
  });
  if (data.agents.length === 0) parts.push(html`<text x="${c(m.l + pw / 2)}" y="${c(m.t + ph / 2)}" text-anchor="middle" fill="currentColor" fill-opacity="0.6">No scored episodes match the filters.</text>`);
  const desc = `${data.agents.length} agents; each point is an agent's mean over its scored episodes, with 95% t-interval whiskers; point area grows with the number of episodes.`;
  return svg("chart-agents", W, H, title, desc, html`${parts}`);
}

/** One row per GRPO group: min-max whisker, interquartile box, median, and every rollout's score as a dot. */
export function groupsChart(data: ChartsData): Html {
  const g = data.groups;
  const title = `Per-group spread of solve_f1 (${data.mode}) for GRPO groups, page ${g.page} of ${g.pages}`;
  const rowH = 24;
  const m = { l: 330, r: 170, t: 34, b: 12 };
  const pw = 420;
  const W = m.l + pw + m.r;
  const H = m.t + Math.max(1, g.items.length) * rowH + m.b;
  const x = (v: number): number => m.l + v * pw;
  const parts: Html[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = t / 4;
    parts.push(
      html`<line x1="${c(x(v))}" x2="${c(x(v))}" y1="${m.t - 6}" y2="${H - m.b}" stroke="currentColor" stroke-opacity="0.12"/>`,
      html`<text x="${c(x(v))}" y="${m.t - 12}" text-anchor="middle" fill="currentColor" fill-opacity="0.8">${v.toFixed(2)}</text>`,
    );
  }
  parts.push(html`<text x="${m.l + pw + 32}" y="${m.t - 12}" fill="currentColor" font-weight="600">mean · std · n</text>`);
  g.items.forEach((b, i) => {
    const cy = m.t + i * rowH + rowH / 2;
    const flat = b.min === b.max;
    const name = `${b.env ?? "?"} / ${b.task ?? "?"} / ${b.agent}`;
    const color = flat ? "#868e96" : "#3b5bdb";
    const dots = b.scores.map((s, k) => html`<circle cx="${c(x(s))}" cy="${c(cy + (((k * 7) % 5) - 2) * 1.6)}" r="2.6" fill="${color}" fill-opacity="0.75"><title>rollout ${k}: ${f3(s)}</title></circle>`);
    const stripe = i % 2 === 0 ? html`<rect x="4" y="${c(cy - rowH / 2)}" width="${W - 8}" height="${rowH}" fill="currentColor" fill-opacity="0.035"/>` : null;
    parts.push(html`<g class="group${flat ? " flat" : ""}" data-group="${name}" data-n="${b.scores.length}" data-mean="${f3(b.mean)}">${stripe}
<text x="${m.l - 12}" y="${c(cy + 4)}" text-anchor="end" fill="currentColor"><title>${name}</title>${name.length > 48 ? `…${name.slice(-47)}` : name}</text>
<line x1="${c(x(b.min))}" x2="${c(x(b.max))}" y1="${c(cy)}" y2="${c(cy)}" stroke="${color}" stroke-width="1.5"/>
<rect x="${c(x(b.q1))}" y="${c(cy - 7)}" width="${c(Math.max(1.5, x(b.q3) - x(b.q1)))}" height="14" fill="${color}" fill-opacity="0.18" stroke="${color}"/>
<line x1="${c(x(b.median))}" x2="${c(x(b.median))}" y1="${c(cy - 7)}" y2="${c(cy + 7)}" stroke="${color}" stroke-width="2.5"/>${dots}
<text x="${m.l + pw + 32}" y="${c(cy + 4)}" fill="currentColor">${f2(b.mean)} · ${f2(b.std)} · ${b.scores.length}${flat ? " · flat" : ""}</text></g>`);
  });
  if (g.items.length === 0) parts.push(html`<text x="${m.l}" y="${m.t + 16}" fill="currentColor" fill-opacity="0.6">No group of two or more scored rollouts matches the filters.</text>`);
  const desc = `${plural(g.total, "group")} of at least two scored rollouts (one agent on one task); ${g.flat} of them are flat (every rollout scored the same, so GRPO gets no advantage from them). Boxes span the quartiles, whiskers the range, the thick line is the median, dots are rollouts.`;
  return svg("chart-groups", W, H, title, desc, html`${parts}`);
}
