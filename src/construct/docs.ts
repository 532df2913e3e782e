// Writing tool documents: names, descriptions and parameter schemas in a seeded style. Every stage that
// creates or changes a tool renders it here, so the document always matches what the tool does.
import type { ComputeKind, DocStyle, FactTable, Knowledge, ParamOption, ParamRole, ToolBehavior, ToolDraft, ToolParam } from "../schema/index.ts";
import { ACTIONS } from "./catalog.ts";
import { CURRENCIES, UNITS } from "./calc.ts";
import { upperFirst } from "./phrasing.ts";
import type { Rng } from "./rng.ts";

/** Shapes and options a tool's parameters take; the scaling stage raises them. */
export interface RenderOptions {
  /** Enums become free strings checked in code. */
  loose: boolean;
  /** Identifiers and composite inputs become objects. */
  objects: boolean;
  /** ... and lists (batch calls). */
  lists: boolean;
  /** Optional behaviours exposed as extra parameters. */
  options: ParamOption[];
}

export const BASE_OPTIONS: RenderOptions = { loose: false, objects: false, lists: false, options: [] };

export const OPTION_POOLS: Record<ToolBehavior["kind"], ParamOption[]> = {
  lookup: ["response_format", "include_metadata", "request_id", "as_of"],
  compute: ["precision", "explain", "request_id"],
  action: ["notes", "dry_run", "contact_email"],
  sidekick: ["request_id", "as_of", "include_metadata"],
};

const VERBS = ["get", "fetch", "lookup", "find", "retrieve", "query"] as const;

export function pickStyle(rng: Rng): DocStyle {
  return {
    casing: rng.pick(["snake", "snake", "snake", "camel", "camel", "kebab"] as const),
    verb: rng.pick(VERBS),
    verbosity: rng.pick(["terse", "standard", "standard", "verbose"] as const),
    param_names: {
      key: rng.pick(["plain", "plain", "prefixed", "noun"]),
      field: rng.pick(["field", "attribute", "property"]),
      kind: rng.pick(["record_type", "entity_type", "category"]),
      order: rng.pick(["order", "direction", "mode"]),
      op: rng.pick(["op", "method"]),
      operation: rng.pick(["operation", "calculation"]),
      fromto: rng.pick(["from/to", "source/target", "from_currency/to_currency"]),
      amount: rng.pick(["amount", "value"]),
      items: rng.pick(["items", "entries", "candidates"]),
      values: rng.pick(["values", "numbers"]),
      guest: rng.pick(["guest_name", "customer_name", "booked_for"]),
      date: rng.pick(["date", "day"]),
      days: rng.pick(["days", "offset_days", "number_of_days"]),
      startend: rng.pick(["start/end", "from_date/to_date", "start_date/end_date"]),
      range: rng.pick(["period", "date_range", "range"]),
      ab: rng.pick(["a/b", "x/y", "left/right"]),
      operands: rng.pick(["operands", "terms"]),
    },
  };
}

/** Joins name words in the style's casing; the result is always a valid tool name. */
export function toolName(style: DocStyle, words: readonly string[]): string {
  const parts = words.flatMap((w) => w.toLowerCase().split(/[^a-z0-9]+/)).filter(Boolean);
  if (style.casing === "camel") return parts.map((p, i) => (i === 0 ? p : upperFirst(p))).join("");
  return parts.join(style.casing === "kebab" ? "-" : "_");
}

const pn = (style: DocStyle, role: string, fallback: string): string => style.param_names[role] ?? fallback;
const pair = (style: DocStyle, role: string, fallback: string): [string, string] => {
  const [a, b] = pn(style, role, fallback).split("/");
  return [a!, b!];
};

function keyParamName(style: DocStyle, table: FactTable): string {
  const mode = pn(style, "key", "plain");
  if (mode === "prefixed") return `${table.noun}_${table.key}`;
  if (mode === "noun") return table.noun;
  return table.key;
}

/** Field names of a table, in the order of its rows. */
export function fieldsOf(table: FactTable): string[] {
  const out: string[] = [];
  for (const row of table.rows) for (const k of Object.keys(row)) if (k !== table.key && !out.includes(k)) out.push(k);
  return out;
}

const OP_NAMES: Record<ComputeKind, string> = {
  convert_currency: "convert_currency",
  convert_unit: "convert_units",
  add_days: "add_days",
  date_diff: "days_between",
  subtract: "arithmetic",
  compare: "compare",
  aggregate: "aggregate",
  sort: "sort",
};
export const operationName = (k: ComputeKind): string => OP_NAMES[k];
const AGG_OPS = ["sum", "mean", "min", "max", "count"];
const ARITH_OPS = ["add", "subtract", "multiply", "divide"];
export const UNIT_CODES = Object.keys(UNITS);

