// The @modelcontextprotocol/conformance server suite against `envforge serve --http`; only baselined scenarios may fail.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT, spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

const CONFORMANCE = join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");
/** Scenario -> why it does not apply to envforge. */
const BASELINE = JSON.parse(readFileSync(join(import.meta.dirname, "conformance-baseline.json"), "utf8")) as Record<string, string>;

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir("envforge-conformance-");
});
afterAll(() => tmp.cleanup());

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

it("passes every conformance scenario that applies to an envforge episode", async () => {
  const server = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
  const out = join(tmp.path, "results");
  try {
    // The suite exits non-zero when any scenario fails; the verdict is taken from its results instead.
    await promisify(execFile)(process.execPath, [CONFORMANCE, "server", "--url", `${server.url}?env=test-counter&task=code-alpha`, "-o", out], {
      cwd: tmp.path,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { code?: unknown }) => {
      if (typeof err.code !== "number") throw err;
    });
  } finally {
    server.child.kill("SIGTERM");
  }
  const failures: Record<string, string[]> = {};
  const ran: string[] = [];
  for (const dir of readdirSync(out)) {
    const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T/.exec(dir)?.[1];
    if (!scenario) continue;
    ran.push(scenario);
    const checks = JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Check[];
    const failed = checks.filter((c) => c.status === "FAILURE").map((c) => `${c.id}: ${c.errorMessage ?? ""}`);
    if (failed.length) failures[scenario] = failed;
  }
  expect(ran.length).toBeGreaterThan(20);
  const unexpected = Object.fromEntries(Object.entries(failures).filter(([s]) => !(s in BASELINE)));
  expect(unexpected, "scenarios failing that are not in conformance-baseline.json").toEqual({});
  const stale = Object.keys(BASELINE).filter((s) => ran.includes(s) && !(s in failures));
  expect(stale, "baselined scenarios that now pass: remove them from conformance-baseline.json").toEqual([]);
});
