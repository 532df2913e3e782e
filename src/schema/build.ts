// Contracts of the construction pipeline: what each stage takes and hands on, all plain JSON, so any
// single stage can be replaced (for example by an LLM-backed one) without touching the others.
import { z } from "zod";
import { Complexity, ImplementationLanguage, Level, Scenario, STRATEGIES, ToolAnnotations, ToolName } from "./environment.ts";

export const Domain = z.enum(["films", "books", "music", "companies", "geography", "retail", "travel", "sports", "universities", "restaurants", "hotels", "hospitals"]);
export type Domain = z.infer<typeof Domain>;
export const DOMAINS = Domain.options;

/** Input of the first stage: which environment to make. */
export const BuildRequest = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  seed: z.number().int().min(0).max(0xffffffff),
  domain: Domain,
  scenario: Scenario,
  complexity: Complexity,
  /** How many tasks share the toolset. */
  tasks: z.number().int().min(1).max(6),
  /** The tools' implementation language; absent means JavaScript (and keeps the request's bytes as before). */
  language: ImplementationLanguage.optional(),
});
export type BuildRequest = z.infer<typeof BuildRequest>;

export const Fact = z.union([z.string(), z.number()]);
export const FactRecord = z.record(z.string(), Fact);
export type FactRecord = z.infer<typeof FactRecord>;

/** One kind of record in the knowledge slice; `key` names the field that identifies a row. */
export const FactTable = z.strictObject({
  entity: z.string().min(1),
  noun: z.string().min(1),
  key: z.string().min(1),
  rows: z.array(FactRecord).min(1),
});
export type FactTable = z.infer<typeof FactTable>;

/** The slice of a fictional world an environment needs: its tables (by table name) and fixed exchange rates. */
export const Knowledge = z.strictObject({
  tables: z.record(z.string(), FactTable),
  /** Units of each currency per 1 USD; fictional and fixed. */
  exchange_rates: z.record(z.string(), z.number().positive()),
});
export type Knowledge = z.infer<typeof Knowledge>;

export const ActionKind = z.enum(["book_room", "place_order", "book_seat", "reserve_table"]);
export type ActionKind = z.infer<typeof ActionKind>;

export const LabeledValue = z.strictObject({ label: z.string().min(1), value: z.number() });
export type LabeledValue = z.infer<typeof LabeledValue>;

/** What answering one sub-question takes, in the world's terms (no tool names yet). */
export const Need = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("lookup"), table: z.string(), key: z.string(), field: z.string() }),
  z.strictObject({
    kind: z.literal("action"),
    action: ActionKind,
    table: z.string(),
    key: z.string(),
    quantity: z.number().int().positive(),
    guest: z.string(),
    date: z.string().optional(),
  }),
  z.strictObject({ kind: z.literal("convert_currency"), amount: z.number(), from: z.string(), to: z.string() }),
  z.strictObject({ kind: z.literal("convert_unit"), value: z.number(), from: z.string(), to: z.string() }),
  z.strictObject({ kind: z.literal("add_days"), date: z.string(), days: z.number().int() }),
  z.strictObject({ kind: z.literal("date_diff"), start: z.string(), end: z.string() }),
  z.strictObject({ kind: z.literal("subtract"), a: z.number(), b: z.number() }),
  z.strictObject({ kind: z.literal("compare"), order: z.enum(["highest", "lowest"]), items: z.array(LabeledValue).min(2) }),
  z.strictObject({ kind: z.literal("aggregate"), op: z.enum(["sum", "mean"]), values: z.array(z.number()).min(2) }),
  z.strictObject({ kind: z.literal("sort"), order: z.enum(["ascending", "descending"]), items: z.array(LabeledValue).min(2) }),
]);
export type Need = z.infer<typeof Need>;
export type NeedKind = Need["kind"];
export const COMPUTE_KINDS = ["convert_currency", "convert_unit", "add_days", "date_diff", "subtract", "compare", "aggregate", "sort"] as const;
export const ComputeKind = z.enum(COMPUTE_KINDS);
export type ComputeKind = z.infer<typeof ComputeKind>;

