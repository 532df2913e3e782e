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

/** The rows of a JSON Lines or Parquet file (by its `.parquet` extension); a line that is not JSON is a problem naming it. */
export async function readFtrlRowFile(file: string): Promise<{ rows: RowRead[]; problems: string[] }> {
  const rows: RowRead[] = [];
  const problems: string[] = [];
  if (/\.parquet$/i.test(file)) {
    const buffer = await readFile(file);
    let objects: Record<string, unknown>[];
    try {
      objects = (await parquetReadObjects({ file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
    } catch (err) {
      return { rows, problems: [`${file}: not a Parquet file (${(err as Error).message})`] };
    }
    objects.forEach((value, i) => rows.push({ where: `row ${i + 1}`, value: withoutNulls(value) }));
    return { rows, problems };
  }
  for await (const { line, where } of lines(file)) {
    try {
      rows.push({ where, value: JSON.parse(line) });
    } catch (err) {
      problems.push(`${where}: not JSON (${(err as Error).message})`);
    }
  }
  return { rows, problems };
}

/** Parquet gives every struct field, null where a message has none: the JSON row has no such field. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
  return typeof value === "bigint" ? Number(value) : value;
}

/** A row read and checked: its task key and the parts every row of that task must share. */
interface TaskRow {
  where: string;
  question: string;
  row: RowFields;
  tools: z.infer<typeof ToolDocs>;
  codes: Record<string, string>;
  pending: Record<string, string[]>;
}

const issues = (e: z.ZodError): string => e.issues.slice(0, 3).map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`).join("; ");

function parseJsonField<T>(text: string, schema: z.ZodType<T>, field: string, where: string, problems: string[]): T | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    problems.push(`${where}: ${field} is not JSON (${(err as Error).message})`);
    return null;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) problems.push(`${where}: ${field}: ${issues(parsed.error)}`);
  return parsed.success ? parsed.data : null;
}

/** Checks one row and reads its JSON-string fields; null (with problems naming the row) when it cannot be used. */
function taskRow({ where, value }: RowRead, problems: string[]): TaskRow | null {
  const parsed = RowFields.safeParse(value);
  if (!parsed.success) {
    problems.push(`${where}: not an FTRL row: ${issues(parsed.error)}`);
    return null;
  }
  const row = parsed.data;
  const question = row.messages.find((m) => m.role === "user")?.content;
  if (!question) problems.push(`${where}: no user message with text, so no question`);
  const before = problems.length;
  const tools = parseJsonField(row.tools, ToolDocs, "tools", where, problems);
  const codes = parseJsonField(row.codes, Codes, "codes", where, problems);
  const pending = parseJsonField(row.unsolved_set, Pending, "unsolved_set", where, problems);
  if (tools && codes) {
    const names = new Set(tools.map((t) => t.name));
    for (const t of tools) {
      const code = codes[t.name];
      if (code === undefined) problems.push(`${where}: tool "${t.name}" has no code in codes`);
      else if (!new RegExp(`^(?:async\\s+)?def\\s+${t.name}\\s*\\(`, "m").test(code)) problems.push(`${where}: the code of "${t.name}" defines no Python function named ${t.name} (codes must be Python: def ${t.name}(**params))`);
    }
    for (const name of Object.keys(codes)) if (!names.has(name)) problems.push(`${where}: codes has "${name}", which is not in tools`);
  }
  if (!question || !tools || !codes || !pending || problems.length > before) return null;
  return { where, question, row, tools, codes, pending };
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
    if (r.row.solve_rate === 1 && pending === 0) continue;
    const total = pending / (1 - r.row.solve_rate);
    if (Math.abs(total - Math.round(total)) > 1e-6 || Math.round(total) !== known) {
      const said = total.toFixed(2).replace(/\.00$/, "");
      problems.push(`${r.where}: solve_rate ${r.row.solve_rate} with ${pending} pending means ${said} sub-answers in all, but the task's rows show ${known} (${known < total ? "its row at solve_rate 0, which holds every sub-answer, is missing" : "its rows disagree"})`);
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
export function environmentsFromRows(rows: readonly RowRead[], file: string): RowsImport {
  const problems: string[] = [];
  const tasks = new Map<string, TaskRow[]>();
  for (const read of rows) {
    const r = taskRow(read, problems);
    if (!r) continue;
    const key = `${r.row.data_source}\u0000${r.question}`;
    tasks.set(key, [...(tasks.get(key) ?? []), r]);
  }
  if (rows.length === 0) problems.push(`${file}: no rows`);
  // Environments by id: envforge's own, or the toolset's digest.
  const envs = new Map<string, { first: TaskRow; tasks: { id: string; rows: TaskRow[] }[] }>();
  for (const group of tasks.values()) {
    const first = group[0]!;
    const named = envforgeSource(first.row.data_source);
    const slug = first.row.data_source.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80);
    const envId = named?.env ?? `ftrl-${slug === "" ? "" : `${slug}-`}${sha(`${first.row.tools}\u0000${first.row.codes}`).slice(0, 8)}`;
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
        if (r.row.tools !== first.row.tools || r.row.codes !== first.row.codes) problems.push(`${r.where}: tools or codes differ from those of ${first.where}, another row of environment ${id}`);
        if (r.row.answer !== t.rows[0]!.row.answer) problems.push(`${r.where}: answer ${JSON.stringify(r.row.answer)} differs from ${JSON.stringify(t.rows[0]!.row.answer)} at ${t.rows[0]!.where}, a row of the same task`);
      }
      const unsolved = wholeUnsolvedSet(t.rows, problems);
      if (unsolved) built.push({ id: t.id, question: t.rows[0]!.question, unsolved_set: unsolved, answer: t.rows[0]!.row.answer });
    }
    if (problems.length > before) continue;
    const { prelude, tools } = splitToolCodes(first.codes);
    const subAnswers = Math.max(...built.map((t) => Object.values(t.unsolved_set).flat().length));
    const value: EnvironmentInput = {
      format: FORMAT,
      id,
      title: `${id} (from FTRL rows)`,
      domain: "imported",
      // The rows do not say how sub-questions relate; one sub-answer is a single hop, more are read as a chain.
      scenario: subAnswers === 1 ? "single-hop" : "multi-hop",
      complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
      provenance: { generator: "envforge import --from ftrl-rows", version: "1", seed: 0, stages: { ftrl_rows: { file: basename(file), rows: envTasks.reduce((n, t) => n + t.rows.length, 0), data_sources: [...new Set(envTasks.map((t) => t.rows[0]!.row.data_source))] } } },
      tools: first.tools.map((t) => ({ name: t.name, description: t.description || `The ${t.name} tool.`, input_schema: t.parameters as EnvironmentInput["tools"][number]["input_schema"] })),
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
