// Response parsers: the reference's Hermes reading, Llama 3.1 tags, OpenAI tool_calls, round trips and garbage.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseOpenAIMessage, parseResponse, scoreStep } from "../../src/score/index.ts";
import { ParsedResponse, type ToolCall } from "../../src/schema/index.ts";

const hermes = (call: unknown): string => `<tool_call>\n${JSON.stringify(call)}\n</tool_call>`;

/** JSON values as they come back from JSON text (no -0, no undefined). */
const jsonArgs = fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })).map((a) => JSON.parse(JSON.stringify(a)) as ToolCall["arguments"]);
const toolCall: fc.Arbitrary<ToolCall> = fc.record({ name: fc.string({ unit: "binary", minLength: 1, maxLength: 20 }), arguments: jsonArgs });
const prefix = fc.string({ unit: "binary", maxLength: 30 }).filter((s) => !s.includes("<tool_call>") && !s.includes("<|python_tag|>"));

describe("parseResponse: Hermes / Qwen", () => {
  it("reads several blocks and keeps the text before them as content", () => {
    const raw = `I will call tools.\n${hermes({ name: "a", arguments: { q: "x" } })}${hermes({ name: "b", arguments: '{"n": 1}' })}<|im_end|>`;
    expect(parseResponse(raw)).toEqual({ content: "I will call tools.", tool_calls: [{ name: "a", arguments: { q: "x" } }, { name: "b", arguments: { n: 1 } }] });
  });

  it("drops unparsable blocks, and makes the whole text content when none parse", () => {
    const bad = '<tool_call>\n{"name": "a", "arguments": {oops}\n</tool_call>';
    expect(parseResponse(`${bad}${hermes({ name: "b", arguments: {} })}`).tool_calls).toEqual([{ name: "b", arguments: {} }]);
    expect(parseResponse(`Hi ${bad}  <|endoftext|>`)).toEqual({ content: `Hi ${bad}`, tool_calls: [] });
  });

  it("reads odd text the way the reference does", () => {
    // Text between blocks swallows the next block; an unclosed last block still counts.
    expect(parseResponse(`${hermes({ name: "a", arguments: {} })} and ${hermes({ name: "b", arguments: {} })}`).tool_calls.map((c) => c.name)).toEqual(["a"]);
    expect(parseResponse('<tool_call>\n{"name": "a", "arguments": {}}').tool_calls).toHaveLength(1);
    // A falsy name, missing arguments, or arguments that are neither object nor string drop the block.
    for (const call of [{ name: "", arguments: {} }, { name: "a" }, { name: "a", arguments: [1] }, { name: "a", arguments: null }]) {
      expect(parseResponse(hermes(call)).tool_calls).toEqual([]);
    }
    // Python's json accepts NaN; the call counts (its value becomes null).
    expect(parseResponse('<tool_call>\n{"name": "a", "arguments": {"x": NaN}}\n</tool_call>').tool_calls).toEqual([{ name: "a", arguments: { x: null } }]);
    // End tokens go in the reference's order: <|endoftext|> first, then <|im_end|>.
    expect(parseResponse("ok<|im_end|><|endoftext|>").content).toBe("ok");
    expect(parseResponse("ok<|endoftext|><|im_end|>").content).toBe("ok<|endoftext|>");
  });

  it("round-trips random calls rendered in Hermes format", () => {
    fc.assert(
      fc.property(prefix, fc.array(toolCall, { minLength: 1, maxLength: 4 }), fc.boolean(), (text, calls, stringArgs) => {
        const blocks = calls.map((c) => hermes(stringArgs ? { name: c.name, arguments: JSON.stringify(c.arguments) } : c));
        fc.pre(!blocks.some((b) => b.slice(0, -"</tool_call>".length).includes("</tool_call>")));
        const raw = `${text}${text.trim() ? "\n" : ""}${blocks.join("")}<|im_end|>`;
        const parsed = parseResponse(raw);
        expect(parsed.tool_calls).toEqual(calls);
        expect(parsed.content).toBe(parseResponse(text).content);
      }),
    );
  });
});

