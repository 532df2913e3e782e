// Stage 5, localized deployment: turns the scaled tool documents into an environment file with a
// JavaScript implementation per tool, the initial state they read and change, and the tasks' gold plans.
import type { ComputeKind, Decomposition, Environment, FactTable, GoldStep, Implementation, ImplementationLanguage, InputSchema, Scaling, Task, Tool, ToolDraft, ToolParam, UnsolvedSet } from "../schema/index.ts";
import { FORMAT } from "../schema/index.ts";
import { verify } from "../score/index.ts";
import { calcSource, type CalcPart } from "./calc.ts";
import { ACTIONS } from "./catalog.ts";
import { operationName, sidekickTemplate, UNIT_CODES } from "./docs.ts";
import { ACTION_SOURCE, COMMON_SOURCE, COMPUTE_PARTS, COMPUTE_SOURCE, LOOKUP_SOURCE, SIDEKICK_SOURCE } from "./engine.ts";
import { ACTION_PY, CALC_PARTS_PY, COMMON_PY, COMPUTE_PARTS_PY, COMPUTE_PY, LOOKUP_PY, pythonToolSource, SIDEKICK_PY } from "./engine-py.ts";
import { rngFrom } from "./rng.ts";

export const GENERATOR = "envforge-procedural";
export const GENERATOR_VERSION = "1";

function inputSchema(params: readonly ToolParam[]): InputSchema {
  return {
    type: "object",
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
    additionalProperties: false,
  };
}

function keyConfig(tool: ToolDraft): { name: string; shape: string; inner?: string } {
  const p = tool.params.find((x) => x.role === "key")!;
  const inner = Object.keys((p.schema as { properties?: Record<string, unknown> }).properties ?? {})[0];
  return { name: p.name, shape: p.shape, ...(inner ? { inner } : {}) };
}

function optionNames(tool: ToolDraft): Record<string, string> {
  return Object.fromEntries(tool.params.filter((p) => p.option).map((p) => [p.option!, p.name]));
}

const paramOf = (tool: ToolDraft, role: ToolParam["role"]): ToolParam | undefined => tool.params.find((p) => p.role === role);

/** The JS identifier for a tool's function (tool names may contain dashes). */
const functionName = (tool: string): string => tool.replace(/-/g, "_");

/** One tool's source: a call of its engine with the tool's configuration. */
function toolSource(tool: ToolDraft, tables: Record<string, FactTable>, d: Decomposition, suggest: boolean, language: ImplementationLanguage, state: Record<string, unknown>): string {
  const b = tool.behavior;
  let call: string;
  let cfg: unknown;
  if (b.kind === "lookup") {
    const kind = paramOf(tool, "kind");
    const field = paramOf(tool, "field");
    cfg = {
      tables: Object.fromEntries(b.tables.map((name) => [tables[name]!.noun, { table: name, key: tables[name]!.key }])),
      kind: kind?.name ?? null,
      field: field?.name ?? null,
      fixed: b.field,
      key: keyConfig(tool),
      suggest,
      opts: optionNames(tool),
    };
    call = "ef_lookup";
  } else if (b.kind === "compute") {
    const p: Record<string, { name: string; shape: string; inner?: string[] }> = {};
    for (const x of tool.params) {
      if (x.role === "option") continue;
      const props = (x.schema as { properties?: Record<string, unknown>; items?: { properties?: Record<string, unknown> } }).properties ?? (x.schema as { items?: { properties?: Record<string, unknown> } }).items?.properties;
      p[x.role] = { name: x.name, shape: x.shape, ...(x.role === "money" && props ? { inner: Object.keys(props) } : {}) };
    }
    const codes = [...(b.ops.includes("convert_currency") ? Object.keys(d.knowledge.exchange_rates) : []), ...(b.ops.includes("convert_unit") ? UNIT_CODES : [])];
    cfg = { ops: b.ops, names: Object.fromEntries(b.ops.map((o) => [o, operationName(o)])), p, fixed: b.fixed, codes, opts: optionNames(tool) };
    call = "ef_compute";
  } else if (b.kind === "action") {
    const a = ACTIONS[b.action];
    const t = tables[b.table]!;
    cfg = {
      table: b.table,
      noun: t.noun,
      keyField: t.key,
      key: keyConfig(tool),
      quantity: paramOf(tool, "quantity")!.name,
      guest: paramOf(tool, "guest")!.name,
      date: a.needsDate ? paramOf(tool, "date")!.name : null,
      price: a.price,
      stock: a.stock,
      usesQuantity: a.usesQuantity,
      prefix: a.prefix,
      verb: a.verb,
      suggest,
      opts: optionNames(tool),
    };
    call = "ef_act";
  } else {
    const t = tables[b.table]!;
    cfg = { table: b.table, noun: t.noun, keyField: t.key, key: keyConfig(tool), fields: sidekickTemplate(t.entity, b.template).fields, suggest, opts: optionNames(tool) };
    call = "ef_side";
  }
  const fn = functionName(tool.name);
  if (language === "python") return pythonToolSource(fn, call, cfg, Object.fromEntries(stateKeys(tool).filter((k) => k in state).map((k) => [k, state[k]])));
  // The configuration is built on the first call and kept on the function: a literal rebuilt per call costs more than the lookup.
  return `function ${fn}(args, state) {\n  return ${call}(args, state, ${fn}.cfg || (${fn}.cfg = ${JSON.stringify(cfg)}));\n}`;
}

