// Raw mode's Qwen2.5 template pieces: the tool system prompt word for word, and tool results as <tool_response> user turns.
import { describe, expect, it } from "vitest";
import { hermesMessages, hermesSystemPrompt, QWEN_DEFAULT_SYSTEM } from "../../src/run/hermes.ts";
import type { ChatMessage, ChatTool } from "../../src/schema/index.ts";

const tool: ChatTool = {
  type: "function",
  function: { name: "get_film", description: "Look up a film.", parameters: { type: "object", properties: { title: { type: "string" } }, required: ["title"] } },
};

describe("hermesSystemPrompt", () => {
  it("renders Qwen2.5's tool block with Python json.dumps spacing", () => {
    expect(hermesSystemPrompt([tool])).toBe(
      "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n" +
        "You may call one or more functions to assist with the user query.\n\n" +
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
        '{"type": "function", "function": {"name": "get_film", "description": "Look up a film.", "parameters": {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}}}\n' +
        "</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>',
    );
  });

  it("keeps non-ASCII text as is", () => {
    const t: ChatTool = { ...tool, function: { ...tool.function, description: "Zürich — 東京" } };
    expect(hermesSystemPrompt([t])).toContain('"description": "Zürich — 東京"');
  });
});

describe("hermesMessages", () => {
  it("sends the raw assistant text and groups consecutive tool results into one user turn", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Who?" },
      { role: "assistant", content: null, tool_calls: [
        { id: "a", type: "function", function: { name: "get_film", arguments: "{}" } },
        { id: "b", type: "function", function: { name: "get_film", arguments: "{}" } },
      ] },
      { role: "tool", tool_call_id: "a", content: "one" },
      { role: "tool", tool_call_id: "b", content: "two" },
      { role: "assistant", content: "done" },
    ];
    const raws = ["<tool_call>\n{...}\n</tool_call>", "done"];
    const out = hermesMessages(messages, [tool], (i) => raws[i]!);
    expect(out.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
    expect(out[0]!.content.startsWith(QWEN_DEFAULT_SYSTEM)).toBe(true);
    expect(out[2]!.content).toBe(raws[0]);
    expect(out[3]!.content).toBe("<tool_response>\none\n</tool_response>\n<tool_response>\ntwo\n</tool_response>");
    expect(out[4]!.content).toBe("done");
  });

  it("puts the tool block under a given system message", () => {
    const out = hermesMessages([{ role: "system", content: "Be brief." }, { role: "user", content: "q" }], [tool], () => "");
    expect(out).toHaveLength(2);
    expect(out[0]!.content.startsWith("Be brief.\n\n# Tools\n")).toBe(true);
  });
});