export const SubQuestion = z.strictObject({
  id: z.string().min(1),
  /** The sub-question on its own, with the entities it is about named. */
  text: z.string().min(1),
  /** What it asks, e.g. `film.director` or `compare(person.birth_year, lowest)`. */
  relation: z.string().min(1),
  need: Need,
  depends_on: z.array(z.string()),
  /** The sub-answer, as the tool output must contain it. */
  answer: z.string().min(1),
});
export type SubQuestion = z.infer<typeof SubQuestion>;

export const TaskPlan = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  question: z.string().min(1),
  answer: z.string().min(1),
  /** The shape of the decomposition, e.g. `chain(film.director > person.birth_year)`. */
  pattern: z.string().min(1),
  sub_questions: z.array(SubQuestion).min(1),
});
export type TaskPlan = z.infer<typeof TaskPlan>;

/** Stage 1, scenario decomposition: the tasks, split into sub-questions with sub-answers, and the facts they rest on. */
export const Decomposition = z.strictObject({
  request: BuildRequest,
  title: z.string().min(1),
  knowledge: Knowledge,
  tasks: z.array(TaskPlan).min(1),
});
export type Decomposition = z.infer<typeof Decomposition>;

/** How tool documents are written in one environment (seeded, so styles vary across environments). */
export const DocStyle = z.strictObject({
  casing: z.enum(["snake", "camel", "kebab"]),
  verb: z.string().min(1),
  verbosity: z.enum(["terse", "standard", "verbose"]),
  /** Parameter name chosen for each role that has alternatives. */
  param_names: z.record(z.string(), z.string()),
});
export type DocStyle = z.infer<typeof DocStyle>;

/** What a parameter means to the implementation. */
export const ParamRole = z.enum([
  "key",
  "field",
  "kind",
  "quantity",
  "guest",
  "date",
  "amount",
  "money",
  "from",
  "to",
  "days",
  "start",
  "end",
  "range",
  "a",
  "b",
  "operands",
  "items",
  "values",
  "order",
  "op",
  "operation",
  "option",
]);
export type ParamRole = z.infer<typeof ParamRole>;

export const ParamOption = z.enum(["response_format", "include_metadata", "request_id", "as_of", "precision", "explain", "notes", "dry_run", "contact_email"]);
export type ParamOption = z.infer<typeof ParamOption>;

export const ToolParam = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/),
  role: ParamRole,
  /** For role `option`: which optional behaviour it switches. */
  option: ParamOption.optional(),
  required: z.boolean(),
  /** scalar, or generalized to an object or a list (parameter type generalization). */
  shape: z.enum(["scalar", "object", "list"]),
  /** Free-string vocabulary instead of a JSON Schema enum (parameter type generalization). */
  loose: z.boolean(),
  /** The property's JSON Schema, description included. */
  schema: z.record(z.string(), z.json()),
});
export type ToolParam = z.infer<typeof ToolParam>;

export const ToolBehavior = z.discriminatedUnion("kind", [
  /** Reads rows of one or more tables; `field` fixes the attribute returned (a single-purpose tool). */
  z.strictObject({ kind: z.literal("lookup"), tables: z.array(z.string()).min(1), field: z.string().nullable() }),
  /** Computes; `fixed` pins choices a specific tool does not expose (`{"order": "lowest"}`). */
  z.strictObject({ kind: z.literal("compute"), ops: z.array(ComputeKind).min(1), fixed: z.record(z.string(), z.string()) }),
  /** Changes state: bookings, orders, reservations. */
  z.strictObject({ kind: z.literal("action"), action: ActionKind, table: z.string() }),
  /** A distractor that returns plausible side information about a row (reviews, weather, ...). */
  z.strictObject({ kind: z.literal("sidekick"), template: z.string(), table: z.string() }),
]);
export type ToolBehavior = z.infer<typeof ToolBehavior>;

