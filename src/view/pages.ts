// The viewer's HTML: layout with landmarks, the filterable episode list, the episode timeline and the charts page; every value from the database goes through `html`.
import type { EpisodeFacets } from "../store/index.ts";
import type { ModelTurn } from "../export/index.ts";
import { EpisodeStatus, plural, RewardMode, SCENARIOS, type EpisodeScore, type EpisodeScores, type StateScore } from "../schema/index.ts";
import { agentChart, groupsChart, rewardChart, type ChartsData } from "./charts.ts";
import type { ListPage, ListRow } from "./data.ts";
import type { CallView, EpisodeView, TurnView } from "./episode.ts";
import { EMPTY, html, trusted, type Html } from "./html.ts";
import { MAX_COMPLEXITY, queryString, type ListParams } from "./params.ts";

export type PageName = "list" | "episode" | "charts";

/** Longest tool output shown inline; the JSON download has it whole. */
const SHOW_CHARS = 20_000;

export const episodeHref = (id: string): string => `/episodes/${encodeURIComponent(id)}`;

const num = (x: number | null, digits = 3): string => (x === null || Number.isNaN(x) ? "–" : x.toFixed(digits));

/** UTC, to the second: the same text whichever machine renders it. */
export const when = (ms: number | null): string => (ms === null ? "–" : `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}Z`);

