// The ChatModel over MCP sampling: the connected client's own model answers `sampling/createMessage`,
// so no API key is needed and the human at the client approves each request.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ModelError, type ChatModel } from "./model.ts";

export interface SamplingModelOptions {
  /** Sampling requires a bound; stage replies (whole environments) are long. */
  maxTokens?: number;
  /** Model names the client may prefer (`modelPreferences.hints`). */
  hints?: string[];
  /** How long a human may take to approve one request, in ms. */
  timeoutMs?: number;
}

/** The cache and records name every sampled reply after this, since the client picks the model. */
export const SAMPLING_MODEL = "mcp-sampling";

export function samplingModel(server: Server, o: SamplingModelOptions = {}): ChatModel {
  return {
    name: SAMPLING_MODEL,
    async complete(messages, options = {}) {
      if (!server.getClientCapabilities()?.sampling) throw new ModelError("the connected MCP client does not offer sampling", null);
      const systemPrompt = messages.filter((m) => m.role === "system").map((m) => m.content).join("\n\n");
      const result = await server.createMessage(
        {
          messages: messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role as "user" | "assistant", content: { type: "text" as const, text: m.content } })),
          ...(systemPrompt ? { systemPrompt } : {}),
          includeContext: "none",
          maxTokens: options.maxTokens ?? o.maxTokens ?? 32_000,
          ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(o.hints?.length ? { modelPreferences: { hints: o.hints.map((name) => ({ name })) } } : {}),
        },
        { timeout: o.timeoutMs ?? 600_000, ...(options.signal ? { signal: options.signal } : {}) },
      );
      const blocks = Array.isArray(result.content) ? result.content : [result.content];
      const text = blocks.map((b) => (b.type === "text" ? b.text : "")).join("");
      if (result.role !== "assistant" || text === "") throw new ModelError(`the client's sampling reply has no assistant text (role ${result.role}, content ${blocks.map((b) => b.type).join(", ")})`, null);
      return { text, usage: null };
    },
  };
}
