// Checks of an LLM stage's output against its inputs, beyond the zod contract: a stage may not change
// what earlier stages fixed (the request, the tasks, the sub-answers, a given toolset), so that the
// gate judges the environment that was asked for. Each finding is one line fed back to the model.
import type { BuildRequest, Decomposition, Environment, GoldCall, Integration, Scaling, ToolDraft } from "../../schema/index.ts";
import type { Source, SourceQuestion } from "./sources.ts";

/** JSON with object keys sorted, so equal values compare equal whatever order the model wrote. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
const squash = (s: string): string => s.replace(/\s+/g, " ").trim();

/** Request fields the model may set: the domain for any outside source, the scenario for a question it decomposes. */
export function mayChange(source: Source): Set<keyof BuildRequest> {
  if (source.kind === "world") return new Set();
  return new Set(source.kind === "questions" ? ["domain", "scenario"] : ["domain"]);
}

export function checkDecomposition(request: BuildRequest, d: Decomposition, source: Source, question: SourceQuestion | null): string[] {
  const out: string[] = [];
  const free = mayChange(source);
  for (const k of Object.keys(request) as (keyof BuildRequest)[]) {
    if (!free.has(k) && !same(request[k], d.request[k])) out.push(`$.request.${k}: must stay ${canonical(request[k])}, as the input request gives it`);
  }
  if (d.tasks.length !== request.tasks) out.push(`$.tasks: write exactly ${request.tasks} task(s), not ${d.tasks.length}`);
  if (question) {
    const t = d.tasks[0];
    if (t && squash(t.question) !== squash(question.question)) out.push(`$.tasks[0].question: must be the source question verbatim: ${JSON.stringify(question.question)}`);
    if (t && squash(t.answer) !== squash(question.answer)) out.push(`$.tasks[0].answer: must be the source answer verbatim: ${JSON.stringify(question.answer)}`);
  }
  const taskIds = new Set<string>();
  const questions = new Set<string>();
  d.tasks.forEach((task, ti) => {
    const at = `$.tasks[${ti}]`;
    if (taskIds.has(task.id)) out.push(`${at}.id: "${task.id}" is used twice`);
    taskIds.add(task.id);
    if (questions.has(squash(task.question))) out.push(`${at}.question: another task asks the same`);
    questions.add(squash(task.question));
    const earlier = new Set<string>();
    task.sub_questions.forEach((sub, si) => {
      const sat = `${at}.sub_questions[${si}]`;
      if (earlier.has(sub.id)) out.push(`${sat}.id: "${sub.id}" is used twice`);
      for (const dep of sub.depends_on) if (!earlier.has(dep)) out.push(`${sat}.depends_on: "${dep}" is not an earlier sub-question`);
      earlier.add(sub.id);
      const need = sub.need;
      if (need.kind !== "lookup" && need.kind !== "action") return;
      const table = d.knowledge.tables[need.table];
      if (!table) return out.push(`${sat}.need.table: no table "${need.table}" in knowledge.tables`);
      const row = table.rows.find((r) => String(r[table.key]) === need.key);
      if (!row) return out.push(`${sat}.need.key: table "${need.table}" has no row whose ${table.key} is "${need.key}"`);
      if (need.kind === "lookup" && String(row[need.field]) !== sub.answer) {
        out.push(`${sat}.answer: the ${need.field} of "${need.key}" in knowledge is ${JSON.stringify(row[need.field] ?? null)}, not "${sub.answer}"`);
      }
    });
  });
  return out;
}