function duration(from: number, to: number | null): string {
  if (to === null) return "running";
  const s = (to - from) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Runner ids read `env:task:agent:k`: let them wrap after each colon rather than mid-word. */
const breakable = (id: string): Html => html`${id.split(":").map((part, i) => (i === 0 ? part : html`:${trusted("<wbr>")}${part}`))}`;

const statusBadge = (status: string): Html => html`<span class="badge st-${status}">${status.replace("_", " ")}</span>`;

export function layout(page: PageName, title: string, main: Html, mainAttrs: Record<string, string> = {}): Html {
  const nav = (name: PageName, href: string, label: string): Html =>
    html`<li><a href="${href}"${page === name || (name === "list" && page === "episode") ? html` aria-current="page"` : EMPTY}>${label}</a></li>`;
  const attrs = Object.entries(mainAttrs).map(([k, v]) => html` data-${k}="${v}"`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · envforge viewer</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/style.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/"><svg aria-hidden="true" width="22" height="22" viewBox="0 0 24 24"><rect x="2" y="2" width="20" height="20" rx="5" fill="#3b5bdb"/><path d="M7 8h10M7 12h7M7 16h10" stroke="#fff" stroke-width="2" stroke-linecap="round"/></svg>envforge <span>viewer</span></a>
  <nav aria-label="Main"><ul>${nav("list", "/", "Episodes")}${nav("charts", "/charts", "Charts")}</ul></nav>
  <p class="live" id="live" role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span><span class="text">Live updates off</span></p>
</header>
<main id="main" tabindex="-1" data-page="${page}"${attrs}>
${main}
</main>
<footer class="foot"><p>Recorded by envforge: every JSON-RPC message, every tool call, scored with the FTRL reward in both modes.</p></footer>
</body>
</html>
`;
}

export function errorPage(status: number, message: string): Html {
  return layout("list", `Error ${status}`, html`<h1>${status === 404 ? "Not found" : "Cannot show this"}</h1><p class="alert" role="alert">${message}</p><p><a href="/">Back to the episode list</a></p>`);
}

// ---- filters ------------------------------------------------------------------------------

function datalist(id: string, values: readonly { value: string; count: number }[]): Html {
  return html`<datalist id="${id}">${values.map((v) => html`<option value="${v.value}">${plural(v.count, "episode")}</option>`)}</datalist>`;
}

function textField(name: string, label: string, value: string | undefined, list: Html | null, hint: string): Html {
  return html`<div class="field"><label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" type="text" value="${value ?? ""}" autocomplete="off" spellcheck="false"${list ? html` list="l-${name}"` : EMPTY} placeholder="${hint}">${list}</div>`;
}

function selectField(name: string, label: string, value: string | undefined, options: readonly { value: string; label: string }[], any = "any"): Html {
  return html`<div class="field"><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"><option value="">${any}</option>${options.map(
    (o) => html`<option value="${o.value}"${o.value === value ? html` selected` : EMPTY}>${o.label}</option>`,
  )}</select></div>`;
}

/** The filter form; plain GET, so it works without script (the script only saves the page reload). */
export function filterForm(p: ListParams, facets: EpisodeFacets, action: "/" | "/charts"): Html {
  const f = p.filters;
  const hidden =
    action === "/"
      ? html`<input type="hidden" name="sort" value="${p.sort}"><input type="hidden" name="dir" value="${p.dir}"><input type="hidden" name="per_page" value="${p.perPage}">`
      : p.includeEmpty
        ? html`<input type="hidden" name="include_empty" value="1">`
        : EMPTY;
  return html`<form class="filters" method="get" action="${action}" role="search" aria-label="Filter episodes">
  ${selectField("source", "Source", f.source === "recorded" ? undefined : f.source, [{ value: "imported", label: "imported (envforge import)" }], "recorded here")}
  ${textField("env", "Environment", f.env, datalist("l-env", facets.envs), "any environment")}
  ${textField("task", "Task", f.task, datalist("l-task", facets.tasks), "any task")}
  ${textField("model", "Model or client", f.model, datalist("l-model", facets.agents), "e.g. oracle")}
  ${textField("client", "MCP client", f.client, datalist("l-client", facets.clients), "any client")}
  ${selectField("scenario", "Scenario", f.scenario, SCENARIOS.map((s) => ({ value: s, label: s })))}
  ${selectField("complexity", "Complexity", f.complexity?.toString(), Array.from({ length: MAX_COMPLEXITY + 1 }, (_, i) => ({ value: String(i), label: `level ${i}` })))}
  ${selectField("status", "Status", f.status?.join(","), EpisodeStatus.options.map((s) => ({ value: s, label: s.replace("_", " ") })))}
  ${selectField("mode", "Reward mode", p.mode === "ftrl" ? undefined : p.mode, [{ value: "strict", label: "strict" }], "ftrl (reference)")}
  <div class="field score-range"><span class="legend" id="score-legend">Score (solve_f1)</span>
    <label for="f-min_score" class="sr-only">Lowest score</label><input id="f-min_score" name="min_score" type="number" min="0" max="1" step="0.05" value="${f.minScore ?? ""}" placeholder="min" aria-describedby="score-legend">
    <span aria-hidden="true">to</span>
    <label for="f-max_score" class="sr-only">Highest score</label><input id="f-max_score" name="max_score" type="number" min="0" max="1" step="0.05" value="${f.maxScore ?? ""}" placeholder="max" aria-describedby="score-legend">
  </div>
  ${hidden}
  <div class="actions"><button type="submit">Apply filters</button><a class="button-link" href="${action}">Reset</a></div>
</form>`;
}

// ---- episode list -------------------------------------------------------------------------

const COLUMNS: { sort: ListParams["sort"]; label: string; numeric?: boolean }[] = [
  { sort: "id", label: "Episode" },
  { sort: "started", label: "Started (UTC)" },
  { sort: "env", label: "Environment" },
  { sort: "task", label: "Task" },
  { sort: "scenario", label: "Scenario" },
  { sort: "complexity", label: "Cx", numeric: true },
  { sort: "agent", label: "Model / client" },
  { sort: "status", label: "Status" },
  { sort: "calls", label: "Calls", numeric: true },
  { sort: "solved", label: "Solved", numeric: true },
  { sort: "score", label: "Score", numeric: true },
];

function headerCell(p: ListParams, col: (typeof COLUMNS)[number]): Html {
  const active = p.sort === col.sort;
  const nextDir = active ? (p.dir === "asc" ? "desc" : "asc") : col.numeric || col.sort === "started" ? "desc" : "asc";
  const aria = active ? html` aria-sort="${p.dir === "asc" ? "ascending" : "descending"}"` : EMPTY;
  const arrow = active ? (p.dir === "asc" ? "▲" : "▼") : "";
  const label = html`${col.label}${arrow ? html` <span aria-hidden="true" class="arrow">${arrow}</span>` : EMPTY}`;
  return html`<th scope="col"${aria} class="${col.numeric ? "num" : ""}"><a class="sort" href="/${queryString(p, { sort: col.sort, dir: nextDir, page: 1 })}" title="Sort by ${col.label.toLowerCase()}">${label}</a></th>`;
}

function scoreCell(row: ListRow, mode: RewardMode): Html {
  const s = row.score[mode];
  if (s === null) return html`<td class="num"><span class="muted">${row.status === "running" ? "…" : "–"}</span></td>`;
  return html`<td class="num score"><meter min="0" max="1" low="0.34" high="0.67" optimum="1" value="${s}" aria-hidden="true"></meter> <span>${num(s, 2)}</span></td>`;
}

function listRowHtml(row: ListRow, mode: RewardMode): Html {
  return html`<tr data-id="${row.id}" data-status="${row.status}">
<td class="id"><a class="row-link" href="${episodeHref(row.id)}">${breakable(row.id)}</a></td>
<td class="nowrap">${when(row.started_at)}</td>
<td>${row.env ?? "–"}</td>
<td>${row.task ?? "–"}</td>
<td class="nowrap">${row.scenario ?? html`<span class="muted">unknown</span>`}</td>
<td class="num"${row.complexity_label === null ? EMPTY : html` title="${row.complexity_label}"`}>${row.complexity ?? "–"}</td>
<td>${row.agent}</td>
<td>${statusBadge(row.status)}</td>
<td class="num">${row.calls}</td>
<td class="num">${row.solved[mode]}${row.needed === null ? EMPTY : html`<span class="muted">/${row.needed}</span>`}</td>
${scoreCell(row, mode)}
</tr>`;
}

function pager(p: ListParams, pages: number, label: string, key: "page" | "groupsPage", base: "/" | "/charts"): Html {
  const current = p[key];
  if (pages <= 1) return EMPTY;
  const link = (n: number, text: string, rel?: string): Html =>
    html`<a href="${base}${queryString(p, { [key]: n })}"${rel ? html` rel="${rel}"` : EMPTY}>${text}</a>`;
  const shown = [...new Set([1, current - 2, current - 1, current, current + 1, current + 2, pages])].filter((n) => n >= 1 && n <= pages).sort((a, b) => a - b);
  const items: Html[] = [];
  let prev = 0;
  for (const n of shown) {
    if (n - prev > 1) items.push(html`<li class="gap" aria-hidden="true">…</li>`);
    items.push(n === current ? html`<li><span aria-current="page">${n}</span></li>` : html`<li>${link(n, String(n))}</li>`);
    prev = n;
  }
  return html`<nav class="pager" aria-label="${label}"><ul>
${current > 1 ? html`<li>${link(current - 1, "← Previous", "prev")}</li>` : EMPTY}${items}${current < pages ? html`<li>${link(current + 1, "Next →", "next")}</li>` : EMPTY}
</ul></nav>`;
}

/** The part of the list page that changes with filters, sorting, paging and live updates. */
export function listResults(p: ListParams, page: ListPage): Html {
  const from = page.total === 0 ? 0 : (page.page - 1) * page.per_page + 1;
  const to = Math.min(page.total, page.page * page.per_page);
  const sortLabel = p.sort === "started" ? "start time" : (COLUMNS.find((col) => col.sort === p.sort)?.label.toLowerCase() ?? p.sort);
  const body =
    page.rows.length > 0
      ? page.rows.map((r) => listRowHtml(r, p.mode))
      : html`<tr><td colspan="${COLUMNS.length}" class="empty">No episodes match these filters.</td></tr>`;
  return html`<section id="results" aria-labelledby="results-heading" data-total="${page.total}">
<div class="results-head"><h2 id="results-heading">${page.total.toLocaleString("en-US")} episode${page.total === 1 ? "" : "s"}</h2>
<p class="muted">${page.total > 0 ? `Showing ${from}–${to}, ` : ""}sorted by ${sortLabel} (${p.dir === "asc" ? "ascending" : "descending"}); score is solve_f1 in ${p.mode} mode.</p></div>
<div class="table-wrap"><table class="episodes">
<caption class="sr-only">Recorded episodes, page ${page.page} of ${page.pages}. Column headers sort; each episode id opens its timeline.</caption>
<thead><tr>${COLUMNS.map((col) => headerCell(p, col))}</tr></thead>
<tbody>${body}</tbody>
</table></div>
${pager(p, page.pages, "Episode pages", "page", "/")}
</section>`;
}

export function listPageHtml(p: ListParams, page: ListPage, facets: EpisodeFacets): Html {
  return layout(
    "list",
    "Episodes",
    html`<div class="page-head"><h1>Episodes</h1><p class="lede">Every recorded run of an agent against an environment task. Filter, sort, and open one to see its timeline.</p></div>
${filterForm(p, facets, "/")}
${listResults(p, page)}`,
  );
}

// ---- episode page -------------------------------------------------------------------------

function pretty(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2) ?? String(value);
}

/** Tool output as text: JSON is indented for reading, anything else is shown verbatim. */
function outputText(output: string): string {
  const t = output.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.stringify(JSON.parse(t), null, 2);
    } catch {
      return output;
    }
  }
  return output;
}

