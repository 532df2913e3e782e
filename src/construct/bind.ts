// Turns a sub-question's need into the arguments of a concrete tool, so every stage can re-derive the
// gold calls after it renames, merges or reshapes tools.
import type { Knowledge, Need, ToolDraft, ToolParam } from "../schema/index.ts";
import { operationName } from "./docs.ts";

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function innerKeys(p: ToolParam): string[] {
  const schema = p.schema as { properties?: Record<string, unknown>; items?: { properties?: Record<string, unknown> } };
  return Object.keys(schema.properties ?? schema.items?.properties ?? {});
}

function shaped(p: ToolParam, scalar: Json, object: () => Json): Json {
  if (p.shape === "list") return [p.role === "key" ? scalar : object()];
  if (p.shape === "object") return object();
  return scalar;
}

/** The value a parameter takes for a need, or undefined when the parameter plays no part in it. */
function valueFor(p: ToolParam, need: Need, tool: ToolDraft, knowledge: Knowledge): Json | undefined {
  const b = tool.behavior;
  switch (p.role) {
    case "key":
      return need.kind === "lookup" || need.kind === "action" ? shaped(p, need.key, () => ({ [innerKeys(p)[0]!]: need.key })) : undefined;
    case "kind":
      return need.kind === "lookup" ? knowledge.tables[need.table]!.noun : undefined;
    case "field":
      return need.kind === "lookup" && b.kind === "lookup" && b.field === null ? need.field : undefined;
    case "quantity":
      return need.kind === "action" ? need.quantity : undefined;
    case "guest":
      return need.kind === "action" ? need.guest : undefined;
    case "date":
      return need.kind === "action" ? need.date : need.kind === "add_days" ? need.date : undefined;
    case "amount":
      return need.kind === "convert_currency" ? need.amount : need.kind === "convert_unit" ? need.value : undefined;
    case "money": {
      if (need.kind !== "convert_currency" && need.kind !== "convert_unit") return undefined;
      const [amountKey, unitKey] = innerKeys(p);
      const amount = need.kind === "convert_currency" ? need.amount : need.value;
      return shaped(p, amount, () => ({ [amountKey!]: amount, [unitKey!]: need.from }));
    }
    case "from":
      return need.kind === "convert_currency" || need.kind === "convert_unit" ? need.from : undefined;
    case "to":
      return need.kind === "convert_currency" || need.kind === "convert_unit" ? need.to : undefined;
    case "days":
      return need.kind === "add_days" ? need.days : undefined;
    case "start":
      return need.kind === "date_diff" ? need.start : undefined;
    case "end":
      return need.kind === "date_diff" ? need.end : undefined;
    case "range":
      return need.kind === "date_diff" ? { start: need.start, end: need.end } : undefined;
    case "a":
      return need.kind === "subtract" ? need.a : undefined;
    case "b":
      return need.kind === "subtract" ? need.b : undefined;
    case "operands":
      return need.kind === "subtract" ? [need.a, need.b] : undefined;
    case "items":
      return need.kind === "compare" || need.kind === "sort" ? need.items.map((it) => ({ label: it.label, value: it.value })) : undefined;
    case "values":
      return need.kind === "aggregate" ? [...need.values] : undefined;
    case "order":
      return need.kind === "compare" || need.kind === "sort" ? need.order : undefined;
    case "op":
      return need.kind === "aggregate" ? need.op : need.kind === "subtract" ? "subtract" : undefined;
    case "operation":
      return need.kind === "lookup" || need.kind === "action" ? undefined : operationName(need.kind);
    case "option":
      return undefined;
  }
}

/** Whether a tool can answer a need at all (its behaviour covers the need's kind and table). */
export function serves(tool: ToolDraft, need: Need): boolean {
  const b = tool.behavior;
  if (need.kind === "lookup") return b.kind === "lookup" && b.tables.includes(need.table) && (b.field === null || b.field === need.field);
  if (need.kind === "action") return b.kind === "action" && b.action === need.action && b.table === need.table;
  if (b.kind !== "compute" || !b.ops.includes(need.kind)) return false;
  const f = b.fixed;
  if (need.kind === "convert_currency" || need.kind === "convert_unit") return (!f.from || f.from === need.from) && (!f.to || f.to === need.to);
  if (need.kind === "compare" || need.kind === "sort") return !f.order || f.order === need.order;
  if (need.kind === "aggregate") return !f.op || f.op === need.op;
  if (need.kind === "subtract") return !f.op || f.op === "subtract";
  return true;
}

export function bindArgs(tool: ToolDraft, need: Need, knowledge: Knowledge): Record<string, Json> {
  if (!serves(tool, need)) throw new Error(`tool "${tool.name}" cannot answer a ${need.kind} need`);
  const args: Record<string, Json> = {};
  for (const p of tool.params) {
    const v = valueFor(p, need, tool, knowledge);
    if (v !== undefined) args[p.name] = v;
    else if (p.required) throw new Error(`tool "${tool.name}" requires "${p.name}", which the need does not give`);
  }
  return args;
}
