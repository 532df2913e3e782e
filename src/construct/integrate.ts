// Stage 3, function integration: documents with overlapping functionality are merged (n -> m <= n) and
// the gold calls follow the merged tools.
import type { CallPlan, ComputeKind, Decomposition, Documentation, Integration, Merge, ToolBehavior, ToolDraft } from "../schema/index.ts";
import { bindArgs, serves } from "./bind.ts";
import { BASE_OPTIONS, renderTool } from "./docs.ts";

/** Groups tools by a key; each group of two or more becomes one merged behaviour. */
interface Origins {
  /** Final tool name -> the one-to-one documents it came from, and why they were merged. */
  from: Map<string, string[]>;
  reasons: Map<string, string[]>;
}

function mergeGroups(tools: ToolDraft[], keyOf: (t: ToolDraft) => string | null, merged: (group: ToolDraft[]) => ToolBehavior, reason: string, origins: Origins, d: Decomposition, style: Documentation["style"]): ToolDraft[] {
  const groups = new Map<string, ToolDraft[]>();
  const out: ToolDraft[] = [];
  for (const t of tools) {
    const k = keyOf(t);
    if (k === null) out.push(t);
    else groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  for (const group of groups.values()) {
    if (group.length === 1) {
      out.push(group[0]!);
      continue;
    }
    const tool = renderTool(merged(group), style, d.knowledge, BASE_OPTIONS);
    const from = group.flatMap((g) => origins.from.get(g.name) ?? [g.name]);
    const why = [...new Set([...group.flatMap((g) => origins.reasons.get(g.name) ?? []), reason])];
    for (const g of group) {
      origins.from.delete(g.name);
      origins.reasons.delete(g.name);
    }
    origins.from.set(tool.name, from);
    origins.reasons.set(tool.name, why);
    out.push(tool);
  }
  return out;
}

/** Re-derives every gold call against the current tools. */
export function rebind(d: Decomposition, tools: readonly ToolDraft[]): CallPlan {
  const calls: CallPlan = {};
  for (const task of d.tasks) {
    calls[task.id] = task.sub_questions.map((sub) => {
      const tool = tools.find((t) => serves(t, sub.need));
      if (!tool) throw new Error(`no tool serves sub-question ${task.id}/${sub.id} (${sub.relation})`);
      return { step: sub.id, tool: tool.name, arguments: bindArgs(tool, sub.need, d.knowledge) };
    });
  }
  return calls;
}

const DATE_OPS = new Set<ComputeKind>(["add_days", "date_diff"]);

export const computeOps = (tools: readonly ToolDraft[]): ComputeKind[] => [...new Set(tools.flatMap((t) => (t.behavior.kind === "compute" ? t.behavior.ops : [])))];

export function integrate(d: Decomposition, doc: Documentation): Integration {
  const origins: Origins = { from: new Map(), reasons: new Map() };
  let tools = doc.tools;
  // Identical documents written for different sub-questions.
  tools = mergeGroups(tools, (t) => JSON.stringify(t.behavior), (g) => g[0]!.behavior, "identical functionality", origins, d, doc.style);
  // Per-attribute lookups of one record type become one lookup with a field parameter.
  tools = mergeGroups(
    tools,
    (t) => (t.behavior.kind === "lookup" && t.behavior.tables.length === 1 && t.behavior.field !== null ? `lookup:${t.behavior.tables[0]}` : null),
    (g) => ({ kind: "lookup", tables: (g[0]!.behavior as { tables: string[] }).tables, field: null }),
    "lookups of the same record type differ only in the attribute returned",
    origins,
    d,
    doc.style,
  );
  // The same computation with different fixed settings exposes the settings as parameters.
  tools = mergeGroups(
    tools,
    (t) => (t.behavior.kind === "compute" && t.behavior.ops.length === 1 ? `compute:${t.behavior.ops[0]}` : null),
    (g) => {
      const fixed: Record<string, string> = {};
      const fixedOf = (t: ToolDraft): Record<string, string> => (t.behavior.kind === "compute" ? t.behavior.fixed : {});
      for (const [k, v] of Object.entries(fixedOf(g[0]!))) if (g.every((t) => fixedOf(t)[k] === v)) fixed[k] = v;
      return { kind: "compute", ops: computeOps(g), fixed };
    },
    "the same computation with different settings",
    origins,
    d,
    doc.style,
  );
  // Date arithmetic in two tools is one date calculator.
  tools = mergeGroups(
    tools,
    (t) => (t.behavior.kind === "compute" && t.behavior.ops.every((o) => DATE_OPS.has(o)) ? "dates" : null),
    (g) => ({ kind: "compute", ops: computeOps(g), fixed: {} }),
    "both are date arithmetic",
    origins,
    d,
    doc.style,
  );
  const merges: Merge[] = tools.filter((t) => origins.from.has(t.name)).map((t) => ({ into: t.name, from: origins.from.get(t.name)!, reason: origins.reasons.get(t.name)!.join("; ") }));
  return { style: doc.style, tools, calls: rebind(d, tools), merges };
}