function clipped(text: string): Html {
  if (text.length <= SHOW_CHARS) return html`<pre>${text}</pre>`;
  return html`<pre>${text.slice(0, SHOW_CHARS)}</pre><p class="muted">Shown: the first ${SHOW_CHARS.toLocaleString("en-US")} of ${text.length.toLocaleString("en-US")} characters; the JSON download has all of it.</p>`;
}

function markers(call: CallView, running: boolean): Html {
  if (!call.sent) return html`<span class="marker none">not sent</span>`;
  const modes = RewardMode.options.map((mode) => {
    const s = call.solved[mode];
    return s === null
      ? html`<span class="marker none" data-mode="${mode}">${mode}: solved nothing</span>`
      : html`<span class="marker solved" data-mode="${mode}"><span aria-hidden="true">✓</span> ${mode}: solved “${s}”</span>`;
  });
  const differs = RewardMode.options.some((m) => call.solved[m] !== call.recorded[m]);
  return html`${modes}${differs && !running ? html`<span class="marker warn">server recorded ftrl “${call.recorded.ftrl ?? "nothing"}”, strict “${call.recorded.strict ?? "nothing"}”</span>` : EMPTY}`;
}

function callHtml(call: CallView, running: boolean): Html {
  const solvedAny = call.solved.ftrl !== null || call.solved.strict !== null;
  const cls = ["call", call.is_error ? "error" : "", solvedAny ? "solved" : "unsolved", call.sent ? "" : "unsent"].filter(Boolean).join(" ");
  const seq = call.seq === null ? "–" : `#${call.seq}`;
  const outputLabel = !call.sent ? (call.output === null ? "No result recorded" : "Client-side error (never sent)") : call.is_error ? `Error${call.error_kind ? ` (${call.error_kind.replace(/_/g, " ")})` : ""}` : "Output";
  return html`<li class="${cls}" data-seq="${call.seq ?? ""}" data-tool="${call.tool}" data-solved-ftrl="${call.solved.ftrl ?? ""}" data-solved-strict="${call.solved.strict ?? ""}">
<div class="call-head"><h4><span class="seq">${seq}</span> <code>${call.tool}</code></h4>
<p class="markers">${markers(call, running)}</p>
<p class="latency">${call.latency_ms === null ? "" : `${num(call.latency_ms, 1)} ms`}</p></div>
<div class="io"><div><h5>Arguments</h5>${clipped(pretty(call.arguments))}</div>
<div class="${call.is_error ? "out err" : "out"}"><h5>${outputLabel}</h5>${call.output === null ? html`<p class="muted">–</p>` : clipped(outputText(call.output))}</div></div>
</li>`;
}