/** The parts of the state a tool reads or changes. */
function stateKeys(tool: ToolDraft): string[] {
  const b = tool.behavior;
  if (b.kind === "lookup") return b.tables;
  if (b.kind === "compute") return b.ops.includes("convert_currency") ? ["exchange_rates"] : [];
  return b.kind === "action" ? [b.table, "counters"] : [b.table];
}

/** Rows a tool reads, so "did you mean" can be switched off where a suggestion would give away a sub-answer. */
function keysOf(tool: ToolDraft, tables: Record<string, FactTable>): string[] {
  const b = tool.behavior;
  const names = b.kind === "lookup" ? b.tables : b.kind === "compute" ? [] : [b.table];
  return names.flatMap((n) => tables[n]!.rows.map((r) => String(r[tables[n]!.key])));
}

/** What each kind of computation needs from the engine and from the shared arithmetic. */
const OP_PARTS: Record<ComputeKind, { engine: string; calc: CalcPart[] }> = {
  convert_currency: { engine: "convert", calc: ["currency"] },
  convert_unit: { engine: "convert", calc: ["units"] },
  add_days: { engine: "dates", calc: ["dates"] },
  date_diff: { engine: "dates", calc: ["dates"] },
  subtract: { engine: "arithmetic", calc: ["arithmetic"] },
  compare: { engine: "ranking", calc: ["ranking"] },
  sort: { engine: "ranking", calc: ["ranking"] },
  aggregate: { engine: "aggregate", calc: ["aggregate"] },
};

