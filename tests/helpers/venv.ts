// Python venvs for tests that read our files with their owners' readers: created once under node_modules/.cache/envforge-py, pinned packages from PyPI.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const CACHE = resolve(import.meta.dirname, "../../node_modules/.cache/envforge-py");

/**
 * The python of a venv holding exactly `packages` (pinned `name==version` specs), creating it
 * on first use. A venv whose package list differs, or whose install failed half-way, is
 * rebuilt: the marker file is written only after pip succeeded.
 */
export function venv(name: string, packages: readonly string[]): string {
  const dir = resolve(CACHE, name);
  const python = resolve(dir, "bin/python");
  const marker = resolve(dir, "envforge-packages.txt");
  const want = [...packages].sort().join("\n");
  if (existsSync(marker) && readFileSync(marker, "utf8") === want && existsSync(python)) return python;
  rmSync(dir, { recursive: true, force: true });
  execFileSync("python3", ["-m", "venv", dir], { stdio: "inherit" });
  execFileSync(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...packages], { stdio: "inherit", timeout: 900_000 });
  writeFileSync(marker, want);
  return python;
}

/** Runs a Python script with the given python; returns stdout, throwing with stderr when it fails. */
export function runPython(python: string, script: string, args: readonly string[] = [], env: Record<string, string> = {}): string {
  const r = spawnSync(python, ["-c", script, ...args], { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
