// The validation gate: replays every gold plan in the sandbox, checks where every gold argument comes
// from, and probes every tool with plausible wrong arguments for leaked sub-answers.
//
// Definitions (also in the README):
// - Replay: in both reward modes, each gold step solves exactly its own `yields`, so the plan reaches
//   solve_rate 1 and solve_precision 1; no step's output also verifies another pending sub-answer of
//   the same tool (the result would depend on list order); every piece of the final answer shows in
//   some gold output.
// - Provenance: every scalar argument of a gold step is a substring (after the reward's normalization)
//   of the question or of the output of a step it depends on; strings may also come from the called
//   tool's own document (field names, units, record types).
// - Leak: a probe is a call of a tool used by a task with arguments derived from one of its gold calls:
//   another row's key in place of a row key ("other row"), a misspelled, re-cased or emptied string
//   ("misspelling"), a changed number, another enum value, a missing required parameter, an unknown extra
//   one, a wrong type. A probe reveals a sub-answer when its output (error text included, as the ftrl
//   reward counts errors) verifies it and not every piece of it is in the probe's own arguments (that
//   echo is strict mode's to discount). A reveal is allowed when the probe names the same rows as a
//   gold call yielding that sub-answer: it keeps every identifying argument of that call (a string
//   that is the key, the first field, of a row of the initial state), or all of its arguments when it
//   has none (a computation); when it misspells a string of that very call that is not a row key (a
//   misspelled guest name still books the same stay); and when it swaps in another row's key that the call's output does
//   not depend on (a loser's label in a comparison: the output is the gold output, byte for byte).
//   Every other reveal is a leak: a wrong row, a wrong number or another step's call turning up a
//   pending sub-answer.
import type { CallResult, Environment, GateIssue, GoldStep, Implementation, SandboxLimitsInput, Task, ValidationReport } from "../schema/index.ts";
import { EpisodeTracker, normalize, verify } from "../score/index.ts";
import { compileEnvironment, formatCallError, type CompiledEnvironment, type Episode } from "../runtime/index.ts";
import { parseEnvironment, type Problem } from "../load/index.ts";
import { adversarialCalls } from "./adversarial.ts";
import { stateGate } from "./state-gate.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

type ProbeKind = "other-row" | "misspelling" | "number" | "enum" | "missing" | "extra" | "type";

/** A wrong call derived from a gold call; `key` says whether the changed value was a row key. */
interface Derived {
  args: Record<string, Json>;
  kind: ProbeKind;
  key: boolean;
}

interface Probe {
  tool: string;
  args: Record<string, Json>;
  text: string;
  /** Where it came from: task index, step id and kind of change. */
  origins: { task: number; step: string; kind: ProbeKind; key: boolean }[];
}

const outputText = (tool: string, r: CallResult): string => (r.ok ? r.text : formatCallError(tool, r.error));

/** What a passing environment was checked for, recorded in its provenance. */
export const GATE_CHECKS = ["replay:ftrl", "replay:strict", "exclusive", "answer", "provenance", "leak", "adversarial"];

/** Generated tools answer in microseconds; a probe that needs seconds is a bug, and waiting 10 s for it wastes the build. */
const GATE_LIMITS = { timeoutMs: 2_000 };

/** Kinds of failure that mean the tool itself misbehaved, not that the input was wrong. */
const CRASHES = new Set(["timeout", "out_of_memory", "stack_overflow", "output_too_large", "invalid_output", "unknown_tool", "episode_closed"]);

function scalars(value: Json, out: (string | number)[] = []): (string | number)[] {
  if (typeof value === "string" || typeof value === "number") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => scalars(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => scalars(v, out));
  return out;
}

/** Whether `a` holds every argument of `gold` with an equal value (strings compared normalized). */
function covers(a: Json, gold: Json): boolean {
  if (typeof gold === "string") return typeof a === "string" && normalize(a) === normalize(gold);
  if (Array.isArray(gold)) return Array.isArray(a) && a.length === gold.length && gold.every((g, i) => covers(a[i]!, g));
  if (gold && typeof gold === "object") return !!a && typeof a === "object" && !Array.isArray(a) && Object.entries(gold).every(([k, v]) => k in a && covers(a[k]!, v));
  return a === gold;
}

/** Normalized keys (first fields) of every row of the initial state. */
export function rowKeys(state: Environment["initial_state"]): Set<string> {
  const keys = new Set<string>();
  for (const rows of Object.values(state)) {
    if (!Array.isArray(rows)) continue;
    for (const row of rows) {
      if (!row || typeof row !== "object" || Array.isArray(row)) continue;
      const first = Object.values(row)[0];
      if (typeof first === "string") keys.add(normalize(first));
    }
  }
  return keys;
}

