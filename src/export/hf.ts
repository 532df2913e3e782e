// Hugging Face chat rows with tools, as TRL's SFT trainer and chat templates read them: tool-call arguments are JSON objects.
import type { ChatTool } from "../schema/index.ts";
import { argumentsObject } from "./atif.ts";
import { chatTools, type Transcript } from "./transcript.ts";

export interface HfToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: Record<string, unknown> };
}

export type HfMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; tool_calls?: HfToolCall[] }
  | { role: "tool"; name: string; tool_call_id: string; content: string };

/** One `{"messages", "tools"}` row: what `apply_chat_template(messages, tools=tools)` takes. */
export interface HfRow {
  messages: HfMessage[];
  tools: ChatTool[];
}

/**
 * The conversation of an episode that ended with an answer. Arguments are objects because
 * chat templates (Qwen, Llama, Hermes) iterate over them; text that is not a JSON object
 * cannot be one, so such an episode gives no row (null), like one without a final answer.
 */
export function hfRow(t: Transcript): HfRow | null {
  if (!t.final) return null;
  const messages: HfMessage[] = [{ role: "user", content: t.task.question }];
  for (const turn of t.turns) {
    const calls: HfToolCall[] = [];
    for (const tc of turn.meta.message.tool_calls ?? []) {
      const { arguments: args, raw } = argumentsObject(tc.function.arguments);
      if (raw !== undefined) return null;
      calls.push({ id: tc.id, type: "function", function: { name: tc.function.name, arguments: args } });
    }
    messages.push({ role: "assistant", content: turn.meta.message.content ?? "", tool_calls: calls });
    const names = new Map(calls.map((c) => [c.id, c.function.name]));
    for (const m of turn.toolMessages) if (m.role === "tool") messages.push({ role: "tool", name: names.get(m.tool_call_id) ?? "", tool_call_id: m.tool_call_id, content: m.content });
  }
  messages.push({ role: "assistant", content: t.final.message.content ?? "" });
  return { messages, tools: chatTools(t.env) };
}
