// Environments from FTRL-format rows (tools, Python codes, unsolved_set, answer; no gold plan): rows grouped by task, tasks by toolset, each environment checked statically.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { parquetReadObjects } from "hyparquet";
import { z } from "zod";
import { parseEnvironment } from "../load/index.ts";
import { FORMAT, type Environment, type EnvironmentInput } from "../schema/index.ts";
import { splitToolCodes } from "./codes.ts";
import { lines } from "./import.ts";

/**
 * The fields of a row the import reads; anything else (split, token columns, a trainer's own
 * extras) is ignored, so rows written by the reference's sampler load as well as ours.
 */
const RowFields = z.looseObject({
  messages: z.array(z.looseObject({ role: z.string(), content: z.string().nullish() })).min(1),
  tools: z.string(),
  codes: z.string(),
  unsolved_set: z.string(),
  solve_rate: z.number().min(0).max(1),
  data_source: z.string().default(""),
  answer: z.string().min(1),
});
type RowFields = z.infer<typeof RowFields>;

/** One tool document as `tools` lists it: OpenAI function tools (bare {name, description, parameters} too). */
const FunctionDoc = z.object({ name: z.string(), description: z.string().default(""), parameters: z.record(z.string(), z.json()).default({ type: "object", properties: {} }) });
const ToolDocs = z.array(z.union([z.object({ type: z.literal("function"), function: FunctionDoc }).transform((t) => t.function), FunctionDoc]));
const Codes = z.record(z.string(), z.string());
const Pending = z.record(z.string(), z.array(z.string()));

/** One row as read: where it is (`line 3`, `row 3`) and its value. */
export interface RowRead {
  where: string;
  value: unknown;
}

/**
 * The rows of a JSON Lines or Parquet file (by its `.parquet` extension), one at a time, so
 * a large file is never held whole; a line that is not JSON comes as a problem naming it.
 */
