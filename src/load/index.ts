// Reads environment files and folders, reporting every problem with its file and JSON path.
import { readFile, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { z } from "zod";
import { CALIBRATION_FILE, crossFieldIssues, Environment } from "../schema/index.ts";
import { findJsonSyntaxError } from "./json.ts";

export interface Problem {
  file: string;
  /** JSONPath of the offending value, `$` for the whole document. */
  path: string;
  message: string;
  /** Where in the text, for a JSON syntax error (1-based). */
  line?: number;
  column?: number;
}

export type Parsed = { ok: true; env: Environment } | { ok: false; problems: Problem[] };

/** `["tasks", 0, "id"]` -> `$.tasks[0].id`; keys that are not identifiers are quoted. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = "$";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function problemsOf(file: string, error: z.ZodError): Problem[] {
  return error.issues.map((issue) => ({ file, path: jsonPath(issue.path), message: issue.message }));
}

/**
 * Checks an already-parsed JSON value; every zod issue becomes one problem. zod skips the
 * cross-field checks once the shape fails, so they run again on what is readable: a schema
 * error never hides an unknown tool or a gold plan that misses a sub-answer.
 */
export function parseEnvironment(value: unknown, file = "<input>"): Parsed {
  const result = Environment.safeParse(value);
  if (result.success) return { ok: true, env: result.data };
  const problems = problemsOf(file, result.error);
  const seen = new Set(problems.map((p) => `${p.path}\u0000${p.message}`));
  for (const issue of crossFieldIssues(value)) {
    const p = { file, path: jsonPath(issue.path), message: issue.message };
    if (!seen.has(`${p.path}\u0000${p.message}`)) problems.push(p);
  }
  return { ok: false, problems };
}

/** Parses JSON text; a syntax error is one problem at `$` with its line and column. */
export function parseEnvironmentText(text: string, file = "<input>"): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const at = findJsonSyntaxError(text);
    if (!at) return { ok: false, problems: [{ file, path: "$", message: `not valid JSON: ${(err as Error).message}` }] };
    return { ok: false, problems: [{ file, path: "$", line: at.line, column: at.column, message: `not valid JSON at line ${at.line}, column ${at.column}: ${at.message}` }] };
  }
  return parseEnvironment(value, file);
}

export async function loadEnvironmentFile(file: string): Promise<Parsed> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    return { ok: false, problems: [{ file, path: "$", message: `cannot read: ${(err as Error).message}` }] };
  }
  return parseEnvironmentText(text, file);
}

/** Environment files below a folder: every `*.json` except `schema.json` and the calibration sidecar, in sorted order. */
export async function findEnvironmentFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && !e.name.startsWith(".")) await walk(p);
      } else if (e.isFile() && e.name.endsWith(".json") && e.name !== "schema.json" && e.name !== CALIBRATION_FILE) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export interface LoadReport {
  environments: { file: string; env: Environment }[];
  problems: Problem[];
}

/** Loads files and folders; problems of one file never hide the others. Duplicate ids are problems too. */
export async function loadEnvironments(paths: readonly string[], cwd = process.cwd()): Promise<LoadReport> {
  const report: LoadReport = { environments: [], problems: [] };
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const info = await stat(abs).catch(() => undefined);
    if (!info) report.problems.push({ file: p, path: "$", message: "no such file or folder" });
    else if (info.isDirectory()) files.push(...(await findEnvironmentFiles(abs)));
    else files.push(abs);
  }
  const seen = new Map<string, string>();
  for (const file of files) {
    const parsed = await loadEnvironmentFile(file);
    if (!parsed.ok) {
      report.problems.push(...parsed.problems);
      continue;
    }
    const first = seen.get(parsed.env.id);
    if (first) {
      report.problems.push({ file, path: "$.id", message: `environment id "${parsed.env.id}" is also used by ${first}` });
      continue;
    }
    seen.set(parsed.env.id, file);
    report.environments.push({ file, env: parsed.env });
  }
  return report;
}

/** `file: $.path: message`; a syntax error leads with `file:line:column`, which editors and terminals open at the spot. */
export const formatProblem = (p: Problem): string => (p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}: ${p.message}` : `${p.file}: ${p.path}: ${p.message}`);
