// Parsers from model output to a ParsedResponse: Hermes/Qwen text, Llama 3.1 text, OpenAI tool_calls.
import type { ParsedResponse, ToolCall } from "../schema/index.ts";
import { parsePyJson, pyJsonDumps, pyStrip, removeSuffix } from "./text.ts";

type JsonObject = Record<string, unknown>;

const isPlainObject = (v: unknown): v is JsonObject => v !== null && typeof v === "object" && !Array.isArray(v);

/** Python's truthiness, which decides whether the reference keeps a call's `name`. */
function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** The reference's response cleanup: strip, drop `<|endoftext|>`, strip, drop `<|im_end|>`, strip. */
export function stripEndTokens(raw: string): string {
  return pyStrip(removeSuffix(pyStrip(removeSuffix(pyStrip(raw), "<|endoftext|>")), "<|im_end|>"));
}

const TOOL_OPEN = "<tool_call>";
const TOOL_CLOSE = "</tool_call>";
const PYTHON_TAG = "<|python_tag|>";
/** `str.lstrip("<tool_call>")` strips any of these characters, not the tag as a word. */
const TAG_CHARS = new Set(TOOL_OPEN);

/**
 * Calls kept only to fail: `"arguments"` a JSON string that decodes to something other than an
 * object (`"[1]"`). The reference keeps such a call and it fails when run, so whoever runs a
 * parsed call must not run it with the `{}` it carries here; this gives back the text as written.
 */
const failing = new WeakMap<ToolCall, string>();

/** The arguments text of a call the reference keeps but cannot run (see `failing`), else undefined. */
export const failingArguments = (call: ToolCall): string | undefined => failing.get(call);

/**
 * How the reference reads one structured call, as the Hermes block it stands for: `call` (a
 * name, and arguments that are a JSON object, empty or null), `fails` (arguments that are JSON
 * but not an object: kept and counted, and it fails when run), or `dropped` (no name, or
 * arguments that are not JSON: the block does not parse, so the call is not made at all).
 */
export function structuredCallReading(name: unknown, args: unknown): "call" | "fails" | "dropped" {
  if (typeof name !== "string" || name === "") return "dropped";
  if (args === undefined || args === null || args === "" || isPlainObject(args)) return "call";
  if (typeof args !== "string") return "fails";
  const value = parsePyJson(args);
  return value === undefined ? "dropped" : value === null || isPlainObject(value) ? "call" : "fails";
}

/** One Hermes block's JSON as the reference reads it; null where the reference drops the block. */
function hermesCall(value: unknown): ToolCall | null {
  if (!isPlainObject(value) || !pyTruthy(value.name) || !Object.hasOwn(value, "arguments")) return null;
  let args = value.arguments;
  if (!isPlainObject(args)) {
    if (typeof args !== "string") return null;
    args = parsePyJson(args);
    if (args === undefined) return null;
  }
  const name = typeof value.name === "string" ? value.name : pyJsonDumps(value.name);
  // A string that decodes to a non-object is still a call to the reference (it fails when run),
  // so it stays in the count with empty arguments rather than vanishing, marked as failing.
  // JSON null reads as no arguments, as in structured calls.
  if (isPlainObject(args) || args === null) return { name, arguments: (args ?? {}) as ToolCall["arguments"] };
  const call: ToolCall = { name, arguments: {} };
  failing.set(call, value.arguments as string);
  return call;
}

/**
 * Hermes/Qwen: text before the first `<tool_call>` is the content; the rest is cut at every
 * `</tool_call>` and each piece that starts with `<tool_call>` is one call. Text between or
 * after blocks is dropped, and so is a block that does not parse; when none parse the whole
 * text is the content. This is the reference's reading, kept because the call count p is in
 * the reward: a different reading of odd text would change scores.
 */
function parseHermes(text: string, start: number): ParsedResponse {
  const calls: ToolCall[] = [];
  for (const chunk of text.slice(start).split(TOOL_CLOSE)) {
    const piece = pyStrip(chunk);
    if (!piece.startsWith(TOOL_OPEN)) continue;
    let i = 0;
    while (i < piece.length && TAG_CHARS.has(piece[i]!)) i++;
    const call = hermesCall(parsePyJson(pyStrip(piece.slice(i))));
    if (call) calls.push(call);
  }
  if (calls.length === 0) return { content: text, tool_calls: [] };
  return { content: start > 0 ? pyStrip(text.slice(0, start)) : "", tool_calls: calls };
}

