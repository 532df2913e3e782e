// Raw-text mode: the Hermes/Qwen2.5 chat template's tool prompt and tool-response turns, as the paper's models saw them.
import type { ChatMessage, ChatTool } from "../schema/index.ts";
import { pyJsonDumps } from "../score/index.ts";

/** Qwen2.5-Instruct's default system message, used when the conversation has none. */
export const QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

/**
 * The system message Qwen2.5's chat template renders when `tools` are given: the system text,
 * then the tool block in the template's exact wording, one `tojson` line per tool (`tojson` is
 * Python's `json.dumps` with `ensure_ascii=False`; integral floats print as integers here).
 */
export function hermesSystemPrompt(tools: readonly ChatTool[], system: string = QWEN_DEFAULT_SYSTEM): string {
  return (
    `${system}\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n` +
    `You are provided with function signatures within <tools></tools> XML tags:\n<tools>` +
    tools.map((t) => `\n${pyJsonDumps(t)}`).join("") +
    `\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n` +
    `<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>`
  );
}

export interface PlainMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * Turns a structured conversation into the plain messages of raw mode: the tool prompt as the
 * system message, each assistant turn as the exact text the model wrote (`rawOf(i)` for the
 * i-th assistant message), and each run of tool results as one user turn of
 * `<tool_response>` blocks, as the Qwen template renders `role: "tool"` messages.
 */
export function hermesMessages(messages: readonly ChatMessage[], tools: readonly ChatTool[], rawOf: (assistantIndex: number) => string): PlainMessage[] {
  const first = messages[0];
  const system = first?.role === "system" ? first.content : QWEN_DEFAULT_SYSTEM;
  const out: PlainMessage[] = [{ role: "system", content: tools.length > 0 ? hermesSystemPrompt(tools, system) : system }];
  let assistant = 0;
  for (let i = first?.role === "system" ? 1 : 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === "tool") {
      const block = `<tool_response>\n${m.content}\n</tool_response>`;
      const last = out[out.length - 1]!;
      if (messages[i - 1]?.role === "tool") last.content += `\n${block}`;
      else out.push({ role: "user", content: block });
    } else if (m.role === "assistant") out.push({ role: "assistant", content: rawOf(assistant++) });
    else out.push({ role: m.role, content: m.content });
  }
  return out;
}