/** The words a tool name is made of. */
function nameWords(b: ToolBehavior, style: DocStyle, knowledge: Knowledge): string[] {
  const verb = style.verb;
  switch (b.kind) {
    case "lookup": {
      if (b.tables.length > 1) return verb === "lookup" ? ["records", "lookup"] : verb === "query" || verb === "find" ? ["search", "records"] : [verb, "record"];
      const t = knowledge.tables[b.tables[0]!]!;
      if (b.field) return [verb, t.noun, ...b.field.split("_")];
      return verb === "lookup" ? [t.noun, "details"] : [verb, t.noun];
    }
    case "compute": {
      const f = b.fixed;
      if (b.ops.length > 1) {
        if (b.ops.every((o) => o === "convert_currency" || o === "convert_unit")) return ["convert"];
        if (b.ops.every((o) => o === "add_days" || o === "date_diff")) return ["date", "calculator"];
        return ["calculate"];
      }
      const op = b.ops[0]!;
      if (op === "convert_currency") return f.from && f.to ? ["convert", f.from, "to", f.to] : ["convert", "currency"];
      if (op === "convert_unit") return f.from && f.to ? [f.from, "to", f.to] : ["convert", "units"];
      if (op === "add_days") return ["add", "days", "to", "date"];
      if (op === "date_diff") return ["days", "between", "dates"];
      if (op === "subtract") return f.op ? [f.op, "numbers"] : ["arithmetic"];
      if (op === "compare") return f.order ? ["find", f.order] : ["compare", "values"];
      if (op === "aggregate") return f.op ? [f.op === "mean" ? "average" : f.op, "values"] : ["aggregate", "values"];
      return f.order ? ["sort", f.order] : ["sort", "values"];
    }
    case "action":
      return b.action.split("_");
    case "sidekick":
      return [verb, knowledge.tables[b.table]?.noun ?? b.table, ...b.template.split("_")];
  }
}

export function defaultToolName(b: ToolBehavior, style: DocStyle, knowledge: Knowledge): string {
  return toolName(style, nameWords(b, style, knowledge));
}

interface Say {
  terse: string;
  standard: string;
  verbose: string;
}
const say = (style: DocStyle, s: Say): string => s[style.verbosity];

function enumOrLoose(values: readonly string[], loose: boolean, description: string): Record<string, unknown> {
  return loose ? { type: "string", description: `${description} One of: ${values.join(", ")} (case-insensitive).` } : { type: "string", enum: [...values], description };
}

function param(name: string, role: ParamRole, required: boolean, schema: Record<string, unknown>, extra: Partial<ToolParam> = {}): ToolParam {
  return { name, role, required, shape: "scalar", loose: false, schema: schema as ToolParam["schema"], ...extra };
}

function optionParam(option: ParamOption, style: DocStyle): ToolParam {
  const d = (s: Say) => say(style, s);
  const p = (schema: Record<string, unknown>) => param(option, "option", false, schema, { option });
  switch (option) {
    case "response_format":
      return p({ type: "string", enum: ["json", "text"], default: "json", description: d({ terse: "json or text.", standard: "Response format: `json` (default) or `text` for a one-line summary.", verbose: "How to return the result: `json` (the default) gives a structured object, `text` a single human-readable line." }) });
    case "include_metadata":
      return p({ type: "boolean", default: false, description: d({ terse: "Add metadata.", standard: "Also return record metadata (source and revision).", verbose: "When true, the response carries a `_meta` object with the data source and the record revision." }) });
    case "request_id":
      return p({ type: "string", description: d({ terse: "Echoed id.", standard: "Optional client request id, echoed back in the response.", verbose: "An identifier of your choosing that is echoed back unchanged, to match responses to requests." }) });
    case "as_of":
      return p({ type: "string", description: d({ terse: "Date, YYYY-MM-DD.", standard: "Return the data as of this date (YYYY-MM-DD); defaults to today.", verbose: "Point in time (YYYY-MM-DD) the answer should reflect. Records are stable, so any valid date returns current data." }) });
    case "precision":
      return p({ type: "integer", minimum: 0, maximum: 6, default: 2, description: d({ terse: "Decimals.", standard: "Number of decimal places in the result (default 2).", verbose: "How many decimal places to round the result to, 0-6. Defaults to 2." }) });
    case "explain":
      return p({ type: "boolean", default: false, description: d({ terse: "Add explanation.", standard: "Also return a short explanation of the calculation.", verbose: "When true, adds an `explanation` string describing how the result was obtained." }) });
    case "notes":
      return p({ type: "string", description: d({ terse: "Notes.", standard: "Free-text notes attached to the booking.", verbose: "Any special requests or notes to store with the booking; returned in the confirmation." }) });
    case "dry_run":
      return p({ type: "boolean", default: false, description: d({ terse: "Quote only.", standard: "If true, only quote the price without booking anything.", verbose: "When true, nothing is booked and availability is unchanged; the response is a price quote." }) });
    case "contact_email":
      return p({ type: "string", description: d({ terse: "Email.", standard: "Email address for the confirmation.", verbose: "Where to send the confirmation. Must look like an email address (name@host)." }) });
  }
}

