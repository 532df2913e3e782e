// The LLM policy against a real local chat-completions server: scripted turns, recorded transcripts and rewards.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { hermesSystemPrompt, llmFactory, type ChatEndpoint, type RunSummary } from "../../src/run/index.ts";
import { parseOpenAIMessage, scoreStep } from "../../src/score/index.ts";
import { ASSISTANT_META_KEY, RUN_META_KEY, type AssistantTurnMeta, type ChatTool } from "../../src/schema/index.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "./helpers.ts";
import { startFakeOpenAI, type ChatRequest, type FakeOpenAI, type ScriptedReply } from "./openai-server.ts";
import { nativeBirthYear, Q_BIRTH_YEAR, Q_BIRTHPLACE, RAW_TURNS, rawBirthYear, turnOf } from "./scripted.ts";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ENV = "example-films-director-birth";
let dbCount = 0;

async function play(script: (req: ChatRequest, index: number) => ScriptedReply, task: string, endpoint: Partial<ChatEndpoint> = {}, extra: { raw?: boolean; maxTurns?: number } = {}) {
  server = await startFakeOpenAI(script);
  const db = `${tmp.dir}/llm-${dbCount++}.db`;
  const environments = await environmentsIn(EXAMPLES);
  const summary: RunSummary = await runInMemory(db, {
    environments,
    policy: llmFactory({ baseUrl: server.baseUrl, model: "scripted-model", backoffMs: 1, ...endpoint }, extra.raw ? "raw" : "native"),
    envIds: [ENV],
    taskIds: [task],
    ...(extra.maxTurns !== undefined ? { maxTurns: extra.maxTurns } : {}),
  });
  const records = Records.open(db);
  const detail = records.getEpisodeDetail(summary.results[0]!.episodeId)!;
  records.close();
  return { summary, detail, requests: server.requests.map((r) => r.body), env: environments.find((e) => e.id === ENV)! };
}

const assistantMeta = (meta: unknown): AssistantTurnMeta => (meta as Record<string, AssistantTurnMeta>)[ASSISTANT_META_KEY]!;

