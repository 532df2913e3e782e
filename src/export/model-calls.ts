// What a recorded model call said, whatever its API and whether it streamed: the assistant text, its tool calls and token logprobs.
import type { ModelCallRow } from "../store/index.ts";

export interface ModelTurn {
  id: number;
  at: number;
  api: string;
  model: string | null;
  stream: boolean;
  status: number | null;
  latency_ms: number | null;
  /** Messages (or input items) the request carried. */
  input_messages: number;
  text: string;
  tool_calls: { id: string; name: string; arguments: string }[];
  /** Sampled tokens with logprobs, when the response had them. */
  logprobs: { token: string; logprob: number }[];
  error: string | null;
}

/** The `data:` payloads of a server-sent event stream, parsed; `[DONE]` and non-JSON lines are skipped. */
export function sseEvents(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (data === "[DONE]") continue;
    try {
      out.push(JSON.parse(data) as Record<string, unknown>);
    } catch {
      // a partial last event of a cut stream
    }
  }
  return out;
}

/** Wire JSON from three APIs, read leniently: a field that is not there reads as undefined. */
type Obj = Record<string, any>;

function fromChat(body: Obj, turn: ModelTurn): void {
  const choice = body.choices?.[0] ?? {};
  const m = choice.message ?? {};
  if (typeof m.content === "string") turn.text += m.content;
  for (const tc of m.tool_calls ?? []) turn.tool_calls.push({ id: String(tc.id ?? ""), name: String(tc.function?.name ?? ""), arguments: typeof tc.function?.arguments === "string" ? tc.function.arguments : JSON.stringify(tc.function?.arguments ?? {}) });
  for (const l of choice.logprobs?.content ?? []) turn.logprobs.push({ token: String(l.token), logprob: Number(l.logprob) });
}

function fromChatStream(events: Obj[], turn: ModelTurn): void {
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for (const e of events) {
    const choice = e.choices?.[0];
    if (!choice) continue;
    if (typeof choice.delta?.content === "string") turn.text += choice.delta.content;
    for (const tc of choice.delta?.tool_calls ?? []) {
      const c = calls.get(tc.index ?? 0) ?? { id: "", name: "", arguments: "" };
      if (tc.id) c.id = tc.id;
      if (tc.function?.name) c.name += tc.function.name;
      if (typeof tc.function?.arguments === "string") c.arguments += tc.function.arguments;
      calls.set(tc.index ?? 0, c);
    }
    for (const l of choice.logprobs?.content ?? []) turn.logprobs.push({ token: String(l.token), logprob: Number(l.logprob) });
  }
  turn.tool_calls.push(...[...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c));
}

function fromResponse(body: Obj, turn: ModelTurn): void {
  for (const item of body.output ?? []) {
    if (item.type === "message") for (const c of item.content ?? []) if (c.type === "output_text") turn.text += c.text ?? "";
    if (item.type === "function_call") turn.tool_calls.push({ id: String(item.call_id ?? item.id ?? ""), name: String(item.name ?? ""), arguments: String(item.arguments ?? "") });
  }
}

function fromMessages(body: Obj, turn: ModelTurn): void {
  for (const c of body.content ?? []) {
    if (c.type === "text") turn.text += c.text ?? "";
    if (c.type === "tool_use") turn.tool_calls.push({ id: String(c.id ?? ""), name: String(c.name ?? ""), arguments: JSON.stringify(c.input ?? {}) });
  }
}

function fromMessagesStream(events: Obj[], turn: ModelTurn): void {
  const blocks = new Map<number, { id: string; name: string; arguments: string; tool: boolean }>();
  for (const e of events) {
    if (e.type === "content_block_start") blocks.set(e.index, { id: e.content_block?.id ?? "", name: e.content_block?.name ?? "", arguments: "", tool: e.content_block?.type === "tool_use" });
    if (e.type === "content_block_delta" && e.delta?.type === "text_delta") turn.text += e.delta.text ?? "";
    if (e.type === "content_block_delta" && e.delta?.type === "input_json_delta") {
      const b = blocks.get(e.index);
      if (b) b.arguments += e.delta.partial_json ?? "";
    }
  }
  for (const b of blocks.values()) if (b.tool) turn.tool_calls.push({ id: b.id, name: b.name, arguments: b.arguments });
}

/** Reads a recorded model call back into one assistant turn; a body it cannot read gives an empty turn with the error. */
export function modelTurn(row: ModelCallRow): ModelTurn {
  const turn: ModelTurn = { id: row.id, at: row.startedAt, api: row.api, model: row.model, stream: row.stream, status: row.status, latency_ms: row.latencyMs, input_messages: 0, text: "", tool_calls: [], logprobs: [], error: row.error };
  try {
    const req = JSON.parse(row.request) as Obj;
    turn.input_messages = Array.isArray(req.messages) ? req.messages.length : Array.isArray(req.input) ? req.input.length : typeof req.input === "string" ? 1 : 0;
  } catch {
    // the request was not JSON; the upstream's answer says what happened
  }
  const body = row.response ?? "";
  try {
    if (row.stream) {
      const events = sseEvents(body);
      if (row.api === "chat") fromChatStream(events, turn);
      else if (row.api === "responses") {
        const done = events.find((e) => e.type === "response.completed") as Obj | undefined;
        if (done) fromResponse(done.response, turn);
        else for (const e of events) if (e.type === "response.output_text.delta") turn.text += String(e.delta ?? "");
      } else if (row.api === "messages") fromMessagesStream(events, turn);
    } else if (body) {
      const parsed = JSON.parse(body) as Obj;
      if (row.api === "chat") fromChat(parsed, turn);
      else if (row.api === "responses") fromResponse(parsed, turn);
      else if (row.api === "messages") fromMessages(parsed, turn);
    }
  } catch (err) {
    turn.error ??= `the response could not be read: ${(err as Error).message}`;
  }
  return turn;
}
