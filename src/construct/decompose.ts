// Stage 1, scenario decomposition: grows a seeded world and writes tasks of the requested scenario,
// each split into sub-questions with their sub-answers, keeping only tasks whose sub-answers match unambiguously.
import type { BuildRequest, Decomposition, FactTable, Knowledge, Need, Scenario, SubQuestion, TaskPlan } from "../schema/index.ts";
import { ACTIONS, DOMAIN_DEFS, entity, fieldOf, type ActionKind, type FactRecord, type FieldDef } from "./catalog.ts";
import { calc, CURRENCIES, UNITS } from "./calc.ts";
import { personName } from "./names.ts";
import { fill, joinList, joinSentences, ORDINALS, questionFrom, upperFirst, wrapClauses } from "./phrasing.ts";
import { Rejection } from "./reject.ts";
import { rngFrom, type Rng } from "./rng.ts";
import { normalize, verify } from "../score/index.ts";
import { World } from "./world.ts";

/** Python-style JSON, as the reward serializes arguments when it looks for echoes. */
function pyJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(", ")}}`;
}

const pieces = (answer: string): string[] => answer.split(", ").map(normalize);

/** Whether every piece of `answer` already shows in the arguments a need implies (strict mode would not count it). */
function echoedByNeed(need: Need, answer: string): boolean {
  const texts = [normalize(pyJson(need))];
  const walk = (v: unknown): void => {
    if (typeof v === "string") texts.push(normalize(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(need);
  return pieces(answer).every((p) => texts.some((t) => t.includes(p)));
}

const RATE_RANGES: Record<string, [number, number]> = {
  EUR: [0.84, 0.97],
  GBP: [0.72, 0.83],
  CHF: [0.81, 0.95],
  CAD: [1.27, 1.43],
  SEK: [9.6, 11.4],
  JPY: [138, 162],
};

const OTHER_UNIT: Record<string, string> = { km: "mi", m: "ft", kg: "lb", km2: "mi2" };

/** A step being drafted, with the record it reads (for the ambiguity checks). */
interface Step {
  sub: SubQuestion;
  source: { type: string; rec: FactRecord } | null;
}

interface Draft {
  steps: Step[];
  question: string;
  answer: string;
  pattern: string;
}

interface Ctx {
  request: BuildRequest;
  rng: Rng;
  world: World;
  rates: Record<string, number>;
  roots: string[];
  /** Preferred fields per root type, so tasks of one environment share tools. */
  theme: Map<string, string[]>;
  actions: ActionKind[];
}

interface Hop {
  type: string;
  field: string;
}

/** Relation paths from `type`, exactly `length` hops long. */
function pathsFrom(type: string, length: number): Hop[][] {
  if (length === 0) return [[]];
  const out: Hop[][] = [];
  for (const f of entity(type).fields) {
    if (f.kind !== "ref") continue;
    for (const rest of pathsFrom(f.ref!, length - 1)) out.push([{ type, field: f.name }, ...rest]);
  }
  return out;
}

const targetOf = (root: string, path: readonly Hop[]): string => (path.length === 0 ? root : fieldOf(path[path.length - 1]!.type, path[path.length - 1]!.field).ref!);

function mention(type: string, name: string, rng: Rng): string {
  const def = entity(type);
  const noun = rng.pick(def.nouns);
  const forms = def.mentions.filter((m) => !m.includes("{noun}") || !name.toLowerCase().includes(noun));
  return fill(rng.pick(forms), { name, noun });
}

const nextId = (steps: readonly Step[]): string => `s${steps.length + 1}`;

function lookupStep(steps: Step[], type: string, rec: FactRecord, fieldName: string, dependsOn: string[]): Step {
  const def = entity(type);
  const f = fieldOf(type, fieldName);
  const key = String(rec[def.key]);
  const value = rec[fieldName]!;
  const step: Step = {
    sub: {
      id: nextId(steps),
      text: upperFirst(fill(f.ask[0] ?? `What is the ${f.label} of {x}?`, { x: fill(def.mentions[0]!, { name: key, noun: def.nouns[0]! }) })),
      relation: `${type}.${fieldName}`,
      need: { kind: "lookup", table: def.table, key, field: fieldName },
      depends_on: dependsOn,
      answer: String(value),
    },
    source: { type, rec },
  };
  steps.push(step);
  return step;
}

function computeStep(steps: Step[], need: Need, text: string, relation: string, answer: string, dependsOn: string[]): Step {
  const step: Step = { sub: { id: nextId(steps), text, relation, need, depends_on: dependsOn, answer }, source: null };
  steps.push(step);
  return step;
}

/** Follows a relation path from a new root entity, adding one lookup step per hop; returns the target and its phrase. */
function walk(ctx: Ctx, steps: Step[], root: string, path: readonly Hop[], dependsOn: string[]): { type: string; rec: FactRecord; np: string; last: string[] } {
  let type = root;
  let rec = ctx.world.create(root);
  let np = mention(root, String(rec[entity(root).key]), ctx.rng);
  let deps = dependsOn;
  for (const hop of path) {
    const s = lookupStep(steps, type, rec, hop.field, deps);
    deps = [s.sub.id];
    const next = ctx.world.follow(type, rec, hop.field);
    np = fill(ctx.rng.pick(fieldOf(type, hop.field).np), { x: np });
    type = next.type;
    rec = next.record;
  }
  return { type, rec, np, last: deps };
}

const askableFields = (type: string, kinds?: readonly FieldDef["kind"][]): FieldDef[] =>
  entity(type).fields.filter((f) => f.askable && (!kinds || kinds.includes(f.kind)));

function pickField(ctx: Ctx, type: string, kinds?: readonly FieldDef["kind"][]): FieldDef | undefined {
  const all = askableFields(type, kinds);
  if (all.length === 0) return undefined;
  const themed = all.filter((f) => ctx.theme.get(type)?.includes(f.name));
  return ctx.rng.pick(themed.length > 0 && ctx.rng.chance(0.7) ? themed : all);
}

/** A booking-like step. Its sub-answer pairs the total with the name booked under, so another booking with the same total cannot pass for it. */
function actionPart(ctx: Ctx, steps: Step[]): { step: Step; sentence: string; total: number } {
  const kind = ctx.rng.pick(ctx.actions);
  const a = ACTIONS[kind];
  const def = entity(a.entity);
  const rec = ctx.world.create(a.entity);
  const key = String(rec[def.key]);
  const stock = Number(rec[a.stock]);
  const quantity = ctx.rng.int(2, Math.max(2, Math.min(a.usesQuantity ? stock : 6, 6)));
  const guest = ctx.world.freshName(personName);
  const date = a.needsDate ? calc.formatDay(calc.parseDay("2026-01-01")! + ctx.rng.int(3, 330)) : undefined;
  const price = Number(rec[a.price]);
  const total = calc.arithmetic(quantity, price, "multiply", 2);
  const need: Need = { kind: "action", action: kind, table: def.table, key, quantity, guest, ...(date ? { date } : {}) };
  const vars = { x: key, n: String(quantity), guest, date: date ?? "" };
  const step = computeStep(steps, need, upperFirst(fill(a.imperative[0]!, vars)), `${a.entity}.${kind}`, `${total}, ${guest}`, []);
  step.source = { type: a.entity, rec };
  return { step, sentence: fill(ctx.rng.pick(a.imperative), vars), total };
}

const TOTAL_QUESTIONS = ["What is the total cost?", "How much does it come to in total?", "Tell me the total.", "What will the total be?"];

function singleHop(ctx: Ctx): Draft {
  const steps: Step[] = [];
  if (ctx.actions.length > 0 && ctx.rng.chance(0.3)) {
    const { step, sentence, total } = actionPart(ctx, steps);
    return { steps, question: `${sentence} ${ctx.rng.pick(TOTAL_QUESTIONS)}`, answer: String(total), pattern: `action(${step.sub.relation})` };
  }
  const root = ctx.rng.pick(ctx.roots);
  const f = pickField(ctx, root)!;
  const t = walk(ctx, steps, root, [], []);
  const s = lookupStep(steps, root, t.rec, f.name, []);
  return { steps, question: questionFrom(f.ask, f.clause, { x: t.np }, ctx.rng), answer: s.sub.answer, pattern: `lookup(${s.sub.relation})` };
}

function parallelSingleHop(ctx: Ctx): Draft {
  const steps: Step[] = [];
  const width = ctx.rng.int(2, 4);
  const parts: { ask: string[]; clause: string[]; np: string; sentence?: string; final: string }[] = [];
  for (let i = 0; i < width; i++) {
    if (ctx.actions.length > 0 && ctx.rng.chance(0.25)) {
      const { sentence, total } = actionPart(ctx, steps);
      parts.push({ ask: [], clause: [], np: "", sentence: `${sentence} ${ctx.rng.pick(TOTAL_QUESTIONS)}`, final: String(total) });
      continue;
    }
    const root = ctx.rng.pick(ctx.roots);
    const f = pickField(ctx, root)!;
    const t = walk(ctx, steps, root, [], []);
    const s = lookupStep(steps, root, t.rec, f.name, []);
    parts.push({ ask: f.ask, clause: f.clause, np: t.np, final: s.sub.answer });
  }
  let question: string;
  if (parts.every((p) => p.sentence === undefined) && ctx.rng.chance(0.5)) {
    question = wrapClauses(parts.map((p) => fill(ctx.rng.pick(p.clause), { x: p.np })), ctx.rng);
  } else {
    question = joinSentences(parts.map((p) => p.sentence ?? upperFirst(fill(ctx.rng.pick(p.ask), { x: p.np }))), ctx.rng);
  }
  return {
    steps,
    question,
    answer: parts.map((p) => p.final).join(", "),
    pattern: `parallel(${steps.map((s) => s.sub.relation).join(", ")})`,
  };
}

function currencyPhrase(code: string, rng: Rng): string {
  return rng.pick([code, `${CURRENCIES[code]} (${code})`]);
}

/** A compute step that transforms the last value of a chain: currency, unit or date arithmetic. */
function transform(ctx: Ctx, steps: Step[], f: FieldDef, value: number | string, currency: string | undefined, vnp: string, dependsOn: string[]): { question: string; step: Step } {
  const rng = ctx.rng;
  if (f.kind === "money") {
    const to = rng.pick(Object.keys(ctx.rates).filter((c) => c !== currency));
    const amount = Number(value);
    const result = calc.convertCurrency(amount, currency!, to, ctx.rates, 2);
    const step = computeStep(steps, { kind: "convert_currency", amount, from: currency!, to }, `Convert ${amount} ${currency} to ${to}.`, `convert_currency(${currency}>${to})`, String(result), dependsOn);
    const cur = currencyPhrase(to, rng);
    const q = rng.pick(["What is {v} in {cur}?", "How much is {v} when converted to {cur}?", "Convert {v} into {cur}.", "Express {v} in {cur}.", "What does {v} come to in {cur}?"]);
    return { question: upperFirst(fill(q, { v: vnp, cur })), step };
  }
  if (f.kind === "quantity") {
    const from = f.unit!;
    const to = OTHER_UNIT[from]!;
    const amount = Number(value);
    const result = calc.convertUnit(amount, from, to, 2);
    const step = computeStep(steps, { kind: "convert_unit", value: amount, from, to }, `Convert ${amount} ${from} to ${to}.`, `convert_unit(${from}>${to})`, String(result), dependsOn);
    const unit = UNITS[to]!.plural;
    const q = rng.pick(["How many {unit} is {v}?", "What is {v} in {unit}?", "Convert {v} to {unit}.", "Express {v} in {unit}, please."]);
    return { question: upperFirst(fill(q, { v: vnp, unit })), step };
  }
  const days = rng.int(10, 400);
  const result = calc.formatDay(calc.parseDay(String(value))! + days);
  const step = computeStep(steps, { kind: "add_days", date: String(value), days }, `What date is ${days} days after ${value}?`, "add_days", result, dependsOn);
  const q = rng.pick(["What date is {n} days after {v}?", "Which date falls {n} days after {v}?", "If you count {n} days forward from {v}, what date do you reach?", "What is the date {n} days after {v}? Answer as YYYY-MM-DD."]);
  return { question: upperFirst(fill(q, { v: vnp, n: String(days) })), step };
}

function multiHop(ctx: Ctx): Draft {
  const rng = ctx.rng;
  const steps: Step[] = [];
  if (ctx.actions.length > 0 && rng.chance(0.2)) {
    const { step, sentence, total } = actionPart(ctx, steps);
    const rec = step.source!.rec;
    const currency = String(rec.currency);
    const to = rng.pick(Object.keys(ctx.rates).filter((c) => c !== currency));
    const amount = total;
    const result = calc.convertCurrency(amount, currency, to, ctx.rates, 2);
    computeStep(steps, { kind: "convert_currency", amount, from: currency, to }, `Convert ${amount} ${currency} to ${to}.`, `convert_currency(${currency}>${to})`, String(result), [step.sub.id]);
    const q = rng.pick(["What does it come to in {cur}?", "How much is the total in {cur}?", "Tell me the total converted to {cur}."]);
    return { steps, question: `${sentence} ${fill(q, { cur: currencyPhrase(to, rng) })}`, answer: String(result), pattern: `chain(${step.sub.relation} > convert_currency)` };
  }
  const hops = rng.int(2, 4);
  const root = rng.pick(ctx.roots);
  if (rng.chance(0.35)) {
    const options = pathsFrom(root, hops - 2).filter((p) => askableFields(targetOf(root, p), ["money", "quantity", "date"]).length > 0);
    if (options.length > 0) {
      const path = rng.pick(options);
      const t = walk(ctx, steps, root, path, []);
      const f = pickField(ctx, t.type, ["money", "quantity", "date"])!;
      const s = lookupStep(steps, t.type, t.rec, f.name, t.last);
      const vnp = fill(rng.pick(f.np), { x: t.np });
      const tr = transform(ctx, steps, f, t.rec[f.name]!, t.rec.currency === undefined ? undefined : String(t.rec.currency), vnp, [s.sub.id]);
      return { steps, question: tr.question, answer: tr.step.sub.answer, pattern: `chain(${steps.map((x) => x.sub.relation).join(" > ")})` };
    }
  }
  const path = rng.pick(pathsFrom(root, hops - 1));
  const t = walk(ctx, steps, root, path, []);
  const f = pickField(ctx, t.type)!;
  const s = lookupStep(steps, t.type, t.rec, f.name, t.last);
  return { steps, question: questionFrom(f.ask, f.clause, { x: t.np }, rng), answer: s.sub.answer, pattern: `chain(${steps.map((x) => x.sub.relation).join(" > ")})` };
}

type Combine = "compare" | "aggregate" | "sort" | "subtract" | "date_diff";

const COMBINE_KINDS: Record<Combine, readonly FieldDef["kind"][]> = {
  compare: ["year", "int", "money", "quantity"],
  aggregate: ["int", "money", "quantity"],
  sort: ["year", "int", "money", "quantity"],
  subtract: ["year"],
  date_diff: ["date"],
};

function whichWord(type: string, rng: Rng): string {
  const def = entity(type);
  return def.person ? "who" : rng.pick(["which one", `which ${rng.pick(def.nouns)}`]);
}

function parallelMultiHop(ctx: Ctx): Draft {
  const rng = ctx.rng;
  const steps: Step[] = [];
  const op = rng.pick<Combine>(["compare", "compare", "aggregate", "sort", "subtract", "date_diff"]);
  const width = op === "subtract" || op === "date_diff" ? 2 : op === "sort" ? rng.int(3, 4) : rng.int(2, 4);
  const maxRefs = Math.min(2, Math.floor(9 / width) - 1);
  const root = rng.pick(ctx.roots);
  const options: { path: Hop[]; fields: FieldDef[] }[] = [];
  for (let r = 0; r <= maxRefs; r++) {
    for (const path of pathsFrom(root, r)) {
      let fields = askableFields(targetOf(root, path), COMBINE_KINDS[op]);
      if (op === "aggregate") fields = fields.filter((f) => f.additive || f.kind !== "year");
      if (fields.length > 0) options.push({ path, fields });
    }
  }
  if (options.length === 0) throw new Rejection("decompose", `no ${op} pattern from ${root}`);
  // Prefer chains with at least one relation: that is what makes the scenario multi-hop.
  const withRefs = options.filter((o) => o.path.length > 0);
  const choice = rng.pick(withRefs.length > 0 && rng.chance(0.8) ? withRefs : options);
  const f = rng.pick(choice.fields);
  const chains: { np: string; label: string; value: number | string; last: string }[] = [];
  for (let i = 0; i < width; i++) {
    const t = walk(ctx, steps, root, choice.path, []);
    const s = lookupStep(steps, t.type, t.rec, f.name, t.last);
    chains.push({ np: t.np, label: String(t.rec[entity(t.type).key]), value: t.rec[f.name]!, last: s.sub.id });
  }
  const target = targetOf(root, choice.path);
  const deps = chains.map((c) => c.last);
  const vnps = chains.map((c) => fill(rng.pick(f.np), { x: c.np }));
  const relation = `${target}.${f.name}`;
  const pattern = (name: string) => `${name}(${width} x chain(${[...choice.path.map((h) => `${h.type}.${h.field}`), relation].join(" > ")}))`;
  const distinct = new Set(chains.map((c) => String(c.value))).size === chains.length;
  if (!distinct) throw new Rejection("decompose", "tied values");
  if (op === "compare" || op === "sort") {
    const items = chains.map((c) => ({ label: c.label, value: Number(c.value) }));
    if (op === "compare") {
      const order = rng.pick(["highest", "lowest"] as const);
      const r = calc.compareItems(items, order, 2);
      computeStep(steps, { kind: "compare", order, items }, `Which is ${order}: ${items.map((it) => `${it.label} (${it.value})`).join(", ")}? By how much?`, `compare(${relation}, ${order})`, `${r.winner}, ${r.margin}`, deps);
      const pred = width === 2 ? rng.pick(order === "highest" ? f.more : f.less) : rng.pick(order === "highest" ? f.most : f.least);
      const which = whichWord(target, rng);
      const list = joinList(chains.map((c) => c.np), rng, "or");
      const templates =
        width === 2
          ? [`${upperFirst(which)} ${pred}, ${list}?`, `Between ${joinList(chains.map((c) => c.np), rng)}, ${which} ${pred}?`, `Of ${joinList(chains.map((c) => c.np), rng)}, ${which} ${pred}?`]
          : [`Among ${joinList(chains.map((c) => c.np), rng)}, ${which} ${pred}?`, `${upperFirst(which)} ${pred}: ${list}?`, `Of ${joinList(chains.map((c) => c.np), rng)}, ${which} ${pred}?`];
      return { steps, question: rng.pick(templates), answer: r.winner, pattern: pattern(`compare_${order}`) };
    }
    const order = rng.pick(["ascending", "descending"] as const);
    const seq = calc.sortSequence(items, order);
    computeStep(steps, { kind: "sort", order, items }, `Sort ${items.map((it) => `${it.label} (${it.value})`).join(", ")} in ${order} order.`, `sort(${relation}, ${order})`, seq, deps);
    const rank = rng.int(1, width - 1);
    const labelAt = seq.split(order === "ascending" ? " < " : " > ")[rank]!;
    const dir = order === "ascending" ? rng.pick(["from lowest to highest", "lowest first", "in ascending order"]) : rng.pick(["from highest to lowest", "highest first", "in descending order"]);
    const list = joinList(chains.map((c) => c.np), rng);
    const q = rng.pick([`Rank ${list} by ${f.label}, ${dir}. Which one comes ${ORDINALS[rank]}?`, `If you order ${list} by ${f.label} ${dir}, which is ${ORDINALS[rank]}?`, `Sort ${list} by ${f.label} ${dir}: what is in ${ORDINALS[rank]} place?`]);
    return { steps, question: q, answer: labelAt, pattern: pattern(`sort_${order}`) };
  }
  if (op === "aggregate") {
    const values = chains.map((c) => Number(c.value));
    // A whole-number mean is a prefix of the mean of slightly different values (x.5), so only sums may be whole.
    const mean = calc.aggregateValues(values, "mean", 2);
    const how = f.additive && (rng.chance(0.6) || Number.isInteger(mean)) ? ("sum" as const) : ("mean" as const);
    if (how === "mean" && Number.isInteger(mean)) throw new Rejection("decompose", "whole-number mean");
    const result = calc.aggregateValues(values, how, 2);
    computeStep(steps, { kind: "aggregate", op: how, values }, `What is the ${how} of ${values.join(", ")}?`, `aggregate(${relation}, ${how})`, String(result), deps);
    const list = joinList(chains.map((c) => c.np), rng);
    const q =
      how === "sum"
        ? rng.pick([`What is the combined ${f.label} of ${list}?`, `Add up the ${f.label} of ${list}. What is the total?`, `What is the total ${f.label} across ${list}?`])
        : rng.pick([`What is the average ${f.label} of ${list}?`, `On average, what is the ${f.label} of ${list}?`, `Compute the mean ${f.label} of ${list}.`]);
    return { steps, question: q, answer: String(result), pattern: pattern(`aggregate_${how}`) };
  }
  if (op === "subtract") {
    const [hi, lo] = Number(chains[0]!.value) > Number(chains[1]!.value) ? [chains[0]!, chains[1]!] : [chains[1]!, chains[0]!];
    const result = calc.arithmetic(Number(hi.value), Number(lo.value), "subtract", 2);
    computeStep(steps, { kind: "subtract", a: Number(hi.value), b: Number(lo.value) }, `What is ${hi.value} minus ${lo.value}?`, `subtract(${relation})`, String(result), deps);
    const q = rng.pick(["How many years apart are {a} and {b}?", "How many years separate {a} and {b}?", "What is the difference in years between {a} and {b}?"]);
    return { steps, question: upperFirst(fill(q, { a: vnps[0]!, b: vnps[1]! })), answer: String(result), pattern: pattern("subtract") };
  }
  const [d0, d1] = [calc.parseDay(String(chains[0]!.value))!, calc.parseDay(String(chains[1]!.value))!];
  const [start, end] = d0 < d1 ? [chains[0]!, chains[1]!] : [chains[1]!, chains[0]!];
  const days = Math.abs(d1 - d0);
  computeStep(steps, { kind: "date_diff", start: String(start.value), end: String(end.value) }, `How many days are there from ${start.value} to ${end.value}?`, `date_diff(${relation})`, String(days), deps);
  const q = rng.pick(["How many days are there between {a} and {b}?", "How many days passed between {a} and {b}?", "Count the days from {a} to {b}."]);
  return { steps, question: upperFirst(fill(q, { a: vnps[0]!, b: vnps[1]! })), answer: String(days), pattern: pattern("date_diff") };
}

const MAKERS: Record<Scenario, (ctx: Ctx) => Draft> = {
  "single-hop": singleHop,
  "parallel-single-hop": parallelSingleHop,
  "multi-hop": multiHop,
  "parallel-multi-hop": parallelMultiHop,
};

/** A record's values as a tool would show them, normalized, without the identifying key (a probe naming the key echoes it anyway). */
const TEXTS = new WeakMap<FactRecord, string>();
function recordText(type: string, rec: FactRecord): string {
  let text = TEXTS.get(rec);
  if (text === undefined) {
    const key = entity(type).key;
    text = normalize(
      Object.entries(rec)
        .filter(([k]) => k !== key)
        .map(([k, v]) => `${k}: ${v}`)
        .join(" | "),
    );
    TEXTS.set(rec, text);
  }
  return text;
}

/** verify() with the record text already normalized. */
const shows = (text: string, answer: string): boolean => pieces(answer).every((p) => text.includes(p));

/** Why one draft's sub-answers could be confused with each other or echo their own arguments, or null. */
function internalAmbiguity(d: Draft): string | null {
  let circular: string | null = null;
  const answers = d.steps.map((s) => s.sub.answer);
  for (let i = 0; i < answers.length; i++) {
    for (let j = 0; j < answers.length; j++) {
      if (i !== j && verify(answers[i]!, answers[j]!)) return `sub-answer "${answers[j]}" is inside "${answers[i]}"`;
    }
  }
  // A chain that comes back to a record (a capital's country) shows a later sub-answer as an earlier step's key.
  d.steps.forEach((s, i) => {
    if (s.sub.need.kind === "lookup") for (const later of d.steps.slice(i + 1)) if (verify(s.sub.need.key, later.sub.answer)) circular ??= `sub-answer "${later.sub.answer}" is the key of an earlier step`;
  });
  if (circular) return circular;
  for (const s of d.steps) {
    // Short computed numbers (a margin of 4, a gap of 61) turn up inside unrelated outputs.
    const minimum = s.sub.need.kind === "compare" ? 2 : 3;
    if (s.sub.need.kind !== "lookup" && pieces(s.sub.answer).some((p) => p.length < minimum)) return `sub-answer "${s.sub.answer}" is too short to match unambiguously`;
    if (echoedByNeed(s.sub.need, s.sub.answer)) return `sub-answer "${s.sub.answer}" is echoed by its own arguments`;
  }
  return null;
}

/** Whether a lookup sub-answer shows in a record other than the one it is read from. Lookups may all end up in one tool, so any record counts. */
function recordConflict(drafts: readonly Draft[], records: readonly { type: string; rec: FactRecord }[]): string | null {
  for (const d of drafts) {
    for (const s of d.steps) {
      if (s.sub.need.kind !== "lookup") continue;
      for (const other of records) {
        if (other.rec !== s.source?.rec && shows(recordText(other.type, other.rec), s.sub.answer)) return `sub-answer "${s.sub.answer}" also shows in another record`;
      }
    }
  }
  return null;
}

const sourcesOf = (drafts: readonly Draft[]): { type: string; rec: FactRecord }[] => {
  const out: { type: string; rec: FactRecord }[] = [];
  for (const d of drafts) for (const s of d.steps) if (s.source && !out.some((o) => o.rec === s.source!.rec)) out.push(s.source);
  return out;
};

function slug(relation: string): string {
  return relation.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 48);
}

export function decompose(request: BuildRequest): Decomposition {
  const rng = rngFrom(request.seed).fork("decompose");
  const world = new World(rng.fork("world"));
  const dom = DOMAIN_DEFS[request.domain];
  const rates: Record<string, number> = { USD: 1 };
  for (const [code, [lo, hi]] of Object.entries(RATE_RANGES)) rates[code] = rng.float(lo, hi, hi > 100 ? 2 : 4);
  const theme = new Map<string, string[]>();
  for (const t of new Set(dom.roots.flatMap((r) => [r, ...pathsFrom(r, 1).map((p) => targetOf(r, p))]))) {
    theme.set(t, rng.sample(askableFields(t).map((f) => f.name), 2));
  }
  const ctx: Ctx = { request, rng, world, rates, roots: dom.roots, theme, actions: dom.actions };
  const drafts: Draft[] = [];
  const reasons: string[] = [];
  for (let k = 0; k < request.tasks; k++) {
    let accepted = false;
    for (let attempt = 0; attempt < 30 && !accepted; attempt++) {
      let draft: Draft;
      try {
        draft = MAKERS[request.scenario](ctx);
      } catch (err) {
        if (err instanceof Rejection) {
          reasons.push(err.message);
          continue;
        }
        throw err;
      }
      const fresh = sourcesOf([draft]);
      const problem = drafts.some((d) => d.question === draft.question)
        ? "question repeats"
        : (internalAmbiguity(draft) ?? recordConflict([draft], [...sourcesOf(drafts), ...fresh]) ?? recordConflict(drafts, fresh));
      if (problem) reasons.push(problem);
      else {
        drafts.push(draft);
        accepted = true;
      }
    }
    if (!accepted) throw new Rejection("decompose", `no unambiguous ${request.scenario} task (${reasons.slice(-3).join("; ")})`);
  }
  const pool = sourcesOf(drafts);
  // Decoys: a few more rows per table, dropped if they would show a sub-answer.
  for (const type of [...new Set(pool.map((p) => p.type))]) {
    for (let i = rng.int(2, 3); i > 0; i--) {
      const rec = world.create(type);
      const decoy = { type, rec };
      if (recordConflict(drafts, [decoy]) === null) pool.push(decoy);
    }
  }
  const tables: Record<string, FactTable> = {};
  for (const type of [...new Set(pool.map((p) => p.type))]) {
    const def = entity(type);
    tables[def.table] = { entity: type, noun: def.nouns[0]!, key: def.key, rows: rng.shuffle(pool.filter((p) => p.type === type).map((p) => p.rec)) };
  }
  const knowledge: Knowledge = { tables, exchange_rates: rates };
  const tasks: TaskPlan[] = drafts.map((d, i) => ({
    id: `t${i + 1}-${slug(d.steps[d.steps.length - 1]!.sub.relation)}`,
    question: d.question,
    answer: d.answer,
    pattern: d.pattern,
    sub_questions: d.steps.map((s) => s.sub),
  }));
  return { request, title: `${dom.title}: ${SCENARIO_TITLES[request.scenario]}`, knowledge, tasks };
}

const SCENARIO_TITLES: Record<Scenario, string> = {
  "single-hop": "single look-ups",
  "parallel-single-hop": "several independent look-ups",
  "multi-hop": "chained look-ups",
  "parallel-multi-hop": "chains combined by a computation",
};