/** Only the helpers the tools use, so small environments stay small. */
function preludeFor(tools: readonly ToolDraft[], language: ImplementationLanguage): string {
  const kinds = new Set(tools.map((t) => t.behavior.kind));
  const ops = new Set(tools.flatMap((t) => (t.behavior.kind === "compute" ? t.behavior.ops : [])));
  const calc = new Set<CalcPart>([...ops].flatMap((o) => OP_PARTS[o].calc));
  if (kinds.has("action")) calc.add("arithmetic");
  const engines = [...new Set([...ops].map((o) => OP_PARTS[o].engine))].sort();
  if (language === "python") {
    return [
      COMMON_PY,
      ...(Object.keys(CALC_PARTS_PY) as CalcPart[]).filter((p) => calc.size > 0 && (p === "round" || calc.has(p))).map((p) => CALC_PARTS_PY[p]!),
      ...(kinds.has("lookup") ? [LOOKUP_PY] : []),
      ...(kinds.has("compute") ? [COMPUTE_PY, ...engines.map((e) => COMPUTE_PARTS_PY[e]!)] : []),
      ...(kinds.has("action") ? [ACTION_PY] : []),
      ...(kinds.has("sidekick") ? [SIDEKICK_PY] : []),
    ].join("\n\n\n") + "\n";
  }
  // Indentation is a fifth of the engine's text and every environment carries its own copy.
  return [
    COMMON_SOURCE,
    ...(calc.size > 0 ? [calcSource(calc)] : []),
    ...(kinds.has("lookup") ? [LOOKUP_SOURCE] : []),
    ...(kinds.has("compute") ? [COMPUTE_SOURCE, ...engines.map((e) => COMPUTE_PARTS[e]!)] : []),
    ...(kinds.has("action") ? [ACTION_SOURCE] : []),
    ...(kinds.has("sidekick") ? [SIDEKICK_SOURCE] : []),
  ]
    .join("\n")
    .replace(/^[ \t]+/gm, "");
}

/** Stage 5; the build request's `language` says which implementation the tools get (JavaScript by default). */
export function deploy(d: Decomposition, s: Scaling): Environment {
  const language = d.request.language ?? "javascript";
  const tables: Record<string, FactTable> = { ...d.knowledge.tables, ...s.extra_tables };
  const tasks: Task[] = d.tasks.map((task) => {
    const calls = s.calls[task.id]!;
    const gold: GoldStep[] = task.sub_questions.map((sub, i) => ({ id: sub.id, tool: calls[i]!.tool, arguments: calls[i]!.arguments, depends_on: sub.depends_on, yields: sub.answer }));
    const unsolved: UnsolvedSet = {};
    for (const g of gold) (unsolved[g.tool] ??= []).push(g.yields);
    return { id: task.id, question: task.question, unsolved_set: unsolved, answer: task.answer, gold_plan: gold };
  });
  const subAnswers = new Map<string, string[]>();
  for (const t of tasks) for (const g of t.gold_plan) subAnswers.set(g.tool, [...(subAnswers.get(g.tool) ?? []), g.yields]);
  const state: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(tables)) state[name] = t.rows;
  if (s.tools.some((t) => t.behavior.kind === "compute" && t.behavior.ops.includes("convert_currency"))) state.exchange_rates = d.knowledge.exchange_rates;
  const actions = s.tools.filter((t) => t.behavior.kind === "action");
  if (actions.length > 0) {
    const rng = rngFrom(d.request.seed).fork("deploy");
    state.counters = Object.fromEntries(actions.map((t) => [ACTIONS[(t.behavior as { action: keyof typeof ACTIONS }).action].prefix, rng.int(1000, 8999)]));
  }
  const prelude = preludeFor(s.tools, language);
  const implementation: Implementation = {
    language,
    prelude,
    tools: Object.fromEntries(
      s.tools.map((t) => {
        const answers = subAnswers.get(t.name) ?? [];
        const suggest = !keysOf(t, tables).some((k) => answers.some((a) => verify(k, a)));
        return [t.name, toolSource(t, tables, d, suggest, language, state)];
      }),
    ),
  };
  const tools: Tool[] = s.tools.map((t) => ({ name: t.name, description: t.description, input_schema: inputSchema(t.params), ...(t.annotations ? { annotations: t.annotations } : {}) }));
  const env: Environment = {
    $schema: "../schema.json",
    format: FORMAT,
    id: d.request.id,
    title: d.title,
    domain: d.request.domain,
    scenario: d.request.scenario,
    complexity: d.request.complexity,
    provenance: { generator: GENERATOR, version: GENERATOR_VERSION, seed: d.request.seed, stages: {} },
    tools,
    implementation,
    initial_state: state as Environment["initial_state"],
    tasks,
  };
  return env;
}
