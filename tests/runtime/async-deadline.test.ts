// Async tool code that runs past the deadline after an await: a timeout, rolled back, and rejected by the gate.
import { describe, expect, it } from "vitest";
import { compileEnvironment } from "../../src/runtime/index.ts";
import { gate, uniformComplexity } from "../../src/construct/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { makeEnv } from "./helpers.ts";

describe("async code past the deadline", () => {
  it("is a timeout that leaves the state as it was, whether or not the code catches the interrupt", async () => {
    const env = makeEnv(
      {
        get: { source: "function get(args, state) { return { x: state.x ?? null, n: state.n }; }" },
        spinAfterAwait: { source: "async function spinAfterAwait(a, s) { s.x = 1; await null; while (true) {} }" },
        catchAfterAwait: { source: "async function catchAfterAwait(a, s) { s.x = 2; await null; try { while (true) {} } catch (e) { return 'caught ' + e; } }" },
        bump: { source: "async function bump(a, s) { await null; s.n += 1; return s.n; }" },
      },
      { state: { n: 0 } },
    );
    const compiled = await compileEnvironment(env, { timeoutMs: 200 });
    const episode = compiled.openEpisode();
    expect(await episode.call("bump", {})).toMatchObject({ ok: true, value: 1 });
    for (const tool of ["spinAfterAwait", "catchAfterAwait"]) {
      const result = await episode.call(tool, {});
      expect(result).toMatchObject({ ok: false, kind: "timeout" });
      expect(!result.ok && result.error).toMatch(/ran longer than 200 ms and was stopped; it had no effect on the episode's state/);
      expect(await episode.call("get", {})).toMatchObject({ ok: true, value: { x: null, n: 1 } });
    }
    episode.close();
  });

  it("is rejected by the gate when a probe reaches it", async () => {
    const env = Environment.parse({
      format: "envforge/environment@1",
      id: "async-spin",
      title: "async spin",
      domain: "test",
      scenario: "single-hop",
      complexity: uniformComplexity(0),
      provenance: { generator: "test", version: "1", seed: 0 },
      tools: [{ name: "get_code", description: "Code by name.", input_schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false } }],
      implementation: {
        language: "javascript",
        // A name it does not know makes it spin after an await: only the gate's probes find that.
        tools: { get_code: "async function get_code(args, state) { const p = state.people.find((r) => r.name === args.name); if (!p) { await null; while (true) {} } return { name: p.name, code: p.code }; }" },
      },
      initial_state: { people: [{ name: "Ardent Vale", code: "Q-1138" }] },
      tasks: [
        {
          id: "code",
          question: "What is the code of Ardent Vale?",
          unsolved_set: { get_code: ["Q-1138"] },
          answer: "Q-1138",
          gold_plan: [{ id: "s1", tool: "get_code", arguments: { name: "Ardent Vale" }, yields: "Q-1138" }],
        },
      ],
    });
    const report = await gate(env, { timeoutMs: 100 });
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => i.check)).toContain("runtime");
    expect(report.issues.find((i) => i.check === "runtime")!.message).toMatch(/time/);
  });
});