/** "a film", "an album". */
const an = (noun: string): string => `${/^[aeiou]/i.test(noun) ? "an" : "a"} ${noun}`;

/** Plural of a parameter name: titles, companies, people. */
function pluralOf(name: string): string {
  if (name.endsWith("person")) return `${name.slice(0, -6)}people`;
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  return `${name}s`;
}

function keyParam(style: DocStyle, tables: FactTable[], opts: RenderOptions, multi: boolean): ToolParam {
  const t = tables[0]!;
  const name = multi ? (pn(style, "key", "plain") === "plain" ? "name" : "identifier") : keyParamName(style, t);
  const what = multi ? "the name, title or code of the record" : `the ${t.key} of the ${t.noun}`;
  const desc = say(style, { terse: `${upperFirst(what)}.`, standard: `Exact ${multi ? "name, title or code" : t.key} of the ${multi ? "record" : t.noun} (case-insensitive).`, verbose: `${upperFirst(what)}, spelled as it appears in the catalog; matching ignores case and surrounding spaces.` });
  if (opts.lists) {
    const plural = multi ? "names" : pluralOf(name);
    return param(plural, "key", true, { type: "array", items: { type: "string" }, minItems: 1, maxItems: 10, description: `${desc} Pass a list to look up several at once.` }, { shape: "list" });
  }
  if (opts.objects) {
    const inner = multi ? "name" : t.key;
    return param(multi ? "record" : t.noun, "key", true, { type: "object", properties: { [inner]: { type: "string", description: desc } }, required: [inner], additionalProperties: false, description: `Which ${multi ? "record" : t.noun} to look up.` }, { shape: "object" });
  }
  return param(name, "key", true, { type: "string", description: desc });
}

function lookupDoc(b: Extract<ToolBehavior, { kind: "lookup" }>, style: DocStyle, knowledge: Knowledge, opts: RenderOptions): { description: string; params: ToolParam[] } {
  const tables = b.tables.map((n) => knowledge.tables[n]!);
  const multi = tables.length > 1;
  const t = tables[0]!;
  const params: ToolParam[] = [];
  if (multi) {
    const kinds = tables.map((x) => x.noun);
    const kindName = pn(style, "kind", "record_type");
    params.push(param(kindName, "kind", true, enumOrLoose(kinds, opts.loose, say(style, { terse: "Record type.", standard: "Which kind of record to look up.", verbose: "The type of record the name refers to; each type lives in its own table." })), { loose: opts.loose }));
  }
  params.push(keyParam(style, tables, opts, multi));
  let description: string;
  if (b.field) {
    const label = b.field.replace(/_/g, " ");
    description = say(style, {
      terse: `${upperFirst(label)} of ${an(t.noun)}, by ${t.key}.`,
      standard: `Returns the ${label} of ${an(t.noun)} given its ${t.key}.`,
      verbose: `Looks up ${an(t.noun)} by its exact ${t.key} and returns its ${label} together with the ${t.key}. Raises an error when no ${t.noun} matches.`,
    });
  } else {
    const fields = [...new Set(tables.flatMap(fieldsOf))];
    const fieldName = pn(style, "field", "field");
    params.push(param(fieldName, "field", false, enumOrLoose(fields, opts.loose, say(style, { terse: "Attribute to return.", standard: "Return only this attribute; omit for the whole record.", verbose: "Name of the single attribute to return. Without it the full record comes back." })), { loose: opts.loose }));
    const nouns = tables.map((x) => x.noun);
    description = multi
      ? say(style, {
          terse: `Record lookup: ${nouns.join(", ")}.`,
          standard: `Looks up a record of type ${nouns.join(", ")} by its name. Pass \`${fieldName}\` for a single attribute.`,
          verbose: `General lookup over the ${nouns.join(", ")} tables. Give the record type and its name, title or code; pass \`${fieldName}\` to get a single attribute instead of the whole record. Unknown names return an error.`,
        })
      : say(style, {
          terse: `${upperFirst(t.noun)} lookup by ${t.key}.`,
          standard: `Looks up ${an(t.noun)} by ${t.key}. Pass \`${fieldName}\` to get one attribute; omit it for the whole record.`,
          verbose: `Returns the record of ${an(t.noun)} identified by its ${t.key}, with attributes such as ${fieldsOf(t).slice(0, 4).join(", ")}. Pass \`${fieldName}\` to get a single attribute. Matching on the ${t.key} ignores case.`,
        });
  }
  return { description, params };
}