function turnHtml(turn: TurnView, index: number, running: boolean): Html {
  const label = turn.turn === null ? `Call ${index + 1} (the client sent no assistant turn)` : `Assistant turn ${turn.turn + 1}`;
  const solved = turn.calls.filter((c) => c.solved.ftrl !== null).length;
  const sent = turn.calls.filter((c) => c.sent).length;
  const unsent = turn.calls.length - sent;
  return html`<li class="turn">
<h3>${label} <span class="muted">· ${sent} call${sent === 1 ? "" : "s"}${unsent > 0 ? `, ${unsent} not sent` : ""}, ${solved} solved (ftrl)</span></h3>
${turn.content ? html`<div class="assistant-text"><h4 class="sr-only">Assistant text</h4>${clipped(turn.content)}</div>` : EMPTY}
${turn.raw && turn.raw !== turn.content ? html`<details><summary>Raw model text</summary>${clipped(turn.raw)}</details>` : EMPTY}
<ol class="calls">${turn.calls.map((c) => callHtml(c, running))}</ol>
</li>`;
}

const SCORE_ROWS: { key: keyof EpisodeScore; label: string }[] = [
  { key: "solved", label: "Solved (q)" },
  { key: "calls", label: "Calls (p)" },
  { key: "needed", label: "Needed (n)" },
  { key: "solve_precision", label: "Solve precision q/p" },
  { key: "solve_rate", label: "Solve rate q/n" },
  { key: "solve_f1", label: "Solve F1 2q/(p+n)" },
  { key: "answer_correct", label: "Answer correct" },
];

