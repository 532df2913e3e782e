// Stage 4, complexity scaling: functional generalization, parameter expansion, parameter type
// generalization and toolset extension, each at its requested level (amounts in LEVELS below).
import type { ComputeKind, Decomposition, Distractor, FactTable, Integration, Knowledge, Need, ParamOption, Scaling, ScalingOperation, ToolBehavior, ToolDraft } from "../schema/index.ts";
import { COMPUTE_KINDS, DOMAINS } from "../schema/index.ts";
import { bindArgs } from "./bind.ts";
import { DOMAIN_DEFS, entity } from "./catalog.ts";
import { OPTION_POOLS, renderTool, SIDEKICKS, type RenderOptions } from "./docs.ts";
import { computeOps, rebind } from "./integrate.ts";
import { hashSeed, rngFrom } from "./rng.ts";
import { World } from "./world.ts";

/** The amounts behind each level, documented in the README. */
export const LEVELS = {
  /** Distractor tools added: [near-miss same domain, computing, other domain]. */
  toolset_extension: [
    [0, 0, 0],
    [2, 0, 0],
    [2, 1, 1],
    [3, 2, 2],
  ],
  /** Optional parameters added to every tool. */
  parameter_expansion: [0, 1, 2, 3],
} as const;

/** Computing kinds that can be offered as distractors without doing a needed job in another way. */
const DISTRACTOR_COMPUTE: ComputeKind[] = ["convert_unit", "add_days", "date_diff", "convert_currency", "subtract"];

interface Slot {
  behavior: ToolBehavior;
  /** Kept when the behaviour is unchanged, so untouched tools keep their names. */
  name?: string;
}

function dedupe(slots: Slot[]): Slot[] {
  const out: Slot[] = [];
  for (const s of slots) if (!out.some((o) => JSON.stringify(o.behavior) === JSON.stringify(s.behavior))) out.push(s);
  return out;
}

function generalize(slots: Slot[], level: number, knowledge: Knowledge): { slots: Slot[]; changes: string[] } {
  const changes: string[] = [];
  let out = slots;
  if (level >= 1) {
    out = out.map((s) => {
      const b = s.behavior;
      if (b.kind === "lookup" && b.field !== null) {
        changes.push(`${s.name}: any attribute of the record`);
        return { behavior: { ...b, field: null } };
      }
      if (b.kind === "compute" && Object.keys(b.fixed).length > 0) {
        changes.push(`${s.name}: fixed settings become parameters`);
        return { behavior: { ...b, fixed: {} } };
      }
      return s;
    });
    const dates = out.filter((s) => s.behavior.kind === "compute" && s.behavior.ops.every((o) => o === "add_days" || o === "date_diff"));
    if (dates.length > 1) {
      out = [...out.filter((s) => !dates.includes(s)), { behavior: { kind: "compute", ops: ["add_days", "date_diff"], fixed: {} } }];
      changes.push("date tools become one date calculator");
    }
    out = dedupe(out);
  }
  if (level >= 2) {
    const lookups = out.filter((s) => s.behavior.kind === "lookup");
    if (lookups.length > 0 && Object.keys(knowledge.tables).length > 1) {
      out = [{ behavior: { kind: "lookup", tables: Object.keys(knowledge.tables), field: null } }, ...out.filter((s) => s.behavior.kind !== "lookup")];
      changes.push("lookups of every record type become one lookup with a record-type parameter");
    }
    const conv = out.filter((s) => s.behavior.kind === "compute" && s.behavior.ops.every((o) => o === "convert_currency" || o === "convert_unit"));
    if (conv.length > 0) {
      out = [...out.filter((s) => !conv.includes(s)), { behavior: { kind: "compute", ops: ["convert_currency", "convert_unit"], fixed: {} } }];
      changes.push("currency and unit conversion become one converter");
    }
  }
  if (level >= 3 && out.some((s) => s.behavior.kind === "compute")) {
    out = [...out.filter((s) => s.behavior.kind !== "compute"), { behavior: { kind: "compute", ops: [...COMPUTE_KINDS], fixed: {} } }];
    changes.push("every computation becomes one general calculator");
  }
  return { slots: out, changes };
}