export async function* ftrlRowsIn(file: string): AsyncGenerator<RowRead | { where: string; problem: string }> {
  if (/\.parquet$/i.test(file)) {
    const buffer = await readFile(file);
    let objects: Record<string, unknown>[];
    try {
      objects = (await parquetReadObjects({ file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
    } catch (err) {
      yield { where: file, problem: `not a Parquet file (${(err as Error).message})` };
      return;
    }
    for (const [i, value] of objects.entries()) yield { where: `row ${i + 1}`, value: withoutNulls(value) };
    return;
  }
  for await (const { line, where } of lines(file)) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      yield { where, problem: `not JSON (${(err as Error).message})` };
      continue;
    }
    yield { where, value };
  }
}

/** Parquet gives every struct field, null where a message has none: the JSON row has no such field. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
  return typeof value === "bigint" ? Number(value) : value;
}

/** A row's `tools` and `codes`, read and checked once for all the rows that carry the same text. */
interface Toolset {
  text: string;
  tools: z.infer<typeof ToolDocs>;
  codes: Record<string, string>;
}

/** A row read and checked, keeping only what the import needs (rows repeat their toolset: it is shared). */
interface TaskRow {
  where: string;
  question: string;
  dataSource: string;
  answer: string;
  solveRate: number;
  toolset: Toolset;
  pending: Record<string, string[]>;
}

const issues = (e: z.ZodError): string => e.issues.slice(0, 3).map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`).join("; ");

function parseJsonField<T>(text: string, schema: z.ZodType<T>, field: string, problems: string[]): T | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    problems.push(`${field} is not JSON (${(err as Error).message})`);
    return null;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) problems.push(`${field}: ${issues(parsed.error)}`);
  return parsed.success ? parsed.data : null;
}

/** Reads and checks a toolset: each tool has Python code defining it, and no code is for a tool not listed. */
function readToolset(row: RowFields): { toolset: Toolset | null; problems: string[] } {
  const problems: string[] = [];
  const tools = parseJsonField(row.tools, ToolDocs, "tools", problems);
  const codes = parseJsonField(row.codes, Codes, "codes", problems);
  if (!tools || !codes) return { toolset: null, problems };
  const names = new Set(tools.map((t) => t.name));
  for (const t of tools) {
    const code = codes[t.name];
    if (code === undefined) problems.push(`tool "${t.name}" has no code in codes`);
    else if (!new RegExp(`^(?:async\\s+)?def\\s+${t.name}\\s*\\(`, "m").test(code)) problems.push(`the code of "${t.name}" defines no Python function named ${t.name} (codes must be Python: def ${t.name}(**params))`);
  }
  for (const name of Object.keys(codes)) if (!names.has(name)) problems.push(`codes has "${name}", which is not in tools`);
  return { toolset: problems.length === 0 ? { text: `${row.tools}\u0000${row.codes}`, tools, codes } : null, problems };
}

/** Checks one row and reads its JSON-string fields; null (with problems naming the row) when it cannot be used. */
function taskRow({ where, value }: RowRead, toolsets: Map<string, ReturnType<typeof readToolset>>, problems: string[]): TaskRow | null {
  const parsed = RowFields.safeParse(value);
  if (!parsed.success) {
    problems.push(`${where}: not an FTRL row: ${issues(parsed.error)}`);
    return null;
  }
  const row = parsed.data;
  const question = row.messages.find((m) => m.role === "user")?.content;
  if (!question) problems.push(`${where}: no user message with text, so no question`);
  const key = `${row.tools}\u0000${row.codes}`;
  const read = toolsets.get(key) ?? readToolset(row);
  toolsets.set(key, read);
  const own: string[] = [...read.problems];
  const pending = parseJsonField(row.unsolved_set, Pending, "unsolved_set", own);
  problems.push(...own.map((p) => `${where}: ${p}`));
  if (!question || !read.toolset || !pending || own.length > 0) return null;
  return { where, question, dataSource: row.data_source, answer: row.answer, solveRate: row.solve_rate, toolset: read.toolset, pending };
}

/** `envforge/ENV/TASK`, as `export --format ftrl` names rows: the environment and task ids to keep. */
const envforgeSource = (dataSource: string): { env: string; task: string } | null => {
  const m = /^envforge\/([A-Za-z0-9_.-]{1,128})\/([A-Za-z0-9_.-]{1,128})$/.exec(dataSource);
  return m ? { env: m[1]!, task: m[2]! } : null;
};

const sha = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * A task's whole unsolved_set: rows carry only what is still pending, so it is each tool's
 * sub-answers at their largest count over the task's rows (the rows at solve_rate 0 hold all of
 * them). Every row's `solve_rate` says how many there were (pending / (1 - rate)); when the
 * rows never show that many, the task cannot be rebuilt and the problem names its first row.
 */
function wholeUnsolvedSet(rows: readonly TaskRow[], problems: string[]): Record<string, string[]> | null {
  const whole: Record<string, string[]> = {};
  for (const r of rows) {
    for (const [tool, answers] of Object.entries(r.pending)) {
      const have = whole[tool] ?? [];
      const extra = [...have];
      const add: string[] = [];
      for (const a of answers) {
        const k = extra.indexOf(a);
        if (k >= 0) extra.splice(k, 1);
        else add.push(a);
      }
      whole[tool] = [...have, ...add];
    }
  }
  const known = Object.values(whole).reduce((n, a) => n + a.length, 0);
  for (const r of rows) {
    const pending = Object.values(r.pending).reduce((n, a) => n + a.length, 0);
    if (r.solveRate === 1 && pending === 0) continue;
    const total = pending / (1 - r.solveRate);
    if (Math.abs(total - Math.round(total)) > 1e-6 || Math.round(total) !== known) {
      const said = total.toFixed(2).replace(/\.00$/, "");
      problems.push(`${r.where}: solve_rate ${r.solveRate} with ${pending} pending means ${said} sub-answers in all, but the task's rows show ${known} (${known < total ? "its row at solve_rate 0, which holds every sub-answer, is missing" : "its rows disagree"})`);
      return null;
    }
  }
  if (known === 0) {
    problems.push(`${rows[0]!.where}: the task's rows show no sub-answer at all, so there is nothing to verify`);
    return null;
  }
  return whole;
}

export interface RowsImport {
  environments: Environment[];
  /** Every problem, each naming its row; when there is any, nothing should be written. */
  problems: string[];
}

