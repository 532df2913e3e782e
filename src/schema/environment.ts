// The environment file format: one zod schema per part, each beside its inferred type.
import { z } from "zod";

/** The four scenario types of FTRL scenario decomposition (method.md §2.1). */
export const Scenario = z.enum(["single-hop", "parallel-single-hop", "multi-hop", "parallel-multi-hop"]);
export type Scenario = z.infer<typeof Scenario>;
export const SCENARIOS = Scenario.options;

/** A complexity level of one scaling strategy; the amounts per level are documented in the README. */
export const Level = z.number().int().min(0).max(3);
export type Level = z.infer<typeof Level>;

/** Levels of the four complexity-scaling strategies (method.md §2.4). */
export const Complexity = z.strictObject({
  functional_generalization: Level,
  parameter_expansion: Level,
  parameter_type_generalization: Level,
  toolset_extension: Level,
});
export type Complexity = z.infer<typeof Complexity>;
export const STRATEGIES = Complexity.keyof().options;

/**
 * An environment's complexity as one level on the strategies' own 0-3 scale: the highest of
 * the four. When they agree (as in the shipped suite) it is their shared level, so filters,
 * sorts and chart columns read the same as `build --complexity N`.
 */
export const complexityLevel = (c: Complexity): Level =>
  Math.max(c.functional_generalization, c.parameter_expansion, c.parameter_type_generalization, c.toolset_extension);

/** `level N` when the four strategies share level N, else each one's level: `fg1 pe2 ptg0 te3` (functional generalization, parameter expansion, parameter type generalization, toolset extension). */
export function complexityLabel(c: Complexity): string {
  const levels = [c.functional_generalization, c.parameter_expansion, c.parameter_type_generalization, c.toolset_extension];
  return levels.every((l) => l === levels[0]) ? `level ${levels[0]}` : `fg${levels[0]} pe${levels[1]} ptg${levels[2]} te${levels[3]}`;
}

/** OpenAI function names are the strictest tool-name rule any client applies, so we use it. */
export const ToolName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/, "tool names are 1-64 of [A-Za-z0-9_-], not starting with a digit or dash");
export type ToolName = z.infer<typeof ToolName>;

/** A JSON Schema document, kept verbatim; the runtime compiles it for argument checks. */
export const JsonSchema = z.record(z.string(), z.json());
export type JsonSchema = z.infer<typeof JsonSchema>;

/** MCP tools take an object of arguments, so an input schema is always of type object. */
export const InputSchema = z.looseObject({
  type: z.literal("object"),
  properties: z.record(z.string(), z.json()).optional(),
  required: z.array(z.string()).optional(),
});
export type InputSchema = z.infer<typeof InputSchema>;

/** MCP tool annotations (hints only; clients must not trust them for security). */
export const ToolAnnotations = z.strictObject({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});
export type ToolAnnotations = z.infer<typeof ToolAnnotations>;

/** A tool document: everything the agent is shown about one tool. */
export const Tool = z.strictObject({
  name: ToolName,
  description: z.string().min(1),
  input_schema: InputSchema,
  output_schema: InputSchema.optional(),
  annotations: ToolAnnotations.optional(),
});
export type Tool = z.infer<typeof Tool>;

/**
 * The implementation: `tools` maps each tool name to its source; `prelude` holds helpers
 * shared by all of them. JavaScript: one function `(args, state) => json`. Python: code that
 * defines a function of the tool's name, `def name(**params)` or, when its first parameter is
 * named `data`, `def name(data, **params)` called with the episode's state (FTRL's tau-bench).
 */
export const ImplementationLanguage = z.enum(["javascript", "python"]);
export type ImplementationLanguage = z.infer<typeof ImplementationLanguage>;

export const Implementation = z.strictObject({
  language: ImplementationLanguage,
  prelude: z.string().default(""),
  tools: z.record(ToolName, z.string().min(1)),
});
export type Implementation = z.infer<typeof Implementation>;

/** One call of a gold plan, with the steps whose outputs it needs and the sub-answer it yields. */
export const GoldStep = z.strictObject({
  id: z.string().min(1),
  tool: ToolName,
  arguments: z.record(z.string(), z.json()),
  depends_on: z.array(z.string()).default([]),
  yields: z.string().min(1),
});
export type GoldStep = z.infer<typeof GoldStep>;

/** tool name -> expected sub-answers of that tool, as in the reference's `unsolved_set`. */
export const UnsolvedSet = z.record(z.string(), z.array(z.string()));
export type UnsolvedSet = z.infer<typeof UnsolvedSet>;