/** A tool document with what it does, before code exists. */
export const ToolDraft = z.strictObject({
  name: ToolName,
  description: z.string().min(1),
  params: z.array(ToolParam),
  behavior: ToolBehavior,
  annotations: ToolAnnotations.optional(),
});
export type ToolDraft = z.infer<typeof ToolDraft>;

/** One gold call, by sub-question id. */
export const GoldCall = z.strictObject({ step: z.string().min(1), tool: ToolName, arguments: z.record(z.string(), z.json()) });
export type GoldCall = z.infer<typeof GoldCall>;
/** Task id -> its gold calls in plan order. */
export const CallPlan = z.record(z.string(), z.array(GoldCall));
export type CallPlan = z.infer<typeof CallPlan>;

/** Stage 2, document generation: one tool document per sub-question (one-to-one). */
export const Documentation = z.strictObject({ style: DocStyle, tools: z.array(ToolDraft).min(1), calls: CallPlan });
export type Documentation = z.infer<typeof Documentation>;

export const Merge = z.strictObject({ into: ToolName, from: z.array(ToolName).min(1), reason: z.string() });
export type Merge = z.infer<typeof Merge>;

/** Stage 3, function integration: overlapping documents merged, n -> m <= n. */
export const Integration = z.strictObject({ style: DocStyle, tools: z.array(ToolDraft).min(1), calls: CallPlan, merges: z.array(Merge) });
export type Integration = z.infer<typeof Integration>;

export const ScalingOperation = z.strictObject({
  strategy: z.enum(STRATEGIES),
  level: Level,
  change: z.string().min(1),
  tools: z.array(z.string()),
});
export type ScalingOperation = z.infer<typeof ScalingOperation>;

export const Distractor = z.strictObject({
  name: ToolName,
  kind: z.enum(["near-miss", "other-domain", "compute"]),
  /** Arguments that make it return data, so a reader (and the tests) can try it. */
  example: z.record(z.string(), z.json()),
});
export type Distractor = z.infer<typeof Distractor>;

/** Stage 4, complexity scaling: the four strategies applied at the requested levels. */
export const Scaling = z.strictObject({
  style: DocStyle,
  tools: z.array(ToolDraft).min(1),
  calls: CallPlan,
  operations: z.array(ScalingOperation),
  distractors: z.array(Distractor),
  /** Extra tables the distractors read (other domains). */
  extra_tables: z.record(z.string(), FactTable),
});
export type Scaling = z.infer<typeof Scaling>;

/** The gate's checks; a failed check names one of these. */
export const GateCheck = z.enum(["schema", "compile", "runtime", "replay", "exclusive", "answer", "provenance", "leak", "determinism", "uniqueness", "state", "twin"]);
export type GateCheck = z.infer<typeof GateCheck>;

export const GateIssue = z.strictObject({ check: GateCheck, path: z.string(), message: z.string() });
export type GateIssue = z.infer<typeof GateIssue>;

/** Stage 5's check, the validation gate: empty `issues` means the environment is kept. */
export const ValidationReport = z.strictObject({
  ok: z.boolean(),
  issues: z.array(GateIssue),
  replayed_steps: z.number().int().min(0),
  probes: z.number().int().min(0),
  /** Near-miss plans replayed against tasks that declare a final state (none for format @1 files). */
  near_misses: z.number().int().min(0).optional(),
});
export type ValidationReport = z.infer<typeof ValidationReport>;

/** What `envforge build` reports at the end. */
export const BuildSummary = z.strictObject({
  built: z.number().int().min(0),
  candidates: z.number().int().min(0),
  by_scenario: z.record(z.string(), z.number().int()),
  by_complexity: z.record(z.string(), z.number().int()),
  by_domain: z.record(z.string(), z.number().int()),
  tools_per_environment: z.strictObject({ min: z.number(), mean: z.number(), max: z.number() }),
  tasks: z.number().int().min(0),
  rejected: z.record(z.string(), z.number().int()),
});
export type BuildSummary = z.infer<typeof BuildSummary>;
