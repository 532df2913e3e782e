// FTRL tau-bench import on a small fixture in the same layout (own tools and records): gold actions replayed score 1 on outputs and state; a wrong action fails the state check.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { finalStateMatches } from "../../src/construct/index.ts";
import { parseEnvironmentText } from "../../src/load/index.ts";
import { compileEnvironment, type PythonEpisode } from "../../src/runtime/index.ts";
import { EpisodeTracker, finalAnswerFound } from "../../src/score/index.ts";
import type { Environment } from "../../src/schema/index.ts";
import { memoryIo } from "../helpers/io.ts";
import { tempDir } from "../run/helpers.ts";
import { runNode } from "../helpers/spawn.ts";

const FIXTURE = join(import.meta.dirname, "../fixtures/taubench");
const tmp = tempDir("envforge-taubench-");
afterAll(() => tmp.cleanup());

let imported: Environment | undefined;
async function importFixture(): Promise<{ env: Environment; code: number; out: string; err: string }> {
  const m = memoryIo({ cwd: tmp.dir });
  const code = await main(["import", "--from", "ftrl-taubench", FIXTURE, "--out", "envs"], m.io);
  const parsed = parseEnvironmentText(readFileSync(join(tmp.dir, "envs/taubench-shop.json"), "utf8"));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  imported = parsed.env;
  return { env: parsed.env, code, out: m.out(), err: m.err() };
}

async function replay(env: Environment, steps: { tool: string; arguments: Record<string, unknown> }[]): Promise<{ outputs: string[]; state: unknown }> {
  const episode = (await compileEnvironment(env)).openEpisode() as PythonEpisode;
  const outputs: string[] = [];
  for (const s of steps) {
    const r = await episode.call(s.tool, s.arguments);
    if (!r.ok) throw new Error(r.error);
    outputs.push(r.text);
  }
  const state = await episode.state();
  episode.close();
  return { outputs, state };
}

describe("envforge import --from ftrl-taubench", { timeout: 120_000 }, () => {
  it("writes one valid Python environment per domain, skipping tasks without gold actions by name", async () => {
    const { env, code, out, err } = await importFixture();
    expect(code).toBe(0);
    expect(out).toMatch(/wrote .*taubench-shop\.json \(2 tasks, 3 tools\)/);
    expect(err).toContain("skipped task shop/tasks_test-2: no gold actions");
    expect(env.implementation.language).toBe("python");
    expect(Object.keys(env.initial_state).sort()).toEqual(["orders", "users"]);
    expect(env.tasks.map((t) => [t.id, t.answer])).toEqual([
      ["tasks_test-0", env.tasks[0]!.gold_plan[2]!.yields],
      ["tasks_test-1", "delivered"],
    ]);
    expect(env.tasks[0]!.unsolved_set.cancel_pending_order![0]).toContain('"status": "cancelled"');
  });

  it("scores the gold actions 1 on every sub-answer, the reply and the final database", async () => {
    const env = imported ?? (await importFixture()).env;
    for (const task of env.tasks) {
      const { outputs, state } = await replay(env, task.gold_plan);
      const tracker = new EpisodeTracker(task.unsolved_set, "ftrl");
      task.gold_plan.forEach((s, i) => tracker.record({ name: s.tool, arguments: s.arguments, output: outputs[i]! }));
      expect(tracker.pendingCount, task.id).toBe(0);
      expect(finalAnswerFound(`Done: ${task.answer}.`, task.answer, "ftrl")).toBe(true);
      expect(finalStateMatches(env, task.id, state), task.id).toBe(true);
    }
  });

  it("fails the state check after a wrong action, and after none", async () => {
    const env = imported ?? (await importFixture()).env;
    const task = env.tasks[0]!;
    const wrongOrder = task.gold_plan.map((s) => (s.tool === "cancel_pending_order" ? { ...s, arguments: { order_id: "#W102", reason: "ordered by mistake" } } : s));
    expect(finalStateMatches(env, task.id, (await replay(env, wrongOrder)).state)).toBe(false);
    const wrongReason = task.gold_plan.map((s) => (s.tool === "cancel_pending_order" ? { ...s, arguments: { order_id: "#W100", reason: "no longer needed" } } : s));
    expect(finalStateMatches(env, task.id, (await replay(env, wrongReason)).state)).toBe(false);
    expect(finalStateMatches(env, task.id, env.initial_state)).toBe(false);
  });

  it("runs from the compiled CLI, whose Python worker boots from dist/, and exits when done", async () => {
    await importFixture();
    // An idle interpreter once kept the process alive after the files were written: this would never close.
    const r = await runNode(join(import.meta.dirname, "../../bin/envforge.js"), ["import", "--from", "ftrl-taubench", FIXTURE, "--out", "cli-envs"], { cwd: tmp.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote ");
    expect(readFileSync(join(tmp.dir, "cli-envs/taubench-shop.json"), "utf8")).toBe(readFileSync(join(tmp.dir, "envs/taubench-shop.json"), "utf8"));
  });

  it("reports a folder that holds no domain, and an unknown source", async () => {
    const m = memoryIo({ cwd: tmp.dir });
    expect(await main(["import", "--from", "ftrl-taubench", tmp.dir, "--out", "x"], m.io)).toBe(1);
    expect(m.err()).toMatch(/no domain folder/);
    const u = memoryIo({ cwd: tmp.dir });
    expect(await main(["import", "--from", "nope", FIXTURE, "--out", "x"], u.io)).toBe(2);
    expect(u.err()).toMatch(/--from is one of ftrl-taubench/);
  });
});