describe("llm policy, native tool calling", () => {
  it("runs parallel calls, an unknown tool and arguments that are not an object through MCP, and records every turn", async () => {
    const { summary, detail, requests } = await play(nativeBirthYear, "director-birth-year");
    const result = summary.results[0]!;
    expect(result).toMatchObject({ status: "done", end: "answer", turns: 3, calls: 4, agent: "scripted-model", episodeId: `${ENV}:director-birth-year:scripted-model:0` });
    expect(result.score?.ftrl).toMatchObject({ calls: 4, solved: 2, needed: 2, solve_rate: 1, solve_precision: 0.5, answer_correct: true });
    expect(result.score?.ftrl.solve_f1).toBeCloseTo(2 / 3, 12);

    // What the server recorded: four calls, the unknown tool and the non-object arguments as errors that count (the reference's rule).
    expect(detail.calls.map((c) => [c.tool, c.isError, c.errorKind, c.solvedFtrl])).toEqual([
      ["get_film", false, null, "Elena Vastrova"],
      ["get_weather", true, "unknown_tool", null],
      ["get_person", true, "invalid_arguments", null],
      ["get_person", false, null, "1961"],
    ]);
    const metas = detail.calls.map((c) => assistantMeta(c.assistantMeta));
    expect(metas.map((m) => [m.turn, m.tool_call_id])).toEqual([[0, "call_a"], [0, "call_b"], [1, "call_c"], [1, "call_d"]]);
    expect(metas[3]!.message.content).toBe("Now the director.");
    expect(metas[3]!.message.tool_calls?.map((tc) => tc.function.arguments)).toEqual(['["Elena Vastrova"]', '{"name":"Elena Vastrova"}']);
    expect(detail.calls[2]!.output).toBe('an error occured when call get_person: the arguments are not a JSON object: ["Elena Vastrova"]');
    expect(detail.episode.finalAnswer).toBe("The director of Crimson Harbor was born in 1961.");
    const final = detail.episode.finalMeta as Record<string, unknown>;
    expect(assistantMeta(final)).toMatchObject({ turn: 2, message: { role: "assistant", content: "The director of Crimson Harbor was born in 1961." } });
    expect(final[RUN_META_KEY]).toMatchObject({ agent: "scripted-model", end: "answer", turns: 3 });

    // What the model saw: the tools (no submit_answer), then each tool result under its call id.
    expect(requests).toHaveLength(3);
    expect(requests[0]!.tools!.map((t) => t.function.name)).toEqual(["get_film", "get_person"]);
    expect(requests[0]!.messages).toEqual([{ role: "user", content: Q_BIRTH_YEAR }]);
    const second = requests[1]!.messages;
    expect(second.map((m) => [m.role, m.tool_call_id ?? null])).toEqual([["user", null], ["assistant", null], ["tool", "call_a"], ["tool", "call_b"]]);
    expect(second[2]!.content).toContain("Elena Vastrova");
    expect(second[3]!.content).toMatch(/^an error occured when call get_weather: /);
    const third = requests[2]!.messages;
    expect(third.slice(-2).map((m) => m.tool_call_id)).toEqual(["call_c", "call_d"]);
    expect(third.at(-2)!.content).toBe(detail.calls[2]!.output);
    expect(third.at(-1)!.content).toBe(detail.calls[3]!.output);

    // Per-step rewards recomputed from the record, in the states before each turn.
    // The broken call is not among the parsed calls of its turn, so its output is left out here.
    const outputs = (turn: number) => detail.calls.filter((c, i) => metas[i]!.turn === turn && c.errorKind !== "invalid_arguments").map((c) => c.output);
    const s0 = { unsolved_set: { get_film: ["Elena Vastrova"], get_person: ["1961"] }, solve_rate: 0, answer: "1961" };
    expect(scoreStep(s0, parseOpenAIMessage(metas[0]!.message), outputs(0)).rewards.f1).toBeCloseTo(2 / 3, 12);
    const s1 = { unsolved_set: { get_film: [], get_person: ["1961"] }, solve_rate: 0.5, answer: "1961" };
    expect(scoreStep(s1, parseOpenAIMessage(metas[3]!.message), outputs(1)).rewards.f1).toBe(1);
    const s2 = { unsolved_set: { get_film: [], get_person: [] }, solve_rate: 1, answer: "1961" };
    expect(scoreStep(s2, parseOpenAIMessage(assistantMeta(final).message), [])).toMatchObject({ rule: "final_answer", rewards: { f1: 1 } });
  });

  it("retries a 500, then records an empty reply as the final answer", async () => {
    const { summary, detail, requests } = await play((_, i) => (i === 0 ? { status: 500, error: "upstream overloaded" } : { content: "" }), "director-birthplace");
    expect(requests).toHaveLength(2);
    expect(requests[1]!.messages).toEqual([{ role: "user", content: Q_BIRTHPLACE }]);
    expect(summary.results[0]).toMatchObject({ status: "done", end: "answer", turns: 1, calls: 0 });
    expect(detail.episode).toMatchObject({ status: "submitted", finalAnswer: "" });
    expect(detail.episode.score?.ftrl).toMatchObject({ calls: 0, solved: 0, solve_precision: 1, solve_rate: 0, solve_f1: 0, answer_correct: false });
    const final = assistantMeta(detail.episode.finalMeta);
    expect(scoreStep({ unsolved_set: { get_film: ["Tomas Okonkwo-Reyes"], get_person: ["Port Calder"] }, solve_rate: 0, answer: "Port Calder" }, parseOpenAIMessage(final.message), [])).toMatchObject({ rule: "empty", rewards: { f1: -0.5 } });
  });

  it("drops calls the reference cannot parse (arguments that are not JSON, no name): not sent, not counted, not in the history", async () => {
    const { summary, detail, requests } = await play(
      (req) =>
        turnOf(req) === 0
          ? { content: "Looking.", tool_calls: [{ id: "x", name: "get_film", arguments: "{title: Crimson" }, { id: "g", name: "get_film", arguments: { title: "Crimson Harbor" } }, { id: "y", name: "", arguments: {} }] }
          : { content: "I could not find it." },
      "director-birth-year",
    );
    expect(summary.results[0]).toMatchObject({ status: "done", end: "answer", turns: 2, calls: 1 });
    expect(detail.calls.map((c) => [c.tool, c.errorKind, c.solvedFtrl])).toEqual([["get_film", null, "Elena Vastrova"]]);
    expect(detail.episode.score?.ftrl).toMatchObject({ calls: 1, solved: 1, solve_precision: 1 });
    const meta = assistantMeta(detail.calls[0]!.assistantMeta);
    expect(meta.message.tool_calls!.map((tc) => tc.id)).toEqual(["g"]);
    expect(meta.dropped!.map((tc) => [tc.id, tc.function.arguments])).toEqual([["x", "{title: Crimson"], ["y", "{}"]]);
    // The model's next request holds the good call and its result only.
    expect(requests[1]!.messages.slice(1).map((m) => [m.role, m.tool_call_id ?? null, (m.tool_calls ?? []).map((tc) => (tc as { id: string }).id)])).toEqual([
      ["assistant", null, ["g"]],
      ["tool", "g", []],
    ]);
  });

  it("makes a turn whose every call is dropped the final answer, with the calls as markup (-0.3)", async () => {
    const { summary, detail } = await play(() => ({ content: null, tool_calls: [{ id: "x", name: "get_film", arguments: "{title: Crimson" }] }), "director-birth-year");
    expect(summary.results[0]).toMatchObject({ status: "done", end: "answer", turns: 1, calls: 0 });
    expect(detail.calls).toEqual([]);
    expect(detail.episode.finalAnswer).toBe('<tool_call>\n{"name": "get_film", "arguments": {title: Crimson}\n</tool_call>');
    const final = assistantMeta(detail.episode.finalMeta);
    expect(final.message.tool_calls).toBeUndefined();
    expect(final.dropped!.map((tc) => tc.id)).toEqual(["x"]);
    const s0 = { unsolved_set: { get_film: ["Elena Vastrova"], get_person: ["1961"] }, solve_rate: 0, answer: "1961" };
    expect(scoreStep(s0, detail.episode.finalAnswer!, []).rewards.f1).toBe(-0.3);
  });

  it("stops at --max-turns and submits no answer", async () => {
    const { summary, detail } = await play(() => ({ tool_calls: [{ name: "get_film", arguments: { title: "Salt Meridian" } }] }), "director-birth-year", {}, { maxTurns: 3 });
    expect(summary.results[0]).toMatchObject({ status: "done", end: "max_turns", turns: 3, calls: 3 });
    expect(detail.episode).toMatchObject({ status: "submitted", finalAnswer: "" });
    expect(detail.episode.score?.ftrl).toMatchObject({ calls: 3, solved: 0, answer_correct: false });
    expect((detail.episode.finalMeta as Record<string, unknown>)[RUN_META_KEY]).toMatchObject({ end: "max_turns", turns: 3 });
  });

  it("records a rollout whose endpoint keeps failing as a failed episode, not a crash", async () => {
    const { summary, detail, requests } = await play(() => ({ status: 503, error: "down for maintenance" }), "director-birth-year", { retries: 2 });
    expect(requests).toHaveLength(3);
    expect(summary).toMatchObject({ done: 0, failed: 1 });
    expect(summary.results[0]!.error).toMatch(/HTTP 503.*down for maintenance.*gave up after 3 attempts/);
    expect(detail.episode.status).toBe("closed");
    expect((detail.episode.finalMeta as Record<string, unknown>)[RUN_META_KEY]).toMatchObject({ end: "error", attempt: 1, error: expect.stringMatching(/HTTP 503/) });
  });
});