function currencyCodes(knowledge: Knowledge): string[] {
  return Object.keys(knowledge.exchange_rates);
}

function computeDoc(b: Extract<ToolBehavior, { kind: "compute" }>, style: DocStyle, knowledge: Knowledge, opts: RenderOptions): { description: string; params: ToolParam[] } {
  const multi = b.ops.length > 1;
  const params: ToolParam[] = [];
  const need = (role: ParamRole) => !params.some((p) => p.role === role);
  const req = !multi;
  const codes = currencyCodes(knowledge);
  const onlyCurrency = b.ops.includes("convert_currency") && !b.ops.includes("convert_unit");
  const onlyUnits = b.ops.includes("convert_unit") && !b.ops.includes("convert_currency");
  const convCodes = [...(b.ops.includes("convert_currency") ? codes : []), ...(b.ops.includes("convert_unit") ? UNIT_CODES : [])];
  const sayS = (s: Say) => say(style, s);
  if (multi) {
    params.push(param(pn(style, "operation", "operation"), "operation", true, enumOrLoose(b.ops.map(operationName), opts.loose, sayS({ terse: "Operation.", standard: "Which calculation to run.", verbose: "The calculation to perform; each one uses a different subset of the other parameters." })), { loose: opts.loose }));
  }
  for (const op of b.ops) {
    if (op === "convert_currency" || op === "convert_unit") {
      const [fromName, toName] = onlyCurrency ? pair(style, "fromto", "from/to") : (pair(style, "fromto", "from/to").map((x) => x.replace("_currency", "")) as [string, string]);
      const what = onlyCurrency ? "currency code" : onlyUnits ? "unit" : "currency code or unit";
      if (opts.objects && need("money")) {
        const unitKey = onlyCurrency ? "currency" : "unit";
        const item = { type: "object", properties: { amount: { type: "number", minimum: 0 }, [unitKey]: enumOrLoose(convCodes, opts.loose, `The ${what} of the amount.`) }, required: ["amount", unitKey], additionalProperties: false };
        params.push(
          opts.lists
            ? param("amounts", "money", req, { type: "array", items: item, minItems: 1, description: sayS({ terse: "Amounts to convert.", standard: `Amounts to convert, each with its ${what}.`, verbose: `One or more amounts, each an object with the number and its ${what}; all are converted to the same target.` }) }, { shape: "list", loose: opts.loose })
            : param(onlyCurrency ? "money" : "quantity", "money", req, { ...item, description: sayS({ terse: "Amount to convert.", standard: `The amount and its ${what}.`, verbose: `What to convert: the number and the ${what} it is expressed in.` }) }, { shape: "object", loose: opts.loose }),
        );
      } else if (!opts.objects && need("amount")) {
        params.push(param(pn(style, "amount", "amount"), "amount", req, { type: "number", minimum: 0, description: sayS({ terse: "Amount.", standard: "The amount to convert.", verbose: "The number to convert, in the source unit or currency." }) }));
        if (!b.fixed.from) params.push(param(fromName, "from", req, enumOrLoose(convCodes, opts.loose, sayS({ terse: `Source ${what}.`, standard: `The ${what} of the amount.`, verbose: `The ${what} the amount is expressed in.` })), { loose: opts.loose }));
      }
      if (!b.fixed.to && need("to")) params.push(param(toName, "to", req, enumOrLoose(convCodes, opts.loose, sayS({ terse: `Target ${what}.`, standard: `The ${what} to convert to.`, verbose: `The ${what} the result should be expressed in.` })), { loose: opts.loose }));
    } else if (op === "add_days") {
      params.push(param(pn(style, "date", "date"), "date", req, { type: "string", description: sayS({ terse: "Date, YYYY-MM-DD.", standard: "Start date in YYYY-MM-DD format.", verbose: "The date to start from, written YYYY-MM-DD." }) }));
      params.push(param(pn(style, "days", "days"), "days", req, { type: "integer", description: sayS({ terse: "Days to add.", standard: "Number of days to add (negative to go back).", verbose: "How many days to move forward; a negative number moves backward." }) }));
    } else if (op === "date_diff") {
      if (opts.objects) {
        params.push(param(pn(style, "range", "range"), "range", req, { type: "object", properties: { start: { type: "string" }, end: { type: "string" } }, required: ["start", "end"], additionalProperties: false, description: sayS({ terse: "Start and end dates.", standard: "The period: start and end dates (YYYY-MM-DD).", verbose: "An object with `start` and `end` dates, YYYY-MM-DD; the result counts the days from start to end." }) }, { shape: "object" }));
      } else {
        const [s, e] = pair(style, "startend", "start/end");
        params.push(param(s, "start", req, { type: "string", description: sayS({ terse: "Start date.", standard: "First date (YYYY-MM-DD).", verbose: "The earlier date, YYYY-MM-DD." }) }));
        params.push(param(e, "end", req, { type: "string", description: sayS({ terse: "End date.", standard: "Second date (YYYY-MM-DD).", verbose: "The later date, YYYY-MM-DD." }) }));
      }
    } else if (op === "subtract") {
      if (opts.objects) {
        params.push(param(pn(style, "operands", "operands"), "operands", req, { type: "array", items: { type: "number" }, minItems: 2, maxItems: 2, description: sayS({ terse: "Two numbers.", standard: "The two numbers, in order.", verbose: "Exactly two numbers; the operation is applied left to right." }) }, { shape: "list" }));
      } else {
        const [a, c] = pair(style, "ab", "a/b");
        params.push(param(a, "a", req, { type: "number", description: sayS({ terse: "First number.", standard: "The first operand.", verbose: "The left-hand operand." }) }));
        params.push(param(c, "b", req, { type: "number", description: sayS({ terse: "Second number.", standard: "The second operand.", verbose: "The right-hand operand." }) }));
      }
    } else if (op === "compare" || op === "sort") {
      if (need("items")) {
        params.push(param(pn(style, "items", "items"), "items", req, { type: "array", minItems: 1, items: { type: "object", properties: { label: { type: "string" }, value: { type: "number" } }, required: ["label", "value"], additionalProperties: false }, description: sayS({ terse: "Labelled values.", standard: "The values to compare, each with a label.", verbose: "A list of objects `{label, value}`; labels name what each value belongs to." }) }));
      }
    } else if (op === "aggregate" && need("values")) {
      params.push(param(pn(style, "values", "values"), "values", req, { type: "array", items: { type: "number" }, minItems: 1, description: sayS({ terse: "Numbers.", standard: "The numbers to aggregate.", verbose: "A list of numbers to combine." }) }));
    }
  }
  const orders = [...(b.ops.includes("compare") ? ["highest", "lowest"] : []), ...(b.ops.includes("sort") ? ["ascending", "descending"] : [])];
  if (orders.length > 0 && !b.fixed.order) params.push(param(pn(style, "order", "order"), "order", req, enumOrLoose(orders, opts.loose, sayS({ terse: "Order.", standard: "Which end to pick, or the sort direction.", verbose: "For comparisons, whether the highest or the lowest value wins; for sorting, the direction." })), { loose: opts.loose }));
  const ops = [...(b.ops.includes("aggregate") ? AGG_OPS : []), ...(b.ops.includes("subtract") ? ARITH_OPS : [])];
  if (ops.length > 0 && !b.fixed.op) params.push(param(pn(style, "op", "op"), "op", req, enumOrLoose(ops, opts.loose, sayS({ terse: "Operation.", standard: "The arithmetic or aggregation to apply.", verbose: "Which function to apply to the numbers." })), { loose: opts.loose }));
  return { description: computeDescription(b, style), params };
}

