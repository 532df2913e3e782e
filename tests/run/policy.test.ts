// Policies on their own: the oracle's parallel waves and output-derived arguments, the random policy's determinism.
import { describe, expect, it } from "vitest";
import { OraclePolicy, RandomPolicy, type AssistantTurn } from "../../src/run/policy.ts";
import type { ChatMessage, ChatTool, Task } from "../../src/schema/index.ts";

const task: Task = {
  id: "t",
  question: "Which was born earlier, the director of Crimson Harbor or the director of Salt Meridian?",
  unsolved_set: { get_film: ["Elena Vastrova", "Tomas Okonkwo-Reyes"], get_person: ["1961", "1958"] },
  answer: "Tomas Okonkwo-Reyes",
  gold_plan: [
    { id: "a1", tool: "get_film", arguments: { title: "Crimson Harbor" }, depends_on: [], yields: "Elena Vastrova" },
    { id: "b1", tool: "get_film", arguments: { title: "Salt Meridian" }, depends_on: [], yields: "Tomas Okonkwo-Reyes" },
    { id: "a2", tool: "get_person", arguments: { name: "Elena Vastrova", fields: ["born"] }, depends_on: ["a1"], yields: "1961" },
    { id: "b2", tool: "get_person", arguments: { name: "Tomas Okonkwo-Reyes", fields: ["born"] }, depends_on: ["b1"], yields: "1958" },
  ],
};

/** Plays the policy's calls with `answer(name, args)` as the environment, and returns every turn. */
async function play(policy: OraclePolicy | RandomPolicy, answer: (name: string, args: Record<string, unknown>) => string, tools: ChatTool[] = []): Promise<AssistantTurn[]> {
  const messages: ChatMessage[] = [{ role: "user", content: task.question }];
  const turns: AssistantTurn[] = [];
  for (let turn = 0; turn < 10; turn++) {
    const next = await policy.next({ tools, messages, turn });
    turns.push(next);
    const calls = next.message.tool_calls ?? [];
    if (calls.length === 0) break;
    messages.push(next.message);
    for (const tc of calls) messages.push({ role: "tool", tool_call_id: tc.id, content: answer(tc.function.name, JSON.parse(tc.function.arguments)) });
  }
  return turns;
}

const args = (t: AssistantTurn) => (t.message.tool_calls ?? []).map((tc) => [tc.function.name, JSON.parse(tc.function.arguments)]);

describe("OraclePolicy", () => {
  it("calls independent steps together, takes dependent arguments from the outputs, then answers", async () => {
    const directors: Record<string, string> = { "Crimson Harbor": "ELENA VASTROVA", "Salt Meridian": "Tomas Okonkwo-Reyes" };
    const turns = await play(new OraclePolicy(task), (name, a) => (name === "get_film" ? JSON.stringify({ director: directors[a.title as string], year: 1994 }) : JSON.stringify({ born: 1900 })));
    expect(turns).toHaveLength(3);
    expect(args(turns[0]!)).toEqual([["get_film", { title: "Crimson Harbor" }], ["get_film", { title: "Salt Meridian" }]]);
    // The name is spelled as the tool returned it; the constant list argument is the plan's.
    expect(args(turns[1]!)).toEqual([["get_person", { name: "ELENA VASTROVA", fields: ["born"] }], ["get_person", { name: "Tomas Okonkwo-Reyes", fields: ["born"] }]]);
    expect(turns[2]!.message).toEqual({ role: "assistant", content: "Tomas Okonkwo-Reyes" });
  });

  it("finds a value inside free text, and keeps the plan's value when no output has it", async () => {
    const turns = await play(new OraclePolicy(task), (name, a) => (name === "get_film" && a.title === "Crimson Harbor" ? "Directed by elena vastrova in 1994." : "nothing useful"));
    expect(args(turns[1]!)).toEqual([["get_person", { name: "elena vastrova", fields: ["born"] }], ["get_person", { name: "Tomas Okonkwo-Reyes", fields: ["born"] }]]);
  });
});

describe("RandomPolicy", () => {
  const tools: ChatTool[] = [
    { type: "function", function: { name: "get_film", description: "", parameters: { type: "object", properties: { title: { type: "string" } }, required: ["title"] } } },
    { type: "function", function: { name: "get_person", description: "", parameters: { type: "object", properties: { name: { type: "string" }, year: { type: "integer", minimum: 1900, maximum: 2000 } }, required: ["name"] } } },
  ];

  it("replays the same turns for the same seed and episode, and others for another", async () => {
    const run = (seed: number, id: string) => play(new RandomPolicy(seed, id), () => "{}", tools);
    const a = await run(1, "e:t:random:0");
    expect(await run(1, "e:t:random:0")).toEqual(a);
    expect(JSON.stringify(await run(1, "e:t:random:1")) + JSON.stringify(await run(2, "e:t:random:0"))).not.toBe(JSON.stringify(a) + JSON.stringify(a));
  });

  it("calls only listed tools, then answers within four turns", async () => {
    for (let k = 0; k < 20; k++) {
      const turns = await play(new RandomPolicy(5, `e:t:random:${k}`), () => "{}", tools);
      expect(turns.length).toBeGreaterThanOrEqual(2);
      expect(turns.length).toBeLessThanOrEqual(4);
      for (const t of turns.slice(0, -1)) for (const [name] of args(t)) expect(["get_film", "get_person"]).toContain(name);
      const last = turns.at(-1)!.message;
      expect(last.tool_calls).toBeUndefined();
      expect(typeof last.content).toBe("string");
    }
  });
});
