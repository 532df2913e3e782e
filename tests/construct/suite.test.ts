// The shipped suite in environments/: complete coverage, every environment re-validated, and reproducible.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { attempt, buildWrite, PROCEDURAL, suiteRequests, validateEnvironment, writeSuiteRequests } from "../../src/construct/index.ts";
import { loadEnvironments } from "../../src/load/index.ts";
import { SCENARIOS, STRATEGIES } from "../../src/schema/index.ts";

const DIR = resolve(import.meta.dirname, "../../environments");

describe("shipped suite", async () => {
  const report = await loadEnvironments(SCENARIOS.map((s) => join(DIR, s)));

  it("loads without problems and covers every scenario at every level across the domains", () => {
    expect(report.problems).toEqual([]);
    const envs = report.environments.map((e) => e.env);
    expect(envs.length).toBeGreaterThanOrEqual(240);
    for (const scenario of SCENARIOS) {
      for (const level of [0, 1, 2, 3]) {
        const cell = envs.filter((e) => e.scenario === scenario && STRATEGIES.every((s) => e.complexity[s] === level));
        expect(cell.length, `${scenario} level ${level}`).toBeGreaterThanOrEqual(15);
      }
    }
    expect(new Set(envs.map((e) => e.domain)).size).toBeGreaterThanOrEqual(10);
    const questions = envs.flatMap((e) => e.tasks.map((t) => t.question));
    expect(new Set(questions).size).toBe(questions.length);
    for (const { file, env } of report.environments) expect(file).toBe(join(DIR, env.scenario, `${env.id}.json`));
  });

  // Some 290 gates, each replayed, probed for leaks and with long adversarial strings, the write environments'
  // with near-miss replays: minutes on a busy machine.
  it("passes the validation gate, every environment", { timeout: 600_000 }, async () => {
    const problems = [];
    for (const { file, env } of report.environments) problems.push(...(await validateEnvironment(env, file)));
    expect(problems).toEqual([]);
  });

  it("is reproduced byte for byte from the suite plan (a sample)", async () => {
    const requests = suiteRequests();
    const writes = writeSuiteRequests();
    expect(requests.length + writes.length).toBe(report.environments.length);
    // Write environments: the id is stable across retries, so a rebuild of the request must give the shipped bytes.
    for (const request of writes.filter((_, i) => i % 11 === 0)) {
      const built = await buildWrite(request);
      const shipped = report.environments.find((e) => e.env.id === built.env.id);
      expect(shipped, built.env.id).toBeDefined();
      expect(built.text === readFileSync(shipped!.file, "utf8"), `${built.env.id} differs from a rebuild; run npm run build:envs`).toBe(true);
    }
    for (const request of requests.filter((_, i) => i % 37 === 0)) {
      const shipped = report.environments.find((e) => e.env.id === request.id);
      expect(shipped, request.id).toBeDefined();
      // Rejected candidates were retried with derived seeds; the file records the seed that was kept.
      const c = await attempt({ ...request, seed: Number(shipped!.env.provenance.seed) }, PROCEDURAL, true);
      // Compared as a flag: a diff of two 30 kB files would bury the failing id.
      expect(c.text === readFileSync(shipped!.file, "utf8"), `${request.id} differs from a rebuild; run npm run build:envs`).toBe(true);
    }
  });
});
