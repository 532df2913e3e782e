// Stage 2, document generation: one tool document per sub-question, written to solve exactly it.
import type { CallPlan, Decomposition, Documentation, Need, ToolBehavior, ToolDraft } from "../schema/index.ts";
import { bindArgs } from "./bind.ts";
import { BASE_OPTIONS, pickStyle, renderTool } from "./docs.ts";
import { rngFrom } from "./rng.ts";

/** The single-purpose behaviour that answers one need and nothing else. */
export function specificBehavior(need: Need): ToolBehavior {
  switch (need.kind) {
    case "lookup":
      return { kind: "lookup", tables: [need.table], field: need.field };
    case "action":
      return { kind: "action", action: need.action, table: need.table };
    case "convert_currency":
    case "convert_unit":
      return { kind: "compute", ops: [need.kind], fixed: { from: need.from, to: need.to } };
    case "subtract":
      return { kind: "compute", ops: ["subtract"], fixed: { op: "subtract" } };
    case "compare":
    case "sort":
      return { kind: "compute", ops: [need.kind], fixed: { order: need.order } };
    case "aggregate":
      return { kind: "compute", ops: ["aggregate"], fixed: { op: need.op } };
    case "add_days":
    case "date_diff":
      return { kind: "compute", ops: [need.kind], fixed: {} };
  }
}

export function document(d: Decomposition): Documentation {
  const style = pickStyle(rngFrom(d.request.seed).fork("document"));
  const tools: ToolDraft[] = [];
  const calls: CallPlan = {};
  const sep = style.casing === "camel" ? "" : style.casing === "kebab" ? "-" : "_";
  for (const task of d.tasks) {
    calls[task.id] = task.sub_questions.map((sub) => {
      const draft = renderTool(specificBehavior(sub.need), style, d.knowledge, BASE_OPTIONS);
      // One document per sub-question: a second document for the same need gets its own name, as an
      // independent writer would produce; integration then finds them identical and merges them.
      let name = draft.name;
      for (let i = 2; tools.some((t) => t.name === name); i++) name = `${draft.name}${sep}${i}`;
      const tool = { ...draft, name };
      tools.push(tool);
      return { step: sub.id, tool: name, arguments: bindArgs(tool, sub.need, d.knowledge) };
    });
  }
  return { style, tools, calls };
}