function computeDescription(b: Extract<ToolBehavior, { kind: "compute" }>, style: DocStyle): string {
  const f = b.fixed;
  if (b.ops.length > 1) {
    const names = b.ops.map(operationName).join(", ");
    return say(style, { terse: `Calculator: ${names}.`, standard: `Runs one of several calculations (${names}); pick it with the operation parameter.`, verbose: `A general calculator. Supported operations: ${names}. Each operation reads its own parameters; missing ones produce an error that names them.` });
  }
  const op = b.ops[0]!;
  const S = (terse: string, standard: string, verbose: string) => say(style, { terse, standard, verbose });
  switch (op) {
    case "convert_currency":
      return f.from && f.to
        ? S(`${f.from} to ${f.to}.`, `Converts an amount from ${f.from} to ${f.to} at the fixed reference rate.`, `Converts an amount of ${CURRENCIES[f.from] ?? f.from} into ${CURRENCIES[f.to] ?? f.to} using today's fixed reference rate; returns the rate used and the result rounded to cents.`)
        : S("Currency conversion.", "Converts an amount between currencies at fixed reference rates.", "Converts money from one currency to another using the fixed reference rates of the exchange-rate table, and reports the rate applied.");
    case "convert_unit":
      return f.from && f.to
        ? S(`${f.from} to ${f.to}.`, `Converts a value from ${UNITS[f.from]?.plural ?? f.from} to ${UNITS[f.to]?.plural ?? f.to}.`, `Unit conversion from ${UNITS[f.from]?.plural ?? f.from} to ${UNITS[f.to]?.plural ?? f.to}; returns the factor used and the rounded result.`)
        : S("Unit conversion.", "Converts a measurement between units (km, mi, m, ft, kg, lb, km2, mi2).", "Converts lengths, weights and areas between metric and imperial units. Supported units: km, mi, m, ft, kg, lb, km2, mi2.");
    case "add_days":
      return S("Date plus days.", "Adds a number of days to a date and returns the new date.", "Date arithmetic: moves a YYYY-MM-DD date forward (or backward) by a number of days and returns the resulting date and its weekday.");
    case "date_diff":
      return S("Days between dates.", "Counts the days between two dates.", "Returns how many days lie between two YYYY-MM-DD dates (end minus start), with the equivalent in weeks.");
    case "subtract":
      return f.op
        ? S(`${upperFirst(f.op)} two numbers.`, `Applies ${f.op} to two numbers.`, `Basic arithmetic: ${f.op} of two numbers, returned with the operands.`)
        : S("Arithmetic.", "Adds, subtracts, multiplies or divides two numbers.", "Basic arithmetic on two numbers: add, subtract, multiply or divide, rounded to two decimals.");
    case "compare":
      return f.order
        ? S(`Pick the ${f.order} value.`, `Finds the item with the ${f.order} value and by how much it leads the next one.`, `Compares labelled values and returns the label with the ${f.order} value, that value, and the margin to the runner-up.`)
        : S("Compare values.", "Finds the item with the highest or lowest value and its margin over the runner-up.", "Compares labelled values: returns the winning label for the requested order, its value, and the margin to the next item.");
    case "aggregate":
      return f.op
        ? S(`${upperFirst(f.op)} of numbers.`, `Computes the ${f.op} of a list of numbers.`, `Aggregates a list of numbers into their ${f.op}, rounded to two decimals, with the count of values.`)
        : S("Aggregate numbers.", "Computes the sum, mean, min, max or count of a list of numbers.", "Aggregates a list of numbers: sum, mean, min, max or count. Results are rounded to two decimals.");
    case "sort":
      return f.order
        ? S(`Sort ${f.order}.`, `Sorts labelled values in ${f.order} order.`, `Sorts labelled values in ${f.order} order and returns the ranking and a one-line sequence of labels.`)
        : S("Sort values.", "Sorts labelled values ascending or descending.", "Sorts labelled values in the requested direction and returns the ranking with a one-line sequence of labels.");
  }
}