/** A JSON Pointer (RFC 6901) into the state, e.g. `/orders/2/status`; the empty pointer (the whole state) is not allowed. */
export const StatePointer = z.string().regex(/^(\/([^~/]|~[01])*)+$/, 'state paths are JSON Pointers such as "/orders/2/status"');
export type StatePointer = z.infer<typeof StatePointer>;

/** One change the task must make: the value at `path` afterwards, or `removed` when it must be gone. */
export const StateChange = z.union([
  z.strictObject({ path: StatePointer, value: z.json() }),
  z.strictObject({ path: StatePointer, removed: z.literal(true) }),
]);
export type StateChange = z.infer<typeof StateChange>;

/**
 * The state a task must end in (format @2): under each `checked` path, the episode's final state must
 * equal the initial state with exactly the `changes` applied. The generator derives it by replaying the
 * gold plan in a fresh episode; anything outside the checked paths is not judged.
 */
export const FinalState = z.strictObject({
  checked: z.array(StatePointer).min(1),
  changes: z.array(StateChange),
});
export type FinalState = z.infer<typeof FinalState>;

export const Task = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "task ids are 1-128 of [A-Za-z0-9_.-]"),
  question: z.string().min(1),
  unsolved_set: UnsolvedSet,
  answer: z.string().min(1),
  /**
   * Empty or absent: a task with no known solution (imported from FTRL rows, which carry none). It
   * passes the static checks; the dynamic gate and the oracle need a plan and say so.
   */
  gold_plan: z.array(GoldStep).default([]),
  /** Only in format @2 files. */
  final_state: FinalState.optional(),
});
export type Task = z.infer<typeof Task>;

/** How an environment was made: enough for a reader to retrace every stage. */
export const Provenance = z.strictObject({
  generator: z.string().min(1),
  version: z.string().min(1),
  seed: z.union([z.number().int(), z.string()]),
  stages: z.record(z.string(), z.json()).default({}),
});
export type Provenance = z.infer<typeof Provenance>;

/** Format 1: tasks judged by their outputs. Files in it load unchanged, and the generator still writes it for them. */
export const FORMAT = "envforge/environment@1";
/** Format 2 adds a task's expected `final_state`. */
export const FORMAT_V2 = "envforge/environment@2";
export const FORMATS = [FORMAT, FORMAT_V2] as const;

const EnvironmentShape = z.strictObject({
  $schema: z.string().optional(),
  format: z.enum(FORMATS),
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "environment ids are 1-128 of [A-Za-z0-9_.-]"),
  title: z.string().min(1),
  domain: z.string().min(1),
  scenario: Scenario,
  complexity: Complexity,
  provenance: Provenance,
  tools: z.array(Tool).min(1),
  implementation: Implementation,
  initial_state: z.record(z.string(), z.json()).default({}),
  tasks: z.array(Task).min(1),
});

/**
 * What the cross-field checks read, parsed leniently: a part that does not parse becomes null
 * (and the checks that need it are skipped), so a file with a schema error still gets every
 * cross-field finding its readable parts allow, not just the schema error.
 */
const lenient = <T extends z.ZodType>(schema: T) => schema.nullable().catch(null);
const CrossTool = z.looseObject({
  name: z.string(),
  input_schema: z.looseObject({ properties: z.record(z.string(), z.unknown()).optional(), required: z.array(z.string()).optional() }).catch({}),
});
const CrossStep = z.looseObject({ id: z.string(), tool: z.string(), depends_on: z.array(z.string()).catch([]), yields: z.string() });
const CrossTask = z.looseObject({ id: z.string(), unsolved_set: z.record(z.string(), z.array(z.string())), gold_plan: z.array(lenient(CrossStep)).default([]), final_state: lenient(FinalState).optional() });
const CrossView = z.looseObject({
  format: z.string().catch(""),
  tools: z.array(lenient(CrossTool)).catch([]),
  implementation: lenient(z.looseObject({ tools: z.record(z.string(), z.unknown()) })),
  tasks: z.array(lenient(CrossTask)).catch([]),
});

export interface CrossIssue {
  path: (string | number)[];
  message: string;
}

