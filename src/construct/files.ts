// Environment files on disk: writing a build into `<dir>/<scenario>/<id>.json` and listing a folder.
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Scenario } from "../schema/index.ts";
import { SCENARIOS, STRATEGIES } from "../schema/index.ts";
import { loadEnvironments, type Problem } from "../load/index.ts";
import { buildEnvironments, buildRequests, summarize, type BuildResult, type Built } from "./build.ts";
import type { BuildOptions } from "./plan.ts";
import { GENERATOR } from "./deploy.ts";
import { suiteRequests } from "./suite.ts";
import { buildWriteSuite } from "./write-build.ts";

export interface WriteReport {
  written: string[];
  removed: string[];
}

/**
 * Writes each environment to `<dir>/<scenario>/<id>.json`. With `clean`, files in those scenario
 * folders that this generator made earlier and this build did not write are removed, so a rebuild is
 * exact; files from anywhere else (hand-written ones, examples, the schema) are never touched.
 */
export async function writeEnvironments(dir: string, built: readonly Built[], clean = false): Promise<WriteReport> {
  const written: string[] = [];
  const removed: string[] = [];
  for (const b of built) {
    const folder = join(dir, b.env.scenario);
    await mkdir(folder, { recursive: true });
    const file = join(folder, `${b.env.id}.json`);
    await writeFile(file, b.text);
    written.push(file);
  }
  if (clean) {
    const keep = new Set(written);
    for (const scenario of SCENARIOS) {
      const folder = join(dir, scenario);
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names.sort()) {
        const file = join(folder, name);
        if (!name.endsWith(".json") || keep.has(file)) continue;
        const text = await readFile(file, "utf8").catch(() => "");
        if (ownedByGenerator(text)) {
          await rm(file);
          removed.push(file);
        }
      }
    }
  }
  return { written, removed };
}

function ownedByGenerator(text: string): boolean {
  try {
    return (JSON.parse(text) as { provenance?: { generator?: unknown } }).provenance?.generator === GENERATOR;
  } catch {
    return false;
  }
}

export interface ListedEnvironment {
  id: string;
  scenario: Scenario;
  complexity: Record<string, number>;
  domain: string;
  tools: number;
  tasks: string[];
  file: string;
}

/** Every environment below `dir`, sorted by file; unreadable files come back as problems. */
export async function listEnvironments(dir: string): Promise<{ environments: ListedEnvironment[]; problems: Problem[] }> {
  const report = await loadEnvironments([dir]);
  return {
    environments: report.environments.map(({ file, env }) => ({
      id: env.id,
      scenario: env.scenario,
      complexity: Object.fromEntries(STRATEGIES.map((s) => [s, env.complexity[s]])),
      domain: env.domain,
      tools: env.tools.length,
      tasks: env.tasks.map((t) => t.id),
      file,
    })),
    problems: report.problems,
  };
}

export interface BuildToDirectoryOptions extends BuildOptions {
  out: string;
  /** Build the shipped suite instead of `count` planned environments, and clean stale suite files. */
  suite?: boolean;
}

/** `envforge build` as one call: plan, build with the gate, write the files. */
export async function buildToDirectory(options: BuildToDirectoryOptions): Promise<BuildResult & WriteReport> {
  const result = options.suite ? await buildSuite(options) : await buildEnvironments(options);
  const files = await writeEnvironments(options.out, result.environments, options.suite === true);
  return { ...result, ...files };
}

/** The shipped suite: the planned environments, then the write environments (whose tasks are judged by final state too). */
async function buildSuite(options: BuildToDirectoryOptions): Promise<BuildResult> {
  const language = options.language === "python" ? { language: options.language } : {};
  const planned = await buildRequests(suiteRequests().map((r) => ({ ...r, ...language })), options);
  const writes = await buildWriteSuite(undefined, options.language);
  const rejected = { ...planned.summary.rejected };
  for (const w of writes) for (const [k, v] of Object.entries(w.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
  const environments = [...planned.environments, ...writes.map(({ env, text }) => ({ env, text }))];
  return { environments, summary: summarize(environments, planned.summary.candidates + writes.reduce((n, w) => n + w.candidates, 0), rejected) };
}
