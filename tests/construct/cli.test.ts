// `envforge build`, `list` and `validate` in process, on a temporary folder.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { memoryIo } from "../helpers/io.ts";
import { SCENARIOS } from "../../src/schema/index.ts";

const TEMP = mkdtempSync(join(tmpdir(), "envforge-cli-build-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

async function run(argv: string[], cwd = TEMP): Promise<{ code: number; out: string; err: string }> {
  const m = memoryIo({ cwd });
  const code = await main(argv, m.io);
  return { code, out: m.out(), err: m.err() };
}

describe("envforge build / list / validate", () => {
  it("builds into scenario folders, prints a summary, and lists and validates what it wrote", async () => {
    const built = await run(["build", "--count", "6", "--seed", "3", "--out", "envs", "--complexity", "1,2,0,3", "--jobs", "2"]);
    expect(built.err).toBe("");
    expect(built.code).toBe(0);
    expect(built.out).toMatch(/^built 6 environments \(\d+ tasks\) from \d+ candidates into envs/);
    expect(built.out).toMatch(/by complexity: 1,2,0,3 6/);
    expect(built.out).toMatch(/tools per environment: min \d+, mean [\d.]+, max \d+/);
    expect(built.out).toMatch(/rejected candidates: /);
    const folders = readdirSync(join(TEMP, "envs")).sort();
    expect(folders.every((f) => (SCENARIOS as readonly string[]).includes(f))).toBe(true);

    const listed = await run(["list", "--dir", "envs", "--json"]);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.out) as { id: string; scenario: string; complexity: Record<string, number>; tools: number; tasks: string[] }[];
    expect(rows).toHaveLength(6);
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(["complexity", "id", "scenario", "tasks", "tools"]);
      expect(r.complexity).toEqual({ functional_generalization: 1, parameter_expansion: 2, parameter_type_generalization: 0, toolset_extension: 3 });
      expect(r.tools).toBeGreaterThan(0);
      expect(r.tasks.length).toBeGreaterThanOrEqual(2);
      const file = JSON.parse(readFileSync(join(TEMP, "envs", r.scenario, `${r.id}.json`), "utf8")) as { tools: unknown[]; tasks: { id: string }[] };
      expect(r.tools).toBe(file.tools.length);
      expect(r.tasks).toEqual(file.tasks.map((t) => t.id));
    }
    const table = await run(["list", "--dir", "envs"]);
    expect(table.out.split("\n")[0]).toMatch(/^id\s+scenario\s+complexity\s+tools\s+tasks$/);
    expect(table.out).toMatch(/6 environments\n$/);

    const validated = await run(["validate", "envs"]);
    expect(validated.code).toBe(0);
    expect(validated.out).toMatch(/^6 environments valid/);
  });

  it("validate runs the gate unless --static, and reports a broken gold plan", async () => {
    const dir = join(TEMP, "broken");
    await run(["build", "--count", "1", "--seed", "8", "--scenario", "single-hop", "--out", dir]);
    const folder = join(dir, "single-hop");
    const file = join(folder, readdirSync(folder)[0]!);
    const env = JSON.parse(readFileSync(file, "utf8")) as { tasks: { question: string }[] };
    env.tasks[0]!.question = "What is it?";
    writeFileSync(file, JSON.stringify(env));
    const dynamic = await run(["validate", dir]);
    expect(dynamic.code).toBe(1);
    expect(dynamic.err).toMatch(/\$\.tasks\[0\]\.gold_plan\[0\]\.arguments: provenance: /);
    const fixedOnly = await run(["validate", "--static", dir]);
    expect(fixedOnly.code).toBe(0);
  });

  it("lists the package's own environments from any folder", async () => {
    const listed = await run(["list", "--json"], TEMP);
    const rows = JSON.parse(listed.out) as { id: string }[];
    expect(rows.map((r) => r.id)).toContain("example-films-director-birth");
    expect(listed.code).toBe(0);
    expect(resolve(TEMP)).not.toBe(resolve(import.meta.dirname, "../.."));
  });

  it("rejects bad flags with a usage error", async () => {
    expect((await run(["build", "--out", "x"])).code).toBe(2);
    expect((await run(["build", "--count", "2"])).code).toBe(2);
    expect((await run(["build", "--count", "0", "--out", "x"])).code).toBe(2);
    expect((await run(["build", "--count", "2", "--out", "x", "--complexity", "5"])).code).toBe(2);
    expect((await run(["build", "--count", "2", "--out", "x", "--complexity", "1,2"])).code).toBe(2);
    expect((await run(["build", "--count", "2", "--out", "x", "--scenario", "triple-hop"])).code).toBe(2);
    expect((await run(["build", "--count", "2", "--out", "x", "--domain", "aviation"])).code).toBe(2);
    const suite = await run(["build", "--suite", "--count", "3", "--out", "x"]);
    expect(suite.code).toBe(2);
    expect(suite.err).toMatch(/--suite fixes/);
  });
});
