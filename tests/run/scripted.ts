// Scripted assistant turns for the example environment, played by the fake OpenAI server (shared by the run and export tests).
import type { ChatRequest, ScriptedReply } from "./openai-server.ts";

export const Q_BIRTH_YEAR = "In what year was the director of Crimson Harbor born?";
export const Q_BIRTHPLACE = "Where was the director of Salt Meridian born?";

/** Assistant turns taken so far in the conversation the request carries. */
export const turnOf = (req: ChatRequest): number => req.messages.filter((m) => m.role === "assistant").length;

/**
 * Native tool calling on the birth-year task: a parallel pair (one to a tool that does not
 * exist), then a call whose arguments are JSON but not an object (counted, and it fails) beside
 * a good one, then the final answer.
 * ftrl score: 4 calls, 2 solved, 2 needed -> precision 1/2, rate 1, f1 2/3, answer correct.
 */
export function nativeBirthYear(req: ChatRequest): ScriptedReply {
  switch (turnOf(req)) {
    case 0:
      return { content: null, tool_calls: [{ id: "call_a", name: "get_film", arguments: { title: "Crimson Harbor" } }, { id: "call_b", name: "get_weather", arguments: { city: "Paris" } }] };
    case 1:
      return { content: "Now the director.", tool_calls: [{ id: "call_c", name: "get_person", arguments: '["Elena Vastrova"]' }, { id: "call_d", name: "get_person", arguments: { name: "Elena Vastrova" } }] };
    default:
      return { content: "The director of Crimson Harbor was born in 1961." };
  }
}

export const RAW_TURNS = [
  'I will look it up.\n<tool_call>\n{"name": "get_film", "arguments": {"title": "Crimson Harbor"}}\n</tool_call>',
  '<tool_call>\n{"name": "get_person", "arguments": "{\\"name\\": \\"Elena Vastrova\\"}"}\n</tool_call><|im_end|>',
  "The answer is 1961.",
];

/** Raw Hermes/Qwen text on the birth-year task: two calls, then the answer (a perfect episode). */
export function rawBirthYear(req: ChatRequest): ScriptedReply {
  return { content: RAW_TURNS[Math.min(turnOf(req), RAW_TURNS.length - 1)]! };
}