function actionDoc(b: Extract<ToolBehavior, { kind: "action" }>, style: DocStyle, knowledge: Knowledge, opts: RenderOptions): { description: string; params: ToolParam[] } {
  const a = ACTIONS[b.action];
  const t = knowledge.tables[b.table]!;
  const params: ToolParam[] = [keyParam(style, [t], opts, false)];
  const S = (s: Say) => say(style, s);
  params.push(param(a.quantityParam, "quantity", true, { type: "integer", minimum: 1, description: S({ terse: `Number of ${a.quantityNoun[1]}.`, standard: `How many ${a.quantityNoun[1]}.`, verbose: `How many ${a.quantityNoun[1]} to book; must not exceed availability.` }) }));
  params.push(param(pn(style, "guest", "guest_name"), "guest", true, { type: "string", description: S({ terse: "Name for the booking.", standard: "Full name the booking is made under.", verbose: "The full name of the person the booking is for; it appears on the confirmation." }) }));
  if (a.needsDate) params.push(param(pn(style, "date", "date"), "date", true, { type: "string", description: S({ terse: "Date, YYYY-MM-DD.", standard: "Date of the reservation (YYYY-MM-DD).", verbose: "The day of the reservation, written YYYY-MM-DD." }) }));
  const description = S({
    terse: `${upperFirst(a.verb)} at ${an(t.noun)}.`,
    standard: `${upperFirst(a.verb)} at ${an(t.noun)} and return the confirmation with the total price. Uses up availability.`,
    verbose: `Makes a booking: ${a.verb} at the given ${t.noun} for the requested number of ${a.quantityNoun[1]}. Returns a confirmation code, the unit price, the total and what is left. Fails when there is not enough availability.`,
  });
  return { description, params };
}