function scoreValue(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (v === null || v === undefined) return "–";
  return v ? "yes" : "no";
}

function scoreTable(view: EpisodeView): Html {
  const { recorded, recomputed, agree } = view.scores;
  if (view.running) {
    return html`<p>The episode is still running: ${view.episode.solved.ftrl} sub-answer${view.episode.solved.ftrl === 1 ? "" : "s"} solved (ftrl) and ${view.episode.solved.strict} (strict) of ${view.episode.needed ?? "?"}, in ${view.episode.calls} call${view.episode.calls === 1 ? "" : "s"}. The score appears when it ends.</p>`;
  }
  const shown = recomputed ?? recorded;
  if (!shown) return html`<p>This episode has no score (it ended as ${view.episode.status} before it could be scored).</p>`;
  const source = recomputed && recorded ? (agree ? "Recomputed from the recorded calls with the score library; it matches what the server recorded." : "Recomputed from the recorded calls (the server recorded different numbers, shown in brackets).") : recomputed ? "Recomputed from the recorded calls; the server recorded no score." : "As the server recorded it (the task is not loaded here, so it could not be recomputed).";
  const cell = (mode: RewardMode, key: keyof EpisodeScore): Html => {
    const mine = shown[mode][key];
    const theirs = recorded?.[mode][key];
    const differ = recomputed && recorded && mine !== theirs;
    return html`<td class="num" data-mode="${mode}" data-metric="${key}">${scoreValue(mine)}${differ ? html` <span class="warn">[${scoreValue(theirs)}]</span>` : EMPTY}</td>`;
  };
  return html`<table class="scores" data-agree="${agree === null ? "" : String(agree)}">
<caption>${source}</caption>
<thead><tr><th scope="col">Metric</th><th scope="col" class="num">ftrl (reference)</th><th scope="col" class="num">strict</th></tr></thead>
<tbody>${SCORE_ROWS.map((r) => html`<tr><th scope="row">${r.label}</th>${cell("ftrl", r.key)}${cell("strict", r.key)}</tr>`)}${stateRows(recorded)}</tbody>
</table>`;
}

const STATE_ROWS: { key: keyof StateScore; label: string }[] = [
  { key: "state_match", label: "Final state matches" },
  { key: "changes_made", label: "Expected changes made" },
  { key: "unexpected_changes", label: "Unexpected changes" },
];

/** The final-state check as the server recorded it (it needs the sandbox's final state, so it is never recomputed here). */
function stateRows(recorded: EpisodeScores | null): Html {
  if (!recorded?.ftrl.state) return EMPTY;
  const cell = (mode: RewardMode, key: keyof StateScore): Html => {
    const v = recorded[mode].state?.[key];
    return html`<td class="num" data-mode="${mode}" data-metric="state.${key}">${key === "state_match" ? scoreValue(v === undefined ? null : v === 1) : scoreValue(v)}</td>`;
  };
  return html`${STATE_ROWS.map((r) => html`<tr><th scope="row">${r.label}</th>${cell("ftrl", r.key)}${cell("strict", r.key)}</tr>`)}`;
}