/**
 * Environments from FTRL rows. Rows are grouped by task (their `data_source` and question);
 * tasks sharing a toolset (the same `tools` and `codes`) are one environment. Rows written by
 * `envforge export --format ftrl` (data_source `envforge/ENV/TASK`) keep their environment
 * and task ids. Each tool keeps its own document and its code; helpers repeated identically in
 * several tools' codes become the prelude. Tasks have no gold plan, so only the static checks
 * (schema and cross-field) run here; the dynamic gate needs a plan.
 */
export async function environmentsFromRows(rows: Iterable<RowRead | { where: string; problem: string }> | AsyncIterable<RowRead | { where: string; problem: string }>, file: string): Promise<RowsImport> {
  const problems: string[] = [];
  const tasks = new Map<string, TaskRow[]>();
  const toolsets = new Map<string, ReturnType<typeof readToolset>>();
  let count = 0;
  for await (const read of rows) {
    count++;
    if ("problem" in read) {
      problems.push(`${read.where}: ${read.problem}`);
      continue;
    }
    const r = taskRow(read, toolsets, problems);
    if (!r) continue;
    const key = `${r.dataSource}\u0000${r.question}`;
    const group = tasks.get(key);
    if (group) group.push(r);
    else tasks.set(key, [r]);
  }
  if (count === 0) problems.push(`${file}: no rows`);
  // Environments by id: envforge's own, or the toolset's digest.
  const envs = new Map<string, { first: TaskRow; tasks: { id: string; rows: TaskRow[] }[] }>();
  for (const group of tasks.values()) {
    const first = group[0]!;
    const named = envforgeSource(first.dataSource);
    const slug = first.dataSource.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80);
    const envId = named?.env ?? `ftrl-${slug === "" ? "" : `${slug}-`}${sha(first.toolset.text).slice(0, 8)}`;
    const env = envs.get(envId) ?? { first, tasks: [] };
    envs.set(envId, env);
    env.tasks.push({ id: named?.task ?? `t${env.tasks.length + 1}`, rows: group });
  }
  const environments: Environment[] = [];
  for (const [id, { first, tasks: envTasks }] of envs) {
    const before = problems.length;
    const built: EnvironmentInput["tasks"] = [];
    for (const t of envTasks) {
      for (const r of t.rows) {
        if (r.toolset !== first.toolset) problems.push(`${r.where}: tools or codes differ from those of ${first.where}, another row of environment ${id}`);
        if (r.answer !== t.rows[0]!.answer) problems.push(`${r.where}: answer ${JSON.stringify(r.answer)} differs from ${JSON.stringify(t.rows[0]!.answer)} at ${t.rows[0]!.where}, a row of the same task`);
      }
      const unsolved = wholeUnsolvedSet(t.rows, problems);
      if (unsolved) built.push({ id: t.id, question: t.rows[0]!.question, unsolved_set: unsolved, answer: t.rows[0]!.answer });
    }
    if (problems.length > before) continue;
    const { prelude, tools } = splitToolCodes(first.toolset.codes);
    const subAnswers = Math.max(...built.map((t) => Object.values(t.unsolved_set).flat().length));
    const value: EnvironmentInput = {
      format: FORMAT,
      id,
      title: `${id} (from FTRL rows)`,
      domain: "imported",
      // The rows do not say how sub-questions relate; one sub-answer is a single hop, more are read as a chain.
      scenario: subAnswers === 1 ? "single-hop" : "multi-hop",
      complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
      provenance: { generator: "envforge import --from ftrl-rows", version: "1", seed: 0, stages: { ftrl_rows: { file: basename(file), rows: envTasks.reduce((n, t) => n + t.rows.length, 0), data_sources: [...new Set(envTasks.map((t) => t.rows[0]!.dataSource))] } } },
      tools: first.toolset.tools.map((t) => ({ name: t.name, description: t.description || `The ${t.name} tool.`, input_schema: t.parameters as EnvironmentInput["tools"][number]["input_schema"] })),
      implementation: { language: "python", prelude, tools },
      initial_state: {},
      tasks: built,
    };
    const parsed = parseEnvironment(value, file);
    if (parsed.ok) environments.push(parsed.env);
    else problems.push(...parsed.problems.map((p) => `${first.where}: environment ${id}: ${p.path}: ${p.message}`));
  }
  return { environments, problems };
}