function valueAt(value: Json, path: readonly (string | number)[]): Json | undefined {
  let v: Json | undefined = value;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = Array.isArray(v) ? v[k as number] : v[k as string];
  }
  return v;
}

/** Whether a probe names the same rows as a gold call (see the definitions at the top). */
function namesSameRows(probe: Json, gold: Json, keys: Set<string>): boolean {
  const ids = leaves(gold).filter((l) => typeof l.value === "string" && keys.has(normalize(l.value)));
  if (ids.length === 0) return covers(probe, gold);
  return ids.every((l) => {
    const v = valueAt(probe, l.path);
    return typeof v === "string" && normalize(v) === normalize(l.value as string);
  });
}

/** Whether every piece of `golden` is in the call's arguments, by the reward's own strict-mode rule. */
function echoed(tool: string, args: Record<string, Json>, golden: string): boolean {
  return new EpisodeTracker({ [tool]: [golden] }, "strict").record({ name: tool, arguments: args, output: golden, is_error: false }) === null;
}

/** Rows of the initial state that hold `value` in some column, and that column's other values. */
export function sameColumn(state: Environment["initial_state"], value: string, limit: number): string[] {
  const want = normalize(value);
  for (const rows of Object.values(state)) {
    if (!Array.isArray(rows)) continue;
    for (const row of rows) {
      if (!row || typeof row !== "object" || Array.isArray(row)) continue;
      for (const [col, v] of Object.entries(row)) {
        if (typeof v !== "string" || normalize(v) !== want) continue;
        return rows.map((r) => (r && typeof r === "object" && !Array.isArray(r) ? r[col] : undefined)).filter((x): x is string => typeof x === "string" && normalize(x) !== want).slice(0, limit);
      }
    }
  }
  return [];
}

function replaceAt(value: Json, path: readonly (string | number)[], replacement: Json): Json {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replaceAt(v, rest, replacement) : v));
  const obj = value as Record<string, Json>;
  return { ...obj, [head!]: replaceAt(obj[head!]!, rest, replacement) };
}

