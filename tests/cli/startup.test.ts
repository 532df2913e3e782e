// The shipped CLI: bin/envforge.js runs compiled JavaScript from dist/, loads a command's module only when that command runs, and finds its non-TypeScript files there.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS, main } from "../../src/cli/main.ts";
import { memoryIo } from "../helpers/io.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/envforge.js");
const TEMP = mkdtempSync(join(tmpdir(), "envforge-startup-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));
let runs = 0;

/** Runs the real entry with a module hook that logs every file URL it resolves; returns those files relative to the package. */
function traced(args: string[]): { code: number | null; out: string; files: string[] } {
  const log = join(TEMP, `modules-${runs++}.log`);
  const hooks = `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.startsWith("file:")) appendFileSync(${JSON.stringify(log)}, r.url + "\\n");
  return r;
}`;
  const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], { cwd: TEMP, encoding: "utf8" });
  const files = readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((url) => relative(ROOT, fileURLToPath(url)));
  return { code: r.status, out: r.stdout + r.stderr, files: [...new Set(files)] };
}

describe("bin/envforge.js", () => {
  it("prints the help from the command table alone: no command module, no TypeScript loader, no dependency", () => {
    const r = traced(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toContain(`  ${c.name} `);
    expect(r.files.filter((f) => f !== "bin/envforge.js").sort()).toEqual(["dist/cli/io.js", "dist/cli/main.js"]);
  });

  it("loads the module of the command that runs and not the others", () => {
    const r = traced(["list", "--dir", join(ROOT, "environments/examples"), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([expect.objectContaining({ id: "example-films-director-birth" })]);
    expect(r.files).toContain("dist/cli/list.js");
    const others = COMMANDS.filter((c) => c.name !== "list").map((c) => `dist/cli/${c.name}.js`);
    expect(r.files.filter((f) => others.includes(f))).toEqual([]);
    expect(r.files.filter((f) => f.startsWith("src/") || f.includes("node_modules/tsx/"))).toEqual([]);
  });

  it("reads the LLM prompts from dist/ (a dry run prints them)", () => {
    const r = spawnSync(process.execPath, [BIN, "build", "--generator", "llm", "--model", "M", "--topic", "hotel bookings", "--count", "1", "--out", join(TEMP, "envs"), "--dry-run"], { cwd: TEMP, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/stage decompose \(prompts system@\d+\+decompose@\d+/);
    expect(r.stdout).toContain("You are one stage of envforge's pipeline");
  });

  it("builds with worker threads from dist/ the same bytes as in one thread", () => {
    const build = (jobs: string) => spawnSync(process.execPath, [BIN, "build", "--count", "3", "--seed", "5", "--jobs", jobs, "--json", "--out", join(TEMP, `jobs-${jobs}`)], { cwd: TEMP, encoding: "utf8" });
    const one = build("1");
    const two = build("2");
    expect([one.status, two.status, two.stderr]).toEqual([0, 0, ""]);
    const files = (jobs: string): Record<string, string> => {
      const dir = join(TEMP, `jobs-${jobs}`);
      const names = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json"));
      return Object.fromEntries(names.sort().map((f) => [f, readFileSync(join(dir, f), "utf8")]));
    };
    expect(Object.keys(files("1"))).toHaveLength(3);
    expect(files("2")).toEqual(files("1"));
  });
});

describe("the command table", () => {
  it.each(COMMANDS.map((c) => c.name))("loads %s and prints its usage", async (name) => {
    const m = memoryIo({ cwd: ROOT });
    expect(await main([name, "--help"], m.io)).toBe(0);
    expect(m.out()).toContain(`Usage: envforge ${name}`);
  });
});