function subAnswerTable(view: EpisodeView): Html {
  if (!view.sub_answers) return view.running ? html`<p class="muted">Pending sub-answers are not shown while the episode runs.</p>` : html`<p class="muted">The task is not loaded here, so its sub-answers are unknown.</p>`;
  const by = (seq: number | null): Html => (seq === null ? html`<span class="marker none">pending</span>` : html`<span class="marker solved">call #${seq}</span>`);
  return html`<table class="subanswers"><caption class="sr-only">Each expected sub-answer and the call that solved it in each reward mode</caption>
<thead><tr><th scope="col">Tool</th><th scope="col">Sub-answer</th><th scope="col">Solved by (ftrl)</th><th scope="col">Solved by (strict)</th></tr></thead>
<tbody>${view.sub_answers.map((s) => html`<tr><td><code>${s.tool}</code></td><td>${s.answer}</td><td>${by(s.solved_by.ftrl)}</td><td>${by(s.solved_by.strict)}</td></tr>`)}</tbody></table>`;
}

function facts(view: EpisodeView): Html {
  const e = view.episode;
  const item = (label: string, value: Html | string): Html => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
  return html`<dl class="facts">
${item("Environment", view.environment ? html`${view.environment.title} <span class="muted">(${e.env})</span>` : (e.env ?? "–"))}
${item("Task", e.task ?? "–")}
${item("Scenario", e.scenario ?? "unknown")}
${item("Complexity", e.complexity_label ?? "unknown")}
${item("Model / client", e.agent)}
${item("MCP client", e.client ? `${e.client}${e.client_version ? ` ${e.client_version}` : ""}` : "–")}
${item("Status", statusBadge(e.status))}
${item("Started (UTC)", when(e.started_at))}
${item("Duration", duration(e.started_at, e.ended_at))}
${item("Transport", e.transport)}
${view.run ? item("Rollout", `k = ${view.run.k}, attempt ${view.run.attempt}, ended by ${view.run.end}${view.run.error ? `: ${view.run.error}` : ""}`) : EMPTY}
${item("Messages recorded", String(view.messages))}
</dl>`;
}

/**
 * Tool-call turns and recorded model calls on one timeline: a model call goes before the first
 * turn whose calls started after it (the model answers, then the agent calls its tools).
 */
function timeline(view: EpisodeView): { entry: TurnView | ModelTurn; index: number }[] {
  const out: { entry: TurnView | ModelTurn; index: number }[] = [];
  const models = [...view.model_calls];
  view.turns.forEach((t, index) => {
    const start = t.calls.find((c) => c.started_at !== null)?.started_at ?? Number.POSITIVE_INFINITY;
    while (models.length > 0 && models[0]!.at <= start) out.push({ entry: models.shift()!, index: -1 });
    out.push({ entry: t, index });
  });
  for (const m of models) out.push({ entry: m, index: -1 });
  return out;
}

function modelCallHtml(m: ModelTurn): Html {
  const status = m.status === null ? "no answer" : `HTTP ${m.status}`;
  return html`<li class="turn model"><h3>Model call <span class="muted">${m.api}${m.stream ? " (streamed)" : ""} · ${m.model ?? "unknown model"} · ${status}${m.latency_ms === null ? "" : ` · ${Math.round(m.latency_ms)} ms`} · ${String(m.input_messages)} messages in</span></h3>
${m.text ? html`<div class="assistant-text">${clipped(m.text)}</div>` : EMPTY}
${m.tool_calls.length > 0 ? html`<ul class="model-tools">${m.tool_calls.map((c) => html`<li><code>${c.name}</code> <code class="muted">${clipped(c.arguments)}</code></li>`)}</ul>` : EMPTY}
${m.logprobs.length > 0 ? html`<p class="muted">${String(m.logprobs.length)} tokens with logprobs (mean ${(m.logprobs.reduce((s, l) => s + l.logprob, 0) / m.logprobs.length).toFixed(3)})</p>` : EMPTY}
${m.error ? html`<p class="error">${m.error}</p>` : EMPTY}</li>`;
}

