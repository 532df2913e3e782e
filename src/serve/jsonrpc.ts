// The JSON-RPC 2.0 envelope check both transports apply to input, and the errors they answer bad input with.
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string | number => typeof v === "string" || (typeof v === "number" && Number.isFinite(v));

/**
 * Whether a parsed value is a JSON-RPC request, notification or response in the shape the
 * MCP SDK accepts. Hand-written rather than the SDK's zod union: it runs on every message,
 * and the union's failed branches cost more than the rest of the check.
 */
export function isJsonRpcMessage(v: unknown): v is JSONRPCMessage {
  if (!isObject(v) || v.jsonrpc !== "2.0") return false;
  if ("method" in v) {
    if (typeof v.method !== "string") return false;
    if ("id" in v && !isId(v.id)) return false;
    return v.params === undefined || isObject(v.params);
  }
  if (!isId(v.id)) return false;
  if ("result" in v) return !("error" in v) && isObject(v.result);
  if (!isObject(v.error)) return false;
  return Number.isInteger(v.error.code) && typeof v.error.message === "string";
}

/** The id of a message that failed the check, when it has a usable one (for the error answer). */
export const idOf = (v: unknown): string | number | null => (isObject(v) && isId(v.id) ? v.id : null);

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_REQUEST_MESSAGE = "Invalid Request: not a JSON-RPC 2.0 request, notification or response";

export function errorResponse(id: string | number | null, code: number, message: string): JSONRPCMessage {
  return { jsonrpc: "2.0", id, error: { code, message } } as unknown as JSONRPCMessage;
}
