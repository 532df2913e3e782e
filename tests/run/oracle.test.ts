// The oracle scores a perfect reward on every environment (an end-to-end check of serve, record and score); random scores lower and replays per seed.
import { afterAll, describe, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { oracleFactory, randomFactory, type RunSummary } from "../../src/run/index.ts";
import { ASSISTANT_META_KEY, RUN_META_KEY, type Environment } from "../../src/schema/index.ts";
import { environmentsIn, EXAMPLES, runInMemory, SHIPPED, tempDir } from "./helpers.ts";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const meanF1 = (s: RunSummary): number => s.results.reduce((a, r) => a + (r.score?.ftrl.solve_f1 ?? 0), 0) / s.results.length;

function expectPerfect(summary: RunSummary, environments: readonly Environment[]): void {
  const tasks = environments.reduce((n, e) => n + e.tasks.length, 0);
  expect(summary.tasks).toBe(tasks);
  expect(summary.failed).toBe(0);
  for (const r of summary.results) {
    expect(r.status, r.episodeId).toBe("done");
    expect(r.score?.ftrl, r.episodeId).toMatchObject({ solve_precision: 1, solve_rate: 1, solve_f1: 1, answer_correct: true });
  }
}

describe("oracle", () => {
  it("scores exactly 1 on every example environment, and the record holds every turn", async () => {
    const environments = await environmentsIn(EXAMPLES);
    const db = `${tmp.dir}/examples.db`;
    const summary = await runInMemory(db, { environments, policy: oracleFactory(), n: 2, concurrency: 3 });
    expectPerfect(summary, environments);
    expect(summary.rollouts).toBe(summary.tasks * 2);
    const records = Records.open(db);
    try {
      for (const r of summary.results) {
        const detail = records.getEpisodeDetail(r.episodeId)!;
        expect(detail.episode).toMatchObject({ status: "submitted", transport: "memory", envId: r.env, taskId: r.task, clientName: "envforge-run" });
        expect(detail.episode.score?.ftrl.solve_f1).toBe(1);
        const task = environments.find((e) => e.id === r.env)!.tasks.find((t) => t.id === r.task)!;
        expect(detail.calls.map((c) => c.tool)).toEqual(task.gold_plan.map((s) => s.tool));
        for (const call of detail.calls) {
          const meta = (call.assistantMeta as Record<string, { turn: number; tool_call_id: string; message: { tool_calls: { id: string }[] } }>)[ASSISTANT_META_KEY]!;
          expect(meta.message.tool_calls.map((tc) => tc.id)).toContain(meta.tool_call_id);
        }
        const final = detail.episode.finalMeta as Record<string, unknown>;
        expect(final[RUN_META_KEY]).toMatchObject({ agent: "oracle", end: "answer", env: r.env, task: r.task, k: r.k, attempt: 1 });
        expect(detail.episode.finalAnswer).toBe(task.answer);
      }
    } finally {
      records.close();
    }
  });

  it("skips rollouts already complete when run again", async () => {
    const environments = await environmentsIn(EXAMPLES);
    const db = `${tmp.dir}/resume.db`;
    const first = await runInMemory(db, { environments, policy: oracleFactory(), n: 1, limit: 1 });
    expect(first.done).toBe(1);
    const again = await runInMemory(db, { environments, policy: oracleFactory(), n: 2 });
    expect(again.skipped).toBe(1);
    expect(again.done).toBe(again.rollouts - 1);
    const records = Records.open(db);
    try {
      expect(records.counts().episodes).toBe(again.rollouts);
    } finally {
      records.close();
    }
  });

  it("scores exactly 1 on every shipped environment", async () => {
    const environments = await environmentsIn(SHIPPED);
    const summary = await runInMemory(`${tmp.dir}/shipped.db`, { environments, policy: oracleFactory(), concurrency: 4 });
    expectPerfect(summary, environments);
  }, 600_000);
});

describe("random", () => {
  it("scores lower than the oracle on average and replays the same rollouts for the same seed", async () => {
    const environments = await environmentsIn(EXAMPLES);
    const a = await runInMemory(`${tmp.dir}/random-a.db`, { environments, policy: randomFactory(7), n: 4 });
    const b = await runInMemory(`${tmp.dir}/random-b.db`, { environments, policy: randomFactory(7), n: 4 });
    const c = await runInMemory(`${tmp.dir}/random-c.db`, { environments, policy: randomFactory(8), n: 4 });
    expect(a.failed).toBe(0);
    expect(meanF1(a)).toBeLessThan(1);
    const calls = (db: string) => {
      const records = Records.open(db);
      try {
        return a.results.map((r) => records.listCalls(r.episodeId).map((c) => [c.tool, c.arguments, c.output]));
      } finally {
        records.close();
      }
    };
    expect(calls(`${tmp.dir}/random-b.db`)).toEqual(calls(`${tmp.dir}/random-a.db`));
    expect(calls(`${tmp.dir}/random-c.db`)).not.toEqual(calls(`${tmp.dir}/random-a.db`));
    expect(b.results.map((r) => r.score)).toEqual(a.results.map((r) => r.score));
    expect(c.results.length).toBe(a.results.length);
  });
});