describe("parseResponse: Llama 3.1", () => {
  it("reads <|python_tag|> calls, several joined by ; or by tags", () => {
    const a = { name: "get_a", parameters: { q: "x; y" } };
    const b = { name: "get_b", parameters: '{"n": 2}' };
    expect(parseResponse(`Let me look.<|python_tag|>${JSON.stringify(a)}; ${JSON.stringify(b)}<|eom_id|>`)).toEqual({
      content: "Let me look.",
      tool_calls: [
        { name: "get_a", arguments: { q: "x; y" } },
        { name: "get_b", arguments: { n: 2 } },
      ],
    });
    expect(parseResponse(`<|python_tag|>${JSON.stringify(a)}<|python_tag|>${JSON.stringify(b)}`).tool_calls).toHaveLength(2);
    expect(parseResponse("<|python_tag|>not json")).toEqual({ content: "<|python_tag|>not json", tool_calls: [] });
  });

  it("round-trips random calls", () => {
    fc.assert(
      fc.property(prefix, fc.array(toolCall, { minLength: 1, maxLength: 4 }), (text, calls) => {
        const raw = `${text}<|python_tag|>${calls.map((c) => JSON.stringify({ name: c.name, parameters: c.arguments })).join("; ")}`;
        const parsed = parseResponse(raw);
        expect(parsed.tool_calls).toEqual(calls);
        expect(parsed.content).toBe(parseResponse(text).content);
      }),
    );
  });
});

describe("parseResponse on garbage", () => {
  const pieces = ["<tool_call>", "</tool_call>", "<|python_tag|>", "<think>", "</think>", "<|im_end|>", "{", "}", '"', ";", '"name"', ":", '"arguments"', "\n", " "];
  const garbage = fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ unit: "binary", maxLength: 6 })), { maxLength: 30 }).map((xs) => xs.join(""));

  it("never throws, and always gives a valid ParsedResponse that the step reward can score", () => {
    fc.assert(
      fc.property(garbage, fc.constantFrom("ftrl" as const, "strict" as const), (raw, mode) => {
        const parsed = parseResponse(raw);
        expect(ParsedResponse.safeParse(parsed).success).toBe(true);
        const s = scoreStep({ unsolved_set: { a: ["x"] }, solve_rate: 0, answer: "x" }, parsed, parsed.tool_calls.map(() => "x"), { mode });
        for (const r of Object.values(s.rewards)) expect(Number.isFinite(r)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseOpenAIMessage", () => {
  const fn = (name: string, args: string | object) => ({ id: "c1", type: "function", function: { name, arguments: args } });

  it("reads string and object arguments; empty or null arguments are {} as in the reference", () => {
    expect(parseOpenAIMessage({ content: " Looking. ", tool_calls: [fn("a", '{"q": "x"}'), fn("b", { n: 1 }), fn("c", ""), fn("d", "null")] })).toEqual({
      content: "Looking.",
      tool_calls: [
        { name: "a", arguments: { q: "x" } },
        { name: "b", arguments: { n: 1 } },
        { name: "c", arguments: {} },
        { name: "d", arguments: {} },
      ],
    });
    expect(parseOpenAIMessage({ content: null, tool_calls: null })).toEqual({ content: "", tool_calls: [] });
  });

  it("drops calls with malformed arguments, like unparsable blocks", () => {
    const parsed = parseOpenAIMessage({ content: "", tool_calls: [fn("a", "{oops"), fn("b", "{}")] });
    expect(parsed).toEqual({ content: "", tool_calls: [{ name: "b", arguments: {} }] });
  });

  it("scores a message whose only calls are malformed -0.3, as the reference scores the same text", () => {
    const state = { unsolved_set: { a: ["x"] }, solve_rate: 0, answer: "x" };
    for (const args of ["{oops", "[1, 2]", "5"]) {
      const parsed = parseOpenAIMessage({ content: "x", tool_calls: [fn("a", args)] });
      expect(parsed.tool_calls).toEqual([]);
      expect(scoreStep(state, parsed, []).rewards.f1).toBe(-0.3);
      expect(scoreStep(state, `x\n<tool_call>\n{"name": "a", "arguments": ${args}}\n</tool_call>`, []).rewards.f1).toBe(-0.3);
    }
  });

  it("never throws on random messages", () => {
    fc.assert(
      fc.property(fc.anything(), fc.option(fc.string(), { nil: null }), (calls, content) => {
        const parsed = parseOpenAIMessage({ content, tool_calls: Array.isArray(calls) ? calls : [calls] } as Parameters<typeof parseOpenAIMessage>[0]);
        expect(ParsedResponse.safeParse(parsed).success).toBe(true);
      }),
    );
  });
});