/** The part of the episode page that live updates replace. */
export function episodeBody(view: EpisodeView): Html {
  const e = view.episode;
  const id = encodeURIComponent(e.id);
  const final = view.running
    ? EMPTY
    : html`<li class="turn final"><h3>Final answer</h3>
${view.final?.content && view.final.content !== e.final_answer ? html`<div class="assistant-text">${clipped(view.final.content)}</div>` : EMPTY}
<dl class="facts compact"><div><dt>Submitted</dt><dd>${e.final_answer === null ? html`<span class="muted">no answer was submitted (${e.status.replace("_", " ")})</span>` : html`<q>${e.final_answer}</q>`}</dd></div>
${view.gold_answer !== null ? html`<div><dt>Expected</dt><dd><q>${view.gold_answer}</q></dd></div>` : EMPTY}</dl></li>`;
  return html`<div id="episode" data-status="${e.status}">
<div class="page-head"><nav aria-label="Breadcrumb" class="crumbs"><a href="/">Episodes</a> <span aria-hidden="true">›</span> <span>${e.id}</span></nav>
<h1>Episode <code>${breakable(e.id)}</code> ${statusBadge(e.status)}</h1>
<p class="downloads"><a class="button-link" href="/api/episodes/${id}/export.json" download>Download JSON</a>
${view.export.rows ? html`<a class="button-link" href="/api/episodes/${id}/row.jsonl" download>Download exported rows (FTRL JSONL)</a> <a class="button-link" href="/api/episodes/${id}/atif.json" download>ATIF</a> <a class="button-link" href="/api/episodes/${id}/otlp.json" download>OTLP spans</a>` : html`<span class="muted">No exported rows: ${view.export.problem?.replace(/_/g, " ")}</span>`}</p></div>
${view.notes.map((n) => html`<p class="note" role="note">${n}</p>`)}
${facts(view)}
<section aria-labelledby="question-h"><h2 id="question-h">Question</h2>${view.question !== null ? html`<blockquote class="question">${view.question}</blockquote>` : html`<p class="muted">Unknown: the task is not loaded here.</p>`}</section>
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>
${view.turns.length === 0 && view.running ? html`<p class="muted">No tool calls yet.</p>` : EMPTY}
<ol class="timeline">${timeline(view).map((item) => ("api" in item.entry ? modelCallHtml(item.entry) : turnHtml(item.entry, item.index, view.running)))}${final}</ol></section>
<section aria-labelledby="score-h"><h2 id="score-h">Score</h2>${scoreTable(view)}</section>
<section aria-labelledby="sub-h"><h2 id="sub-h">Sub-answers</h2>${subAnswerTable(view)}</section>
</div>`;
}

export function episodePageHtml(view: EpisodeView): Html {
  return layout("episode", `Episode ${view.episode.id}`, episodeBody(view), { episode: view.episode.id });
}

// ---- charts page --------------------------------------------------------------------------

function rewardTable(data: ChartsData): Html {
  return html`<table class="data"><caption class="sr-only">Reward distribution data</caption><thead><tr><th scope="col">Scenario</th><th scope="col">Complexity</th><th scope="col" class="num">Episodes</th><th scope="col" class="num">Mean</th>${Array.from({ length: 10 }, (_, b) => html`<th scope="col" class="num">${(b / 10).toFixed(1)}–</th>`)}</tr></thead>
<tbody>${data.reward.cells.map((c) => html`<tr><td>${c.scenario}</td><td>${c.complexity ?? "unknown"}</td><td class="num">${c.count}</td><td class="num">${num(c.mean)}</td>${c.bins.map((n) => html`<td class="num">${n}</td>`)}</tr>`)}</tbody></table>`;
}