export interface SidekickTemplate {
  name: string;
  /** What it returns, for the description. */
  about: string;
  fields: { name: string; gen: "int" | "float" | "pick" | "time" | "bool" | "list"; min?: number; max?: number; options?: string[] }[];
}

export const SIDEKICKS: Record<string, SidekickTemplate[]> = {
  film: [
    { name: "reviews", about: "critic and audience review scores", fields: [{ name: "critic_score", gen: "int", min: 20, max: 99 }, { name: "audience_score", gen: "int", min: 20, max: 99 }, { name: "reviews_counted", gen: "int", min: 40, max: 900 }] },
    { name: "showtimes", about: "today's screening times", fields: [{ name: "screenings", gen: "list", options: ["12:15", "14:40", "17:05", "19:30", "21:55"] }, { name: "format", gen: "pick", options: ["2D", "IMAX", "35mm"] }] },
  ],
  book: [
    { name: "reader_ratings", about: "reader ratings", fields: [{ name: "average_rating", gen: "float", min: 2.5, max: 4.9 }, { name: "ratings_count", gen: "int", min: 30, max: 9000 }] },
    { name: "library_copies", about: "library availability", fields: [{ name: "copies", gen: "int", min: 1, max: 14 }, { name: "holds", gen: "int", min: 0, max: 40 }] },
  ],
  album: [{ name: "streaming_stats", about: "streaming statistics", fields: [{ name: "monthly_listeners", gen: "int", min: 900, max: 900000 }, { name: "top_market", gen: "pick", options: ["north", "south", "east", "west"] }] }],
  company: [
    { name: "stock_quote", about: "the latest stock quote", fields: [{ name: "share_price", gen: "float", min: 3, max: 480 }, { name: "change_pct", gen: "float", min: -6, max: 6 }] },
    { name: "job_openings", about: "open positions", fields: [{ name: "openings", gen: "int", min: 0, max: 320 }, { name: "remote_share_pct", gen: "int", min: 0, max: 80 }] },
  ],
  person: [{ name: "social_profile", about: "social media statistics", fields: [{ name: "followers", gen: "int", min: 100, max: 2000000 }, { name: "verified", gen: "bool" }] }],
  city: [
    { name: "weather", about: "the current weather", fields: [{ name: "temperature_c", gen: "int", min: -12, max: 38 }, { name: "condition", gen: "pick", options: ["sunny", "cloudy", "rain", "snow", "fog"] }, { name: "humidity_pct", gen: "int", min: 10, max: 98 }] },
    { name: "local_events", about: "upcoming local events", fields: [{ name: "events_this_week", gen: "int", min: 0, max: 30 }, { name: "highlight", gen: "pick", options: ["street market", "jazz night", "marathon", "food fair"] }] },
  ],
  country: [{ name: "travel_advisory", about: "the travel advisory level", fields: [{ name: "advisory_level", gen: "int", min: 1, max: 4 }, { name: "visa_required", gen: "bool" }] }],
  product: [
    { name: "customer_reviews", about: "customer reviews", fields: [{ name: "stars", gen: "float", min: 2, max: 5 }, { name: "review_count", gen: "int", min: 3, max: 4000 }] },
    { name: "shipping_estimate", about: "the shipping estimate", fields: [{ name: "delivery_days", gen: "int", min: 1, max: 12 }, { name: "carrier", gen: "pick", options: ["ParcelNow", "QuickShip", "PostLine"] }] },
  ],
  flight: [
    { name: "status", about: "the live flight status", fields: [{ name: "status", gen: "pick", options: ["on time", "delayed", "boarding", "scheduled"] }, { name: "gate", gen: "pick", options: ["A4", "B12", "C7", "D2", "E19"] }, { name: "delay_min", gen: "int", min: 0, max: 90 }] },
    { name: "baggage_policy", about: "the baggage allowance", fields: [{ name: "checked_bags", gen: "int", min: 0, max: 2 }, { name: "cabin_kg", gen: "int", min: 7, max: 12 }] },
  ],
  team: [{ name: "standings", about: "the current league standing", fields: [{ name: "position", gen: "int", min: 1, max: 20 }, { name: "points", gen: "int", min: 0, max: 90 }, { name: "form", gen: "pick", options: ["WWDLW", "LDWWL", "DDWLW", "WLLDW"] }] }],
  university: [{ name: "rankings", about: "league-table rankings", fields: [{ name: "national_rank", gen: "int", min: 1, max: 120 }, { name: "acceptance_rate_pct", gen: "int", min: 4, max: 90 }] }],
  restaurant: [
    { name: "menu", about: "the current menu highlights", fields: [{ name: "dishes", gen: "list", options: ["tasting menu", "grilled trout", "lamb shoulder", "mushroom risotto", "citrus tart"] }, { name: "vegetarian_options", gen: "bool" }] },
    { name: "opening_hours", about: "opening hours", fields: [{ name: "opens", gen: "time" }, { name: "closed_on", gen: "pick", options: ["Monday", "Tuesday", "Sunday"] }] },
  ],
  hotel: [
    { name: "amenities", about: "hotel amenities", fields: [{ name: "pool", gen: "bool" }, { name: "spa", gen: "bool" }, { name: "parking_spaces", gen: "int", min: 0, max: 300 }] },
    { name: "guest_reviews", about: "guest review scores", fields: [{ name: "score", gen: "float", min: 5, max: 9.8 }, { name: "reviews", gen: "int", min: 10, max: 5000 }] },
  ],
  hospital: [{ name: "wait_times", about: "emergency wait times", fields: [{ name: "er_wait_min", gen: "int", min: 5, max: 240 }, { name: "open_beds", gen: "int", min: 0, max: 60 }] }],
  mountain: [{ name: "trail_conditions", about: "trail and snow conditions", fields: [{ name: "snow_cm", gen: "int", min: 0, max: 400 }, { name: "open_routes", gen: "int", min: 0, max: 9 }] }],
};