/** Every task's calls follow its sub-questions in order and call tools of the set; a given toolset is kept. */
export function checkCalls(d: Decomposition, tools: readonly ToolDraft[], calls: Record<string, GoldCall[]>, source: Source): string[] {
  const out: string[] = [];
  const names = new Set<string>();
  tools.forEach((t, i) => {
    if (names.has(t.name)) out.push(`$.tools[${i}].name: "${t.name}" is used twice`);
    names.add(t.name);
  });
  if (source.kind === "tools") for (const t of source.tools) if (!names.has(t.function.name)) out.push(`$.tools: the given tool "${t.function.name}" is missing`);
  for (const task of d.tasks) {
    const plan = calls[task.id];
    if (!plan) {
      out.push(`$.calls: no calls for task "${task.id}"`);
      continue;
    }
    const steps = task.sub_questions.map((s) => s.id);
    if (!same(plan.map((c) => c.step), steps)) out.push(`$.calls.${task.id}: steps must be ${steps.join(", ")} in this order, one call each`);
    plan.forEach((c, i) => {
      if (!names.has(c.tool)) out.push(`$.calls.${task.id}[${i}].tool: "${c.tool}" is not one of the tools`);
    });
  }
  for (const id of Object.keys(calls)) if (!d.tasks.some((t) => t.id === id)) out.push(`$.calls.${id}: no such task`);
  return out;
}

export function checkIntegration(d: Decomposition, i: Integration, source: Source): string[] {
  const out = checkCalls(d, i.tools, i.calls, source);
  i.merges.forEach((m, k) => {
    if (!i.tools.some((t) => t.name === m.into)) out.push(`$.merges[${k}].into: "${m.into}" is not one of the tools`);
  });
  return out;
}

export function checkScaling(d: Decomposition, s: Scaling, source: Source): string[] {
  const out = checkCalls(d, s.tools, s.calls, source);
  const used = new Set(Object.values(s.calls).flatMap((plan) => plan.map((c) => c.tool)));
  s.distractors.forEach((x, k) => {
    if (!s.tools.some((t) => t.name === x.name)) out.push(`$.distractors[${k}].name: "${x.name}" is not one of the tools`);
    if (used.has(x.name)) out.push(`$.distractors[${k}].name: "${x.name}" is called by a gold plan, so it is no distractor`);
  });
  return out;
}

/** The environment implements exactly the scaled toolset and keeps the decomposition's tasks and gold calls. */
export function checkEnvironment(d: Decomposition, s: Scaling, env: Environment, source: Source): string[] {
  const out: string[] = [];
  const r = d.request;
  for (const [k, want] of [["id", r.id], ["domain", r.domain], ["scenario", r.scenario], ["complexity", r.complexity], ["title", d.title]] as const) {
    if (!same(env[k], want)) out.push(`$.${k}: must be ${canonical(want)}`);
  }
  const want = s.tools.map((t) => t.name).sort();
  const got = env.tools.map((t) => t.name).sort();
  if (!same(got, want)) out.push(`$.tools: must be exactly the scaling tools ${want.join(", ")}; got ${got.join(", ")}`);
  if (env.tasks.length !== d.tasks.length) out.push(`$.tasks: must be the ${d.tasks.length} task(s) of the decomposition`);
  d.tasks.forEach((task, ti) => {
    const e = env.tasks[ti];
    if (!e) return;
    const at = `$.tasks[${ti}]`;
    for (const k of ["id", "question", "answer"] as const) if (e[k] !== task[k]) out.push(`${at}.${k}: must be ${JSON.stringify(task[k])}`);
    const calls = s.calls[task.id] ?? [];
    if (e.gold_plan.length !== task.sub_questions.length) out.push(`${at}.gold_plan: one step per sub-question (${task.sub_questions.length})`);
    task.sub_questions.forEach((sub, si) => {
      const step = e.gold_plan[si];
      const call = calls[si];
      if (!step || !call) return;
      const expect = { id: sub.id, tool: call.tool, arguments: call.arguments, depends_on: sub.depends_on, yields: sub.answer };
      if (!same(step, expect)) out.push(`${at}.gold_plan[${si}]: must be ${canonical(expect)}`);
    });
  });
  for (const [k, v] of Object.entries(env.initial_state)) if (v === null || typeof v !== "object") out.push(`$.initial_state.${k}: must be an array of rows or an object`);
  if (source.kind === "tools") {
    for (const given of source.tools) {
      const t = env.tools.find((x) => x.name === given.function.name);
      if (!t) continue;
      const props = Object.keys((given.function.parameters as { properties?: object }).properties ?? {});
      const missing = props.filter((p) => !(p in (t.input_schema.properties ?? {})));
      if (missing.length > 0) out.push(`$.tools.${t.name}.input_schema: keeps the given parameters; missing ${missing.join(", ")}`);
    }
  }
  return out;
}