function agentTable(data: ChartsData): Html {
  const pm = (m: number, h: number | null): string => `${num(m)}${h === null ? "" : ` ± ${num(h)}`}`;
  return html`<table class="data"><caption class="sr-only">Precision and rate per model or client</caption><thead><tr><th scope="col">Model / client</th><th scope="col" class="num">Episodes</th><th scope="col" class="num">Precision</th><th scope="col" class="num">Rate</th><th scope="col" class="num">F1</th></tr></thead>
<tbody>${data.agents.map((a) => html`<tr><td>${a.agent}</td><td class="num">${a.count}</td><td class="num">${pm(a.precision, a.precision_half)}</td><td class="num">${pm(a.rate, a.rate_half)}</td><td class="num">${num(a.f1)}</td></tr>`)}</tbody></table>`;
}

function groupTable(data: ChartsData): Html {
  return html`<table class="data"><caption class="sr-only">GRPO groups on this page</caption><thead><tr><th scope="col">Environment</th><th scope="col">Task</th><th scope="col">Model / client</th><th scope="col" class="num">n</th><th scope="col" class="num">Mean</th><th scope="col" class="num">Std</th><th scope="col">Scores</th></tr></thead>
<tbody>${data.groups.items.map((g) => html`<tr><td>${g.env ?? "–"}</td><td>${g.task ?? "–"}</td><td>${g.agent}</td><td class="num">${g.scores.length}</td><td class="num">${num(g.mean)}</td><td class="num">${num(g.std)}</td><td>${g.scores.map((s) => s.toFixed(2)).join(" ")}</td></tr>`)}</tbody></table>`;
}

function figure(id: string, heading: string, caption: string, chart: Html, table: Html, extra: Html = EMPTY): Html {
  return html`<section class="chart-section" aria-labelledby="${id}-h"><h2 id="${id}-h">${heading}</h2>
<figure><div class="chart-scroll">${chart}</div><figcaption>${caption}</figcaption></figure>
${extra}<details><summary>The numbers behind this chart</summary><div class="table-wrap">${table}</div></details></section>`;
}

/** The part of the charts page that live updates replace. */
export function chartsBody(p: ListParams, data: ChartsData): Html {
  const g = data.groups;
  return html`<div id="charts" data-episodes="${data.episodes}">
<p class="muted">${plural(data.episodes, "scored episode")} ${data.episodes === 1 ? "matches" : "match"} (rollouts whose model endpoint failed${data.includeEmpty ? "" : " and episodes without a tool call, such as health checks,"} are left out, as in <code>envforge score</code>; <a href="/charts${queryString({ ...p, includeEmpty: !data.includeEmpty })}">${data.includeEmpty ? "leave out" : "include"} episodes without a tool call</a>); reward: ${data.mode}.</p>
${figure("reward", "Reward distribution by scenario × complexity", "Each cell is a histogram of solve_f1 over ten bins from 0 to 1; its colour is the cell's mean (viridis: dark is low, yellow is high).", rewardChart(data), rewardTable(data))}
${figure("agents", "Solve precision against solve rate", "One point per model or client: the mean over its scored episodes, whiskers are 95% t intervals. Up is fewer wasted calls, right is more complete.", agentChart(data), agentTable(data))}
${figure(
  "groups",
  "Spread within GRPO groups",
  `${plural(g.total, "group")} (one model or client on one task, two or more rollouts); ${g.flat} ${g.flat === 1 ? "is" : "are"} flat, so GRPO learns nothing from ${g.flat === 1 ? "it" : "them"}. Grey rows are flat.`,
  groupsChart(data),
  groupTable(data),
  pager(p, g.pages, "Group pages", "groupsPage", "/charts"),
)}
</div>`;
}

export function chartsPageHtml(p: ListParams, facets: EpisodeFacets, data: ChartsData): Html {
  return layout(
    "charts",
    "Charts",
    html`<div class="page-head"><h1>Charts</h1><p class="lede">How the recorded episodes score, by scenario and complexity, per model, and within GRPO groups. The filters apply to every chart.</p></div>
${filterForm(p, facets, "/charts")}
${chartsBody(p, data)}`,
  );
}