export function sidekickTemplate(entity: string, name: string): SidekickTemplate {
  const t = SIDEKICKS[entity]?.find((s) => s.name === name);
  if (!t) throw new Error(`no sidekick "${name}" for ${entity}`);
  return t;
}

function sidekickDoc(b: Extract<ToolBehavior, { kind: "sidekick" }>, style: DocStyle, knowledge: Knowledge, opts: RenderOptions, extra: Knowledge["tables"]): { description: string; params: ToolParam[] } {
  const t = knowledge.tables[b.table] ?? extra[b.table]!;
  const tpl = sidekickTemplate(t.entity, b.template);
  const description = say(style, {
    terse: `${upperFirst(tpl.about)} for ${an(t.noun)}.`,
    standard: `Returns ${tpl.about} for ${an(t.noun)}, by ${t.key}.`,
    verbose: `Looks up ${tpl.about} for the ${t.noun} with the given ${t.key}. Data is refreshed daily; unknown ${t.noun}s return an error.`,
  });
  return { description, params: [keyParam(style, [t], opts, false)] };
}

/** Renders a tool document for a behaviour; `name` overrides the default (distractors use near-miss names). */
export function renderTool(b: ToolBehavior, style: DocStyle, knowledge: Knowledge, opts: RenderOptions, name?: string, extraTables: Knowledge["tables"] = {}): ToolDraft {
  const doc =
    b.kind === "lookup"
      ? lookupDoc(b, style, knowledge, opts)
      : b.kind === "compute"
        ? computeDoc(b, style, knowledge, opts)
        : b.kind === "action"
          ? actionDoc(b, style, knowledge, opts)
          : sidekickDoc(b, style, knowledge, opts, extraTables);
  const params = [...doc.params, ...opts.options.map((o) => optionParam(o, style))];
  const seen = new Set<string>();
  for (const p of params) {
    while (seen.has(p.name)) p.name = `${p.name}_${p.role}`;
    seen.add(p.name);
  }
  const readOnly = b.kind !== "action";
  const finalName = name ?? defaultToolName(b, style, knowledge);
  return {
    name: finalName,
    description: doc.description,
    params,
    behavior: b,
    annotations: {
      ...(style.verbosity === "verbose" ? { title: upperFirst(finalName.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()) } : {}),
      readOnlyHint: readOnly,
      ...(readOnly ? { idempotentHint: true } : { destructiveHint: false, idempotentHint: false }),
      openWorldHint: false,
    },
  };
}