describe("llm policy, raw Hermes/Qwen text", () => {
  it("puts the tools in the system prompt, feeds results back as <tool_response>, and parses <tool_call> blocks", async () => {
    const { summary, detail, requests, env } = await play(rawBirthYear, "director-birth-year", {}, { raw: true });
    expect(summary.results[0]!.score?.ftrl).toMatchObject({ solve_precision: 1, solve_rate: 1, solve_f1: 1, answer_correct: true });
    expect(requests.every((r) => r.tools === undefined)).toBe(true);
    const tools: ChatTool[] = env.tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } }));
    expect(requests[0]!.messages).toEqual([
      { role: "system", content: hermesSystemPrompt(tools) },
      { role: "user", content: Q_BIRTH_YEAR },
    ]);
    const second = requests[1]!.messages;
    expect(second[2]).toEqual({ role: "assistant", content: RAW_TURNS[0] });
    expect(second[3]).toEqual({ role: "user", content: `<tool_response>\n${detail.calls[0]!.output}\n</tool_response>` });
    expect(requests[2]!.messages[4]).toEqual({ role: "assistant", content: RAW_TURNS[1] });
    const metas = detail.calls.map((c) => assistantMeta(c.assistantMeta));
    expect(metas.map((m) => m.raw)).toEqual([RAW_TURNS[0], RAW_TURNS[1]]);
    expect(metas[0]!.message).toEqual({ role: "assistant", content: "I will look it up.", tool_calls: [{ id: "call_0_0", type: "function", function: { name: "get_film", arguments: '{"title":"Crimson Harbor"}' } }] });
    expect(detail.calls.map((c) => c.arguments)).toEqual([{ title: "Crimson Harbor" }, { name: "Elena Vastrova" }]);
    expect(assistantMeta(detail.episode.finalMeta).raw).toBe(RAW_TURNS[2]);
    // The recorded raw text gives the same per-step reward as the reference parser.
    const s0 = { unsolved_set: { get_film: ["Elena Vastrova"], get_person: ["1961"] }, solve_rate: 0, answer: "1961" };
    expect(scoreStep(s0, metas[0]!.raw!, [detail.calls[0]!.output]).rewards.f1).toBe(1);
  });

  it('keeps a call whose "arguments" is a JSON string of a non-object ("[1]") and lets it fail, not run with {}', async () => {
    const raw = '<tool_call>\n{"name": "get_film", "arguments": "[1]"}\n</tool_call>';
    const { summary, detail, requests } = await play((req) => ({ content: turnOf(req) === 0 ? raw : "I do not know." }), "director-birth-year", {}, { raw: true });
    expect(summary.results[0]).toMatchObject({ status: "done", end: "answer", turns: 2, calls: 1 });
    expect(detail.calls.map((c) => [c.tool, c.isError, c.errorKind, c.output])).toEqual([["get_film", true, "invalid_arguments", "an error occured when call get_film: the arguments are not a JSON object: [1]"]]);
    expect(assistantMeta(detail.calls[0]!.assistantMeta).message.tool_calls!.map((tc) => tc.function.arguments)).toEqual(["[1]"]);
    expect(requests[1]!.messages.at(-1)).toEqual({ role: "user", content: `<tool_response>\n${detail.calls[0]!.output}\n</tool_response>` });
    // The per-step reward counts it as the reference does: one call, nothing solved.
    const s0 = { unsolved_set: { get_film: ["Elena Vastrova"], get_person: ["1961"] }, solve_rate: 0, answer: "1961" };
    expect(scoreStep(s0, raw, [detail.calls[0]!.output])).toMatchObject({ calls: 1, solved: 0, rewards: { f1: 0 } });
  });
});
