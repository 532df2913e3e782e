// Write tasks: every family's gold plan reaches its final state, every near miss misses it, and the gate holds both.
import { describe, expect, it } from "vitest";
import { finalStateOf, gate, generateWrites, kindsOf, nearMisses, withFinalStates, WRITE_DOMAINS, writeSuiteRequests, type WriteRequest } from "../../src/construct/index.ts";
import { compileEnvironment } from "../../src/runtime/index.ts";
import { EpisodeTracker, scoreState } from "../../src/score/index.ts";
import { Environment, SCENARIOS, type Task } from "../../src/schema/index.ts";

/** Environments until every domain x scenario x kind family has a task (kinds are drawn, so some need more than one). */
async function everyFamily(): Promise<Environment[]> {
  const out: Environment[] = [];
  for (const domain of WRITE_DOMAINS) {
    for (const scenario of SCENARIOS) {
      const missing = new Set(kindsOf(domain, scenario));
      for (let index = 0; missing.size > 0 && index < 8; index++) {
        const request: WriteRequest = { domain, scenario, index, seed: 1000 + index };
        const env = await withFinalStates(generateWrites(request));
        if (!env.tasks.some((t) => missing.has(t.id.replace(/^t\d+-/, "") as never))) continue;
        for (const t of env.tasks) missing.delete(t.id.replace(/^t\d+-/, "") as never);
        out.push(env);
      }
      expect([...missing], `${domain}/${scenario}`).toEqual([]);
    }
  }
  return out;
}

const ftrlRate = async (env: Environment, task: Task, plan: { tool: string; arguments: Record<string, unknown> }[]) => {
  const compiled = await compileEnvironment(env);
  const episode = compiled.openEpisode({});
  const tracker = new EpisodeTracker(task.unsolved_set, "ftrl");
  try {
    for (const s of plan) {
      const r = await episode.call(s.tool, s.arguments);
      tracker.record({ name: s.tool, arguments: s.arguments, output: r.ok ? r.text : r.error, is_error: !r.ok });
    }
  } finally {
    episode.close();
  }
  return tracker.metrics();
};

describe("write tasks", async () => {
  const envs = await everyFamily();

  it("are format @2 files the schema accepts, with a final state on every task, in four domains", () => {
    expect(new Set(envs.map((e) => e.domain))).toEqual(new Set(WRITE_DOMAINS));
    expect(new Set(envs.map((e) => e.scenario))).toEqual(new Set(SCENARIOS));
    for (const env of envs) {
      expect(Environment.safeParse(JSON.parse(JSON.stringify(env))).success, env.id).toBe(true);
      for (const t of env.tasks) expect(t.final_state?.changes.length, `${env.id}/${t.id}`).toBeGreaterThan(0);
    }
    // Multi-hop tasks look something up before they change it; parallel ones change several things at once.
    const multi = envs.filter((e) => e.scenario.endsWith("multi-hop")).flatMap((e) => e.tasks);
    expect(multi.every((t) => t.gold_plan.some((s) => s.depends_on.length > 0))).toBe(true);
    const parallel = envs.filter((e) => e.scenario.startsWith("parallel")).flatMap((e) => e.tasks);
    expect(parallel.every((t) => t.gold_plan.filter((s) => s.depends_on.length === 0).length >= 2)).toBe(true);
  });

  it("gold plans score state_match 1 and FTRL solve_rate 1; every near miss scores less on state", async () => {
    const kinds = new Set<string>();
    for (const env of envs) {
      const compiled = await compileEnvironment(env);
      for (const task of env.tasks) {
        const where = `${env.id}/${task.id}`;
        const gold = scoreState(env.initial_state, await finalStateOf(compiled, task.gold_plan), task.final_state!);
        expect(gold, where).toMatchObject({ state_match: 1, changes_made: 1, unexpected_changes: 0 });
        expect((await ftrlRate(env, task, task.gold_plan)).solve_rate, where).toBe(1);
        const misses = nearMisses(env, task);
        expect(misses.length, where).toBeGreaterThan(0);
        for (const miss of misses) {
          kinds.add(miss.kind);
          const s = scoreState(env.initial_state, await finalStateOf(compiled, miss.plan), task.final_state!);
          expect(s.state_match, `${where} ${miss.kind} ${miss.step}`).toBe(0);
          expect(s.changes_made < 1 || s.unexpected_changes > 0, `${where} ${miss.kind} ${miss.step}`).toBe(true);
        }
      }
    }
    expect([...kinds].sort()).toEqual(["duplicate", "skipped", "wrong-item"]);
  });

  it("a duplicate booking keeps the FTRL solve rate at 1; only the state check tells it apart", async () => {
    const env = envs.find((e) => e.tasks.some((t) => nearMisses(e, t).some((m) => m.kind === "duplicate")))!;
    const task = env.tasks.find((t) => nearMisses(env, t).some((m) => m.kind === "duplicate"))!;
    const miss = nearMisses(env, task).find((m) => m.kind === "duplicate")!;
    expect((await ftrlRate(env, task, miss.plan)).solve_rate).toBe(1);
    const compiled = await compileEnvironment(env);
    expect(scoreState(env.initial_state, await finalStateOf(compiled, miss.plan), task.final_state!).state_match).toBe(0);
  });

  it("the gate passes a generated environment, and fails one whose expected state or near misses are wrong", async () => {
    const env = envs[0]!;
    const ok = await gate(env);
    expect(ok.issues).toEqual([]);
    expect(ok.near_misses).toBeGreaterThan(0);

    const tampered = structuredClone(env);
    tampered.tasks[0]!.final_state!.changes.pop();
    const bad = await gate(tampered);
    expect(bad.issues.some((i) => i.check === "state" && /gold plan does not reach/.test(i.message))).toBe(true);

    // Declared non-idempotent, a cancel's repeat is a near miss; but a repeated cancel changes nothing, so it cannot fail.
    const cancels = envs.find((e) => e.tasks.some((t) => t.gold_plan.some((s) => /^cancel_/.test(s.tool))))!;
    const loose = structuredClone(cancels);
    for (const t of loose.tools) if (/^cancel_/.test(t.name)) t.annotations!.idempotentHint = false;
    const r = await gate(loose);
    expect(r.issues.some((i) => i.check === "state" && /"duplicate" .* still matches/.test(i.message))).toBe(true);
  });

  it("are deterministic: the same request gives the same bytes", async () => {
    const [request] = writeSuiteRequests();
    const a = JSON.stringify(await withFinalStates(generateWrites(request!)));
    const b = JSON.stringify(await withFinalStates(generateWrites(request!)));
    expect(a).toBe(b);
  });
});
