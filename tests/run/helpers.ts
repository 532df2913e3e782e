// Shared by the run and export tests: environments on disk, a temp database, and in-process rollouts recorded into it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadEnvironments } from "../../src/load/index.ts";
import { Recorder } from "../../src/store/index.ts";
import { runRollouts, type RunOptions, type RunSummary } from "../../src/run/index.ts";
import type { Environment } from "../../src/schema/index.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const EXAMPLES = join(ROOT, "environments/examples");
export const SHIPPED = join(ROOT, "environments");

export async function environmentsIn(dir: string): Promise<Environment[]> {
  const report = await loadEnvironments([dir]);
  if (report.problems.length > 0) throw new Error(`invalid environments: ${JSON.stringify(report.problems.slice(0, 3))}`);
  return report.environments.map((e) => e.env);
}

/** A fresh folder for databases and exports; `cleanup` removes it. */
export function tempDir(prefix = "envforge-run-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs rollouts in process, recorded into `dbFile` (read it back with `Records.open`). */
export async function runInMemory(dbFile: string, options: Omit<RunOptions, "target">): Promise<RunSummary> {
  const recorder = Recorder.open(dbFile);
  try {
    return await runRollouts({ ...options, target: { kind: "memory", recorder } });
  } finally {
    recorder.close();
  }
}
