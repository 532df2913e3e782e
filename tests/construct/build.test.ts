// Whole builds: determinism, unique questions, the summary, and a property test over random requests.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { buildEnvironments, buildRequests, planRequest, validateEnvironment, writeEnvironments } from "../../src/construct/index.ts";
import { Environment, DOMAINS, SCENARIOS, STRATEGIES, type Complexity } from "../../src/schema/index.ts";

const TEMP = mkdtempSync(join(tmpdir(), "envforge-build-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

const filesBelow = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesBelow(join(dir, e.name)) : [join(dir, e.name)])).sort();

describe("build", () => {
  it("gives byte-identical files for the same seed, in one thread or in workers, and different ones for another", async () => {
    const a = await buildEnvironments({ count: 8, seed: 5 });
    const b = await buildEnvironments({ count: 8, seed: 5, jobs: 2 });
    const c = await buildEnvironments({ count: 8, seed: 6 });
    await writeEnvironments(join(TEMP, "a"), a.environments);
    await writeEnvironments(join(TEMP, "b"), b.environments);
    const fa = filesBelow(join(TEMP, "a"));
    expect(fa.map((f) => f.slice(join(TEMP, "a").length))).toEqual(filesBelow(join(TEMP, "b")).map((f) => f.slice(join(TEMP, "b").length)));
    for (const f of fa) expect(readFileSync(f, "utf8")).toBe(readFileSync(f.replace(join(TEMP, "a"), join(TEMP, "b")), "utf8"));
    expect(fa).toHaveLength(8);
    expect(readFileSync(fa[0]!, "utf8")).toMatch(/^\{\n {2}"\$schema": "\.\.\/schema\.json",[\s\S]*\}\n$/);
    const texts = (r: typeof a) => r.environments.map((e) => e.text);
    for (const t of texts(c)) expect(texts(a)).not.toContain(t);
  });

  it("never repeats a question text, and accounts for every candidate", async () => {
    const { environments, summary } = await buildEnvironments({ count: 48, seed: 11 });
    const questions = environments.flatMap((e) => e.env.tasks.map((t) => t.question));
    expect(new Set(questions).size).toBe(questions.length);
    expect(summary.built).toBe(48);
    expect(summary.tasks).toBe(questions.length);
    expect(summary.candidates).toBe(48 + Object.values(summary.rejected).reduce((n, k) => n + k, 0));
    expect(Object.values(summary.by_scenario).reduce((n, k) => n + k, 0)).toBe(48);
    expect(Object.keys(summary.by_scenario).sort()).toEqual([...SCENARIOS].sort());
    expect(Object.keys(summary.by_complexity)).toHaveLength(4);
    expect(summary.tools_per_environment.min).toBeLessThanOrEqual(summary.tools_per_environment.mean);
    expect(summary.tools_per_environment.mean).toBeLessThanOrEqual(summary.tools_per_environment.max);
  });

  it("rejects a duplicate question and builds another candidate", async () => {
    const request = planRequest({ count: 1, seed: 3, scenario: "single-hop" }, 0);
    const { environments, summary } = await buildRequests([request, { ...request, id: `${request.id}-again` }]);
    expect(summary.rejected["duplicate-question"]).toBe(1);
    expect(environments[1]!.env.provenance.seed).not.toBe(request.seed);
  });

  it("cleans only its own stale files", async () => {
    const dir = join(TEMP, "clean");
    const first = await buildEnvironments({ count: 4, seed: 21 });
    await writeEnvironments(dir, first.environments);
    const handWritten = join(dir, "single-hop", "hand-written.json");
    mkdirSync(join(dir, "single-hop"), { recursive: true });
    writeFileSync(handWritten, JSON.stringify({ provenance: { generator: "hand-written" } }));
    const second = await buildEnvironments({ count: 4, seed: 22 });
    const report = await writeEnvironments(dir, second.environments, true);
    expect(report.removed.sort()).toEqual(first.environments.map((e) => join(dir, e.env.scenario, `${e.env.id}.json`)).sort());
    expect(filesBelow(dir)).toContain(handWritten);
    expect(filesBelow(dir)).toHaveLength(5);
  });

  it("property: any seed, scenario, levels and domain give an environment that passes the gate", async () => {
    const level = fc.integer({ min: 0, max: 3 });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(...SCENARIOS), fc.tuple(level, level, level, level), fc.constantFrom(...DOMAINS), async (seed, scenario, levels, domain) => {
        const complexity = Object.fromEntries(STRATEGIES.map((s, i) => [s, levels[i]])) as Complexity;
        const { environments } = await buildRequests([planRequest({ count: 1, seed, scenario, complexity, domain }, 0)]);
        const env = Environment.parse(environments[0]!.env);
        expect(env.scenario).toBe(scenario);
        expect(env.complexity).toEqual(complexity);
        expect(env.domain).toBe(domain);
        expect(await validateEnvironment(env)).toEqual([]);
      }),
      { numRuns: 12 },
    );
  });
});