/** Splits at `;` outside JSON strings (JSON itself has no `;` anywhere else). */
function splitSemicolons(text: string): string[] {
  const parts: string[] = [];
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === ";") {
      parts.push(text.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(text.slice(from));
  return parts;
}

function llamaCall(value: unknown): ToolCall | null {
  if (!isPlainObject(value) || typeof value.name !== "string" || value.name === "") return null;
  let args = Object.hasOwn(value, "parameters") ? value.parameters : value.arguments;
  if (typeof args === "string") args = parsePyJson(args);
  return isPlainObject(args) ? { name: value.name, arguments: args as ToolCall["arguments"] } : null;
}

/**
 * Llama 3.1: `content<|python_tag|>{"name": ..., "parameters": {...}}`, several calls joined
 * by `;` or by further tags, optionally closed by `<|eom_id|>` / `<|eot_id|>`. `parameters`
 * may be an object or a JSON string (`arguments` is accepted too). Unparsable calls are
 * dropped; when none parse the whole text is the content, as in the Hermes reading.
 */
function parseLlama(text: string, start: number): ParsedResponse {
  const body = removeSuffix(removeSuffix(pyStrip(text.slice(start)), "<|eot_id|>"), "<|eom_id|>");
  const calls: ToolCall[] = [];
  for (const tagged of body.split(PYTHON_TAG)) {
    for (const part of splitSemicolons(tagged)) {
      const json = pyStrip(part);
      if (json === "") continue;
      const call = llamaCall(parsePyJson(json));
      if (call) calls.push(call);
    }
  }
  if (calls.length === 0) return { content: text, tool_calls: [] };
  return { content: pyStrip(text.slice(0, start)), tool_calls: calls };
}

/**
 * Parses a raw model response. Trailing whitespace and end tokens go first; then Hermes
 * `<tool_call>` blocks if there are any, else Llama 3.1 `<|python_tag|>` calls, else all text.
 * Never throws: garbage is content.
 */
export function parseResponse(raw: string): ParsedResponse {
  const text = stripEndTokens(raw);
  const hermes = text.indexOf(TOOL_OPEN);
  if (hermes !== -1) return parseHermes(text, hermes);
  const llama = text.indexOf(PYTHON_TAG);
  if (llama !== -1) return parseLlama(text, llama);
  return { content: text, tool_calls: [] };
}

/** An assistant message with OpenAI-style structured tool calls. */
export interface OpenAIMessage {
  content?: string | null;
  tool_calls?: { id?: string; type?: string; function: { name: string; arguments: string | object } }[] | null;
}

/** OpenAI `arguments` (a JSON string, or already an object) -> an arguments object; undefined when malformed. */
function openAIArguments(args: unknown): ToolCall["arguments"] | undefined {
  // The reference replaces missing or empty arguments, and ones that decode to null, by {}.
  if (args === undefined || args === null || args === "") return {};
  const value = typeof args === "string" ? parsePyJson(args) : args;
  if (value === null) return {};
  return isPlainObject(value) ? (value as ToolCall["arguments"]) : undefined;
}

/**
 * Parses an OpenAI-style message. A call whose arguments are not a JSON object (or which has
 * no name) is handled as the reference handles an unparsable `<tool_call>` block: it is
 * dropped and does not count; when no call survives, the malformed calls are kept in the
 * content in the Hermes form the chat template would have rendered them in, so the response
 * earns the reference's -0.3 for a malformed call instead of passing for a plain answer.
 */
export function parseOpenAIMessage(message: OpenAIMessage): ParsedResponse {
  const calls: ToolCall[] = [];
  const malformed: string[] = [];
  for (const tc of message.tool_calls ?? []) {
    const fn: Partial<{ name: unknown; arguments: unknown }> = isPlainObject(tc) && isPlainObject(tc.function) ? tc.function : {};
    const args = openAIArguments(fn.arguments);
    if (typeof fn.name === "string" && fn.name !== "" && args !== undefined) {
      calls.push({ name: fn.name, arguments: args });
      continue;
    }
    const rawArgs = typeof fn.arguments === "string" ? fn.arguments : (JSON.stringify(fn.arguments) ?? "null");
    malformed.push(`${TOOL_OPEN}\n{"name": ${JSON.stringify(fn.name ?? null)}, "arguments": ${rawArgs}}\n${TOOL_CLOSE}`);
  }
  const text = typeof message.content === "string" ? message.content : "";
  if (calls.length === 0 && malformed.length > 0) return { content: pyStrip([text, ...malformed].join("\n")), tool_calls: [] };
  return { content: pyStrip(text), tool_calls: calls };
}