function otherDomainTable(d: Decomposition, used: Set<string>, salt: number): FactTable | null {
  const rng = rngFrom(hashSeed(d.request.seed, "other-domain", salt));
  const candidates = DOMAINS.filter((dom) => dom !== d.request.domain).map((dom) => DOMAIN_DEFS[dom].roots[0]!).filter((type) => !used.has(entity(type).table));
  if (candidates.length === 0) return null;
  const type = rng.pick(candidates);
  const def = entity(type);
  const world = new World(rng.fork("world"));
  const rows = [0, 1, 2].map(() => world.create(type));
  return { entity: type, noun: def.nouns[0]!, key: def.key, rows };
}

/** Arguments that make a distractor return data. */
function exampleFor(tool: ToolDraft, tables: Knowledge["tables"], knowledge: Knowledge): Record<string, unknown> {
  const b = tool.behavior;
  if (b.kind === "lookup" || b.kind === "sidekick") {
    const table = b.kind === "lookup" ? b.tables[0]! : b.table;
    const t = tables[table]!;
    const key = String(t.rows[0]![t.key]);
    const p = tool.params.find((x) => x.role === "key")!;
    const inner = Object.keys((p.schema as { properties?: Record<string, unknown> }).properties ?? {})[0];
    return { [p.name]: p.shape === "list" ? [key] : p.shape === "object" ? { [inner!]: key } : key };
  }
  const op = b.kind === "compute" ? b.ops[0]! : "subtract";
  const needs: Record<string, Need> = {
    convert_unit: { kind: "convert_unit", value: 12, from: "km", to: "mi" },
    convert_currency: { kind: "convert_currency", amount: 100, from: "USD", to: Object.keys(knowledge.exchange_rates).find((c) => c !== "USD")! },
    add_days: { kind: "add_days", date: "2026-03-01", days: 30 },
    date_diff: { kind: "date_diff", start: "2026-01-01", end: "2026-02-15" },
    subtract: { kind: "subtract", a: 10, b: 4 },
  };
  return bindArgs(tool, needs[op]!, knowledge);
}

