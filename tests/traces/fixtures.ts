// A database of recorded rollouts for the trace export and import tests, and the Python readers that check the files.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Records } from "../../src/store/index.ts";
import { exportRecords, type ExportFormat, type ExportStats } from "../../src/export/index.ts";
import type { Environment } from "../../src/schema/index.ts";
import { venv } from "../helpers/venv.ts";

export { ENV, recordRollouts } from "../export/helpers.ts";

export async function exportTo(db: string, environments: Environment[], format: ExportFormat, out: string, filter: { model?: string } = {}): Promise<ExportStats> {
  const records = Records.open(db);
  try {
    return await exportRecords({ records, environments, format, out, ...filter });
  } finally {
    records.close();
  }
}

/** pyarrow (HF rows), pydantic (Harbor's ATIF models) and the OTLP protobuf bindings, pinned. */
export const tracesPython = (): string => venv("traces", ["opentelemetry-proto==1.45.2", "pyarrow==26.0.1", "pydantic==2.14.4"]);

/** Inspect AI, whose `read_eval_log` reads our eval logs (a 3-minute, 325 MB install on first use). */
export const inspectPython = (): string => venv("inspect", ["inspect_ai==0.3.285"]);

/**
 * Harbor's ATIF pydantic models from its PyPI wheel. Harbor requires Python 3.12 and pulls in
 * its whole runtime, so the wheel is downloaded without dependencies and only
 * `harbor/models/trajectories` (which needs nothing but pydantic) is unpacked; the folder goes
 * on PYTHONPATH.
 */
export function harborModels(python: string): string {
  const dir = resolve(python, "../../harbor-0.26.0");
  if (existsSync(resolve(dir, "harbor/models/trajectories/trajectory.py"))) return dir;
  mkdirSync(dir, { recursive: true });
  execFileSync(python, ["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--python-version", "3.12", "--only-binary=:all:", "harbor==0.26.0", "-d", dir], { stdio: "inherit", timeout: 300_000 });
  execFileSync(python, ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); [z.extract(n, sys.argv[2]) for n in z.namelist() if n.startswith('harbor/models/trajectories/')]", resolve(dir, "harbor-0.26.0-py3-none-any.whl"), dir]);
  return dir;
}