function leaves(value: Json, path: (string | number)[] = [], out: { path: (string | number)[]; value: string | number }[] = []): { path: (string | number)[]; value: string | number }[] {
  if (typeof value === "string" || typeof value === "number") out.push({ path, value });
  else if (Array.isArray(value)) value.forEach((v, i) => leaves(v, [...path, i], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) leaves(v, [...path, k], out);
  return out;
}

const WRONG_TYPE = (v: Json): Json => (typeof v === "string" ? 12345 : typeof v === "number" ? "12x" : Array.isArray(v) || (v && typeof v === "object") ? "x" : "yes");

/** Plausible wrong calls derived from one gold call. */
export function probesFor(env: Environment, step: GoldStep, keys: Set<string> = rowKeys(env.initial_state)): Derived[] {
  const args = step.arguments as Record<string, Json>;
  const tool = env.tools.find((t) => t.name === step.tool);
  const props = (tool?.input_schema.properties ?? {}) as Record<string, { enum?: unknown[] }>;
  const out: Derived[] = [];
  const push = (a: Json, kind: ProbeKind, key = false) => out.push({ args: a as Record<string, Json>, kind, key });
  for (const leaf of leaves(args)) {
    if (typeof leaf.value === "string") {
      const v = leaf.value;
      const key = keys.has(normalize(v));
      // Misspellings, never superstrings: a probe that only appends text would still contain the name.
      for (const m of [v.slice(0, -1), v.length > 3 ? v.slice(0, 1) + v.slice(2, 3) + v.slice(1, 2) + v.slice(3) : ""]) push(replaceAt(args, leaf.path, m), "misspelling", key);
      for (const other of sameColumn(env.initial_state, v, 2)) push(replaceAt(args, leaf.path, other), "other-row", key);
    } else for (const n of [leaf.value + 1, leaf.value * 10]) push(replaceAt(args, leaf.path, n), "number");
  }
  for (const [name, v] of Object.entries(args)) {
    for (const e of (props[name]?.enum ?? []).filter((x) => x !== v).slice(0, 2)) push({ ...args, [name]: e as Json }, "enum");
    const { [name]: _, ...rest } = args;
    if (tool?.input_schema.required?.includes(name)) push(rest, "missing");
    push({ ...args, [name]: WRONG_TYPE(v) }, "type");
  }
  push({ ...args, unexpected_field: "x" }, "extra");
  push({}, "missing");
  return out;
}

export function issue(issues: GateIssue[], check: GateIssue["check"], path: string, message: string): void {
  if (issues.length < 50) issues.push({ check, path, message });
}

/** What the gate needs of an episode: calls, and closing it. */
type Caller = Pick<Episode, "call" | "close">;

/**
 * An episode that makes every call in both implementations of the same tools, on its own copy of the
 * state each, and reports the first call whose output text (or error text) differs; it answers with
 * the environment's own implementation's result.
 */
function twinCaller(own: Episode, twin: Episode, languages: [string, string], issues: GateIssue[], reported: { done: boolean }): Caller {
  const clip = (s: string) => JSON.stringify(s.length > 400 ? `${s.slice(0, 400)}...` : s);
  return {
    async call(name, args) {
      const [a, b] = await Promise.all([own.call(name, args), twin.call(name, args)]);
      const ta = outputText(name, a);
      const tb = outputText(name, b);
      if (!reported.done && (a.ok !== b.ok || ta !== tb)) {
        reported.done = true;
        issue(issues, "twin", `$.implementation.tools.${name}`, `the ${languages[0]} and ${languages[1]} implementations differ on ${name}(${JSON.stringify(args)}): ${languages[0]} ${a.ok ? "returned" : "failed with"} ${clip(ta)}, ${languages[1]} ${b.ok ? "returned" : "failed with"} ${clip(tb)}`);
      }
      return a;
    },
    close() {
      own.close();
      twin.close();
    },
  };
}

async function replayTask(episode: Caller, env: Environment, task: Task, ti: number, issues: GateIssue[], goldOutputs: Map<string, string>): Promise<number> {
  const trackers = [new EpisodeTracker(task.unsolved_set, "ftrl"), new EpisodeTracker(task.unsolved_set, "strict")];
  const outputs = new Map<string, string>();
  const at = `$.tasks[${ti}]`;
  {
    for (const [si, step] of task.gold_plan.entries()) {
      const r = await episode.call(step.tool, step.arguments);
      const text = outputText(step.tool, r);
      outputs.set(step.id, text);
      goldOutputs.set(`${ti}\u0001${step.id}`, text);
      if (!r.ok) issue(issues, CRASHES.has(r.kind) ? "runtime" : "replay", `${at}.gold_plan[${si}]`, `gold step ${step.id} (${step.tool}) failed with ${r.kind.replaceAll("_", " ")}: ${r.error}`);
      const pending = ownList(trackers[0]!.pending(), step.tool);
      const others = [...pending];
      const own = others.indexOf(step.yields);
      if (own >= 0) others.splice(own, 1);
      for (const o of others) if (verify(text, o)) issue(issues, "exclusive", `${at}.gold_plan[${si}]`, `the output of gold step ${step.id} also matches "${o}", another sub-answer still pending for ${step.tool}, so one call could solve the wrong one`);
      for (const tracker of trackers) {
        const solved = tracker.record({ name: step.tool, arguments: step.arguments, output: text, is_error: !r.ok });
        if (solved === step.yields) continue;
        const got = solved === null ? "solves no sub-answer" : `solves "${solved}" instead`;
        issue(issues, "replay", `${at}.gold_plan[${si}]`, `gold step ${step.id} (${step.tool}) should solve "${step.yields}", but its output ${got} (${tracker.mode} reward)`);
      }
      const doc = normalize(JSON.stringify(env.tools.find((t) => t.name === step.tool) ?? {}));
      const sources = [normalize(task.question), ...step.depends_on.map((d) => normalize(outputs.get(d) ?? ""))];
      for (const v of scalars(step.arguments as Json)) {
        const s = normalize(String(v));
        if (!sources.some((src) => src.includes(s)) && !(typeof v === "string" && doc.includes(s))) {
          issue(issues, "provenance", `${at}.gold_plan[${si}].arguments`, `gold step ${step.id} passes ${JSON.stringify(v)}, which the agent could not know: it is neither in the question nor in the output of ${step.depends_on.length ? `the step it depends on (${step.depends_on.join(", ")})` : "a step it depends on (it depends on none)"}`);
        }
      }
    }
    for (const t of trackers) {
      const m = t.metrics();
      if (m.solve_rate !== 1 || m.solve_precision !== 1) issue(issues, "replay", at, `replaying the gold plan reaches solve_rate ${m.solve_rate} and solve_precision ${m.solve_precision} (${t.mode} reward); both must be 1`);
    }
    const texts = [...outputs.values()];
    for (const piece of task.answer.split(", ")) {
      if (!texts.some((t) => verify(t, piece))) issue(issues, "answer", `${at}.answer`, `the final answer's piece "${piece}" appears in no gold step's output, so no agent could find it`);
    }
  }
  return task.gold_plan.length;
}

async function probeAll(episode: Caller, env: Environment, issues: GateIssue[], goldOutputs: Map<string, string>): Promise<number> {
  const wanted = new Map<string, Omit<Probe, "text">>();
  const addProbe = (tool: string, args: Record<string, Json>, origin?: Probe["origins"][number]) => {
    const key = `${tool}\u0001${JSON.stringify(args)}`;
    const p = wanted.get(key) ?? { tool, args, origins: [] };
    if (origin) p.origins.push(origin);
    wanted.set(key, p);
  };
  const keys = rowKeys(env.initial_state);
  env.tasks.forEach((task, ti) => {
    for (const step of task.gold_plan) for (const d of probesFor(env, step, keys)) addProbe(step.tool, d.args, { task: ti, step: step.id, kind: d.kind, key: d.key });
  });
  const examples = (env.provenance.stages.scale as { distractors?: { name: string; example: Record<string, Json> }[] } | undefined)?.distractors ?? [];
  const inPlans = new Set(env.tasks.flatMap((t) => t.gold_plan.map((s) => s.tool)));
  for (const t of env.tools) if (!inPlans.has(t.name)) addProbe(t.name, {});
  const probes: Probe[] = [];
  {
    for (const p of wanted.values()) {
      const r = await episode.call(p.tool, p.args);
      if (!r.ok && CRASHES.has(r.kind)) issue(issues, "runtime", `$.implementation.tools.${p.tool}`, `calling ${p.tool}(${JSON.stringify(p.args)}) crashed with ${r.kind.replaceAll("_", " ")}: ${r.error}`);
      probes.push({ ...p, text: outputText(p.tool, r) });
    }
    for (const ex of examples) {
      const r = await episode.call(ex.name, ex.example);
      if (!r.ok) issue(issues, "runtime", `$.implementation.tools.${ex.name}`, `distractor ${ex.name} fails on its own example call: ${r.error}`);
    }
  }
  env.tasks.forEach((task, ti) => {
    for (const p of probes) {
      for (const golden of ownList(task.unsolved_set, p.tool)) {
        if (!verify(p.text, golden) || echoed(p.tool, p.args, golden)) continue;
        const yielders = task.gold_plan.filter((s) => s.tool === p.tool && s.yields === golden);
        if (yielders.some((s) => namesSameRows(p.args, s.arguments as Json, keys))) continue;
        const own = p.origins.filter((o) => o.task === ti && yielders.some((s) => s.id === o.step));
        if (own.some((o) => (o.kind === "misspelling" && !o.key) || (o.kind === "other-row" && goldOutputs.get(`${ti}\u0001${o.step}`) === p.text))) continue;
        issue(issues, "leak", `$.tasks[${ti}].unsolved_set`, `the probe ${p.tool}(${JSON.stringify(p.args)}) reveals the sub-answer "${golden}" without the gold call that should find it`);
      }
    }
  });
  return probes.length + examples.length;
}

/** A tool's list in a record keyed by tool name; own keys only, since a tool may be named `constructor`. */
const ownList = (record: Record<string, string[]>, tool: string): string[] => (Object.hasOwn(record, tool) ? record[tool]! : []);

/** Limits a tool may not hit on any input: failing these on a long string means it is super-linear in it. */
const STALLS = new Set(["timeout", "out_of_memory", "stack_overflow"]);

/**
 * Every string parameter of every tool, one at a time, set to each long adversarial input on top of
 * the tool's first gold call (or its distractor example, or no arguments). A tool may refuse the input;
 * it may not run out of time, memory or stack on it. One failure per parameter is enough to report.
 */
async function probeAdversarial(episode: Caller, env: Environment, issues: GateIssue[]): Promise<number> {
  const examples = new Map(((env.provenance.stages.scale as { distractors?: { name: string; example: Record<string, Json> }[] } | undefined)?.distractors ?? []).map((d) => [d.name, d.example]));
  const golds = new Map<string, Record<string, Json>>();
  for (const step of env.tasks.flatMap((t) => t.gold_plan)) if (!golds.has(step.tool)) golds.set(step.tool, step.arguments as Record<string, Json>);
  let calls = 0;
  for (const tool of env.tools) {
    const failed = new Set<string>();
    for (const probe of adversarialCalls(tool.input_schema, golds.get(tool.name) ?? examples.get(tool.name) ?? {})) {
      if (failed.has(probe.param)) continue;
      calls++;
      const r = await episode.call(tool.name, probe.args);
      if (r.ok || !STALLS.has(r.kind)) continue;
      failed.add(probe.param);
      issue(issues, "runtime", `$.implementation.tools.${tool.name}`, `${tool.name} with ${probe.param} = ${probe.label} failed (${r.kind}): ${r.error}; code that is super-linear in an argument lets one call stall an episode`);
    }
  }
  return calls;
}

export interface GateOptions {
  /**
   * The same tools in another language (a Python deployment's JavaScript twin): every call the gate
   * makes runs in both, and the first output that differs by a byte fails the "twin" check.
   */
  twin?: Implementation;
}

/** Runs the dynamic gate on an environment already known to parse; `limits` override the gate's sandbox limits. */
export async function gate(env: Environment, limits: SandboxLimitsInput = {}, options: GateOptions = {}): Promise<ValidationReport> {
  const issues: GateIssue[] = [];
  // Replay, probes and the state gate all start from a gold plan; without one there is nothing to run.
  env.tasks.forEach((t, ti) => {
    if (t.gold_plan.length === 0) issue(issues, "replay", `$.tasks[${ti}].gold_plan`, `task ${t.id} has no gold plan (as in imported FTRL rows), so the dynamic gate cannot run on it; \`validate --static\` checks the rest`);
  });
  if (issues.length > 0) return { ok: false, issues, replayed_steps: 0, probes: 0 };
  let compiled: CompiledEnvironment;
  let twin: CompiledEnvironment | null = null;
  try {
    compiled = await compileEnvironment(env, { ...GATE_LIMITS, ...limits });
  } catch (err) {
    issue(issues, "compile", "$.implementation", (err as Error).message);
    return { ok: false, issues, replayed_steps: 0, probes: 0 };
  }
  if (options.twin) {
    try {
      twin = await compileEnvironment({ ...env, implementation: options.twin }, { ...GATE_LIMITS, ...limits });
    } catch (err) {
      issue(issues, "twin", "$.implementation", `the ${options.twin.language} twin does not compile: ${(err as Error).message}`);
      return { ok: false, issues, replayed_steps: 0, probes: 0 };
    }
  }
  const languages: [string, string] = [env.implementation.language, options.twin?.language ?? ""];
  const reported = { done: false };
  let replayed = 0;
  let probes = 0;
  let nearMisses: number | undefined;
  const goldOutputs = new Map<string, string>();
  // Each task replays as an agent would meet it, on a fresh copy of the state. Opening an episode costs
  // more than most calls, so when no tool changes state (nothing to reset) the tasks and probes share one.
  const stateless = !/"readOnlyHint":\s*false/.test(JSON.stringify(env.tools.map((t) => t.annotations ?? { readOnlyHint: false })));
  const episodes: Caller[] = [];
  const fresh = (): Caller => {
    if (stateless && episodes.length > 0) return episodes[0]!;
    const own = compiled.openEpisode({});
    const e = twin ? twinCaller(own, twin.openEpisode({}), languages, issues, reported) : own;
    episodes.push(e);
    return e;
  };
  try {
    for (const [ti, task] of env.tasks.entries()) replayed += await replayTask(fresh(), env, task, ti, issues, goldOutputs);
    probes = await probeAll(fresh(), env, issues, goldOutputs);
    probes += await probeAdversarial(fresh(), env, issues);
    const stateTwin = twin ? { compiled: twin, language: languages[1], pair: (own: Episode, other: Episode) => twinCaller(own, other, languages, issues, reported) } : undefined;
    if (env.tasks.some((t) => t.final_state)) nearMisses = await stateGate(compiled, env, issues, stateTwin);
  } catch (err) {
    // Calls report tool failures as results; a throw means the code could not even be set up.
    issue(issues, "compile", "$.implementation", (err as Error).message);
  } finally {
    for (const e of episodes) e.close();
  }
  return { ok: issues.length === 0, issues, replayed_steps: replayed, probes, ...(nearMisses !== undefined ? { near_misses: nearMisses } : {}) };
}

/** The static checks of the loader, then the dynamic gate; every finding as a Problem. */
export async function validateEnvironment(env: Environment, file = env.id ?? "<input>"): Promise<Problem[]> {
  const parsed = parseEnvironment(env, file);
  if (!parsed.ok) return parsed.problems;
  const report = await gate(parsed.env);
  return report.issues.map((i) => ({ file, path: i.path, message: `${i.check}: ${i.message}` }));
}

/** The gate over loaded files, one after another (one sandbox at a time keeps memory flat). */
export async function validateEnvironments(entries: readonly { file: string; env: Environment }[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const e of entries) problems.push(...(await validateEnvironment(e.env, e.file)));
  return problems;
}