export function scale(d: Decomposition, integ: Integration): Scaling {
  const c = d.request.complexity;
  const seed = d.request.seed;
  const style = integ.style;
  const operations: ScalingOperation[] = [];

  const gen = generalize(
    integ.tools.map((t) => ({ behavior: t.behavior, name: t.name })),
    c.functional_generalization,
    d.knowledge,
  );
  if (c.functional_generalization > 0) operations.push({ strategy: "functional_generalization", level: c.functional_generalization, change: gen.changes.join("; ") || "nothing specific left to generalize", tools: [] });

  const ptg = c.parameter_type_generalization;
  const base: Omit<RenderOptions, "options"> = { loose: ptg >= 1, objects: ptg >= 2, lists: ptg >= 3 };
  const expansion = LEVELS.parameter_expansion[c.parameter_expansion] ?? 0;
  const optionsFor = (name: string, kind: ToolBehavior["kind"]): ParamOption[] => rngFrom(hashSeed(seed, "options", name)).shuffle(OPTION_POOLS[kind]).slice(0, expansion);
  const render = (slot: Slot, knowledge: Knowledge, extra: Knowledge["tables"] = {}): ToolDraft => {
    const first = renderTool(slot.behavior, style, knowledge, { ...base, options: [] }, slot.name, extra);
    return renderTool(slot.behavior, style, knowledge, { ...base, options: optionsFor(first.name, slot.behavior.kind) }, first.name, extra);
  };
  const tools = gen.slots.map((s) => render(s, d.knowledge));
  for (const t of tools) {
    const was = integ.tools.find((x) => x.name === t.name);
    if (!was && c.functional_generalization > 0) operations[0]!.tools.push(t.name);
  }
  if (ptg > 0) {
    const what = ["enumerations become free strings checked in code", "identifiers and composite inputs become objects", "identifiers and amounts become lists (batch calls)"].slice(0, ptg);
    operations.push({ strategy: "parameter_type_generalization", level: ptg, change: what.join("; "), tools: tools.filter((t) => t.params.some((p) => p.loose || p.shape !== "scalar")).map((t) => t.name) });
  }
  if (expansion > 0) {
    const added = [...new Set(tools.flatMap((t) => t.params.filter((p) => p.option).map((p) => p.name)))].sort();
    operations.push({ strategy: "parameter_expansion", level: c.parameter_expansion, change: `${expansion} optional parameter(s) per tool, from: ${added.join(", ")}`, tools: tools.map((t) => t.name) });
  }

  // Toolset extension.
  const [nearCount, computeCount, otherCount] = LEVELS.toolset_extension[c.toolset_extension] ?? [0, 0, 0];
  const rng = rngFrom(seed).fork("distractors");
  const extra: Record<string, FactTable> = {};
  const distractors: Distractor[] = [];
  const taken = new Set(tools.map((t) => t.name));
  const add = (tool: ToolDraft, kind: Distractor["kind"], tables: Knowledge["tables"]): boolean => {
    if (taken.has(tool.name)) return false;
    taken.add(tool.name);
    tools.push(tool);
    distractors.push({ name: tool.name, kind, example: exampleFor(tool, tables, d.knowledge) as Distractor["example"] });
    return true;
  };
  const near = rng.shuffle(Object.entries(d.knowledge.tables).flatMap(([table, t]) => (SIDEKICKS[t.entity] ?? []).map((s) => ({ table, template: s.name }))));
  const used = new Set(computeOps(tools));
  const computeKinds = rng.shuffle(DISTRACTOR_COMPUTE.filter((k) => !used.has(k) && !(c.functional_generalization >= 2 && (k === "convert_unit" || k === "convert_currency") && (used.has("convert_unit") || used.has("convert_currency")))));
  /** A lookup (and, when wanted, a side-information tool) over a small table from another domain. */
  const otherDomain = (salt: number, withSide: boolean): number => {
    const table = otherDomainTable(d, new Set([...Object.keys(d.knowledge.tables), ...Object.keys(extra)]), salt);
    if (!table) return 0;
    const tableName = entity(table.entity).table;
    extra[tableName] = table;
    const all = { ...d.knowledge.tables, ...extra };
    const view: Knowledge = { ...d.knowledge, tables: all };
    let added = add(render({ behavior: { kind: "lookup", tables: [tableName], field: null } }, view, extra), "other-domain", all) ? 1 : 0;
    const side = SIDEKICKS[table.entity]?.[0];
    if (withSide && side && add(render({ behavior: { kind: "sidekick", template: side.name, table: tableName } }, view, extra), "other-domain", all)) added++;
    return added;
  };
  // Each kind of distractor in turn; what one kind cannot supply, the next makes up.
  let want = otherCount;
  for (let salt = 0; want > 0 && salt < 4; salt++) want -= otherDomain(salt, want > 1);
  want += computeCount;
  for (const k of computeKinds) {
    if (want <= 0) break;
    if (add(render({ behavior: { kind: "compute", ops: [k], fixed: {} } }, d.knowledge), "compute", d.knowledge.tables)) want--;
  }
  want += nearCount;
  for (const n of near) {
    if (want <= 0) break;
    if (add(render({ behavior: { kind: "sidekick", template: n.template, table: n.table } }, d.knowledge), "near-miss", d.knowledge.tables)) want--;
  }
  for (let salt = 4; want > 0 && salt < 12; salt++) want -= otherDomain(salt, want > 1);
  if (distractors.length > 0) operations.push({ strategy: "toolset_extension", level: c.toolset_extension, change: `${distractors.length} distractor tool(s) that never score`, tools: distractors.map((x) => x.name) });

  return { style, tools, calls: rebind(d, tools), operations, distractors, extra_tables: extra };
}