/** Checks that span fields: every reference resolves, and the gold plan accounts for every sub-answer. Reads any JSON value. */
export function crossFieldIssues(value: unknown): CrossIssue[] {
  const out: CrossIssue[] = [];
  const add = (path: (string | number)[], message: string) => out.push({ path, message });
  const view = CrossView.safeParse(value);
  if (!view.success) return out;
  const env = view.data;
  // Names are checked against the tool list only when every tool's name could be read.
  const allTools = env.tools.every((t) => t !== null);
  const toolNames = new Set<string>();
  env.tools.forEach((t, i) => {
    if (!t) return;
    if (toolNames.has(t.name)) add(["tools", i, "name"], `duplicate tool name "${t.name}"`);
    toolNames.add(t.name);
    for (const r of t.input_schema.required ?? []) {
      if (!t.input_schema.properties || !(r in t.input_schema.properties)) {
        add(["tools", i, "input_schema", "required"], `required parameter "${r}" is not in properties`);
      }
    }
  });
  const impl = env.implementation?.tools;
  if (impl) {
    for (const name of toolNames) if (!Object.hasOwn(impl, name)) add(["implementation", "tools"], `tool "${name}" has no implementation`);
    if (allTools) for (const name of Object.keys(impl)) if (!toolNames.has(name)) add(["implementation", "tools", name], `implementation of unknown tool "${name}"`);
  }
  const taskIds = new Set<string>();
  env.tasks.forEach((task, ti) => {
    if (!task) return;
    if (taskIds.has(task.id)) add(["tasks", ti, "id"], `duplicate task id "${task.id}"`);
    taskIds.add(task.id);
    if (allTools) for (const tool of Object.keys(task.unsolved_set)) if (!toolNames.has(tool)) add(["tasks", ti, "unsolved_set", tool], `unknown tool "${tool}"`);
    const stepIds = new Set<string>();
    const yielded = new Map<string, string[]>();
    task.gold_plan.forEach((step, si) => {
      if (!step) return;
      const at = ["tasks", ti, "gold_plan", si];
      if (stepIds.has(step.id)) add([...at, "id"], `duplicate step id "${step.id}"`);
      step.depends_on.forEach((dep, di) => {
        if (!stepIds.has(dep)) add([...at, "depends_on", di], `depends on "${dep}", which is not an earlier step`);
      });
      stepIds.add(step.id);
      if (allTools && !toolNames.has(step.tool)) add([...at, "tool"], `unknown tool "${step.tool}"`);
      yielded.set(step.tool, [...(yielded.get(step.tool) ?? []), step.yields]);
    });
    if (task.final_state) checkFinalState(env.format, task.final_state, ["tasks", ti, "final_state"], add);
    // The gold plan must solve exactly the unsolved_set, or replay could never reach precision 1 and rate 1.
    if (task.gold_plan.length === 0 || task.gold_plan.some((step) => step === null)) return;
    const tools = new Set([...Object.keys(task.unsolved_set), ...yielded.keys()]);
    for (const tool of tools) {
      const want = [...(Object.hasOwn(task.unsolved_set, tool) ? task.unsolved_set[tool]! : [])].sort();
      const got = [...(yielded.get(tool) ?? [])].sort();
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        add(["tasks", ti, "unsolved_set", tool], `gold plan yields ${JSON.stringify(got)} for "${tool}" but unsolved_set expects ${JSON.stringify(want)}`);
      }
    }
  });
  return out;
}

function crossCheck(env: z.infer<typeof EnvironmentShape>, ctx: z.RefinementCtx): void {
  for (const { path, message } of crossFieldIssues(env)) ctx.addIssue({ code: "custom", path, message });
}

/** A final state needs format @2, and every expected change must lie under a checked path. */
function checkFinalState(format: string, fs: FinalState, at: (string | number)[], add: (path: (string | number)[], message: string) => void): void {
  if (format !== FORMAT_V2) add(at, `final_state needs "format": "${FORMAT_V2}" (this file says "${format}")`);
  const under = (path: string, root: string) => path === root || path.startsWith(`${root}/`);
  const seen = new Set<string>();
  fs.changes.forEach((c, ci) => {
    if (!fs.checked.some((root) => under(c.path, root))) add([...at, "changes", ci, "path"], `"${c.path}" is under no checked path`);
    if (seen.has(c.path)) add([...at, "changes", ci, "path"], `"${c.path}" is changed twice`);
    seen.add(c.path);
  });
}

/** A whole environment: tools, their implementation, initial state and tasks. */
export const Environment = EnvironmentShape.superRefine(crossCheck);
export type Environment = z.infer<typeof Environment>;
/** The file as written, before defaults are filled in. */
export type EnvironmentInput = z.input<typeof Environment>;
