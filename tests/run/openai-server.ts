// A local HTTP server speaking the OpenAI chat-completions wire protocol, replaying scripted assistant turns for tests.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ChatRequest {
  model: string;
  messages: { role: string; content?: string | null; tool_calls?: unknown[]; tool_call_id?: string }[];
  tools?: { type: string; function: { name: string; description: string; parameters: unknown } }[];
  temperature?: number;
  stream?: boolean;
  [key: string]: unknown;
}

export interface ScriptedToolCall {
  id?: string;
  name: string;
  /** Sent verbatim when a string (so tests can send broken JSON), else JSON-encoded. */
  arguments: string | object;
}

export type ScriptedReply =
  | { content?: string | null; tool_calls?: ScriptedToolCall[]; finish_reason?: string }
  | { status: number; error: string; retryAfter?: number }
  | { hang: true };

export interface FakeOpenAI {
  /** Base URL to hand to the client, ending in `/v1`. */
  baseUrl: string;
  requests: { body: ChatRequest; authorization: string | undefined }[];
  close(): Promise<void>;
}

/** `script` answers each POST /v1/chat/completions; `index` counts requests from 0. */
export async function startFakeOpenAI(script: (request: ChatRequest, index: number) => ScriptedReply): Promise<FakeOpenAI> {
  const requests: FakeOpenAI["requests"] = [];
  let created = 1_700_000_000;
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") return send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: "invalid_request_error" } });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: ChatRequest;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(res, 400, { error: { message: "body is not JSON", type: "invalid_request_error" } });
    }
    if (body.stream === true) return send(res, 400, { error: { message: "this server only answers stream: false", type: "invalid_request_error" } });
    if (typeof body.model !== "string" || !Array.isArray(body.messages)) return send(res, 400, { error: { message: "model and messages are required", type: "invalid_request_error" } });
    const index = requests.length;
    requests.push({ body, authorization: req.headers.authorization });
    const reply = script(body, index);
    if ("hang" in reply) return; // never answers: the client's timeout must fire
    if ("status" in reply) {
      return send(res, reply.status, { error: { message: reply.error, type: "server_error" } }, reply.retryAfter !== undefined ? { "retry-after": String(reply.retryAfter) } : {});
    }
    const toolCalls = (reply.tool_calls ?? []).map((tc, i) => ({
      id: tc.id ?? `call_${index}_${i}`,
      type: "function",
      function: { name: tc.name, arguments: typeof tc.arguments === "string" ? tc.arguments : JSON.stringify(tc.arguments) },
    }));
    const content = reply.content === undefined ? null : reply.content;
    send(res, 200, {
      id: `chatcmpl-${index}`,
      object: "chat.completion",
      created: created++,
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
          logprobs: null,
          finish_reason: reply.finish_reason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
        },
      ],
      usage: { prompt_tokens: JSON.stringify(body.messages).length >> 2, completion_tokens: 7, total_tokens: (JSON.stringify(body.messages).length >> 2) + 7 },
    });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: { message: err.message, type: "server_error" } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
