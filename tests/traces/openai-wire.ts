// A local server speaking OpenAI's wire protocol as vLLM does: chat completions and responses, JSON or server-sent events, with logprobs and token ids.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface WireReply {
  content: string;
  tool_calls?: { id: string; name: string; arguments: string }[];
}

export interface WireServer {
  baseUrl: string;
  /** Every request body, in arrival order, with its path. */
  requests: { path: string; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** The tokens of a reply: its text cut into 3-character pieces, with made-up ids and logprobs that depend only on the piece. */
export function tokensOf(text: string): { token: string; id: number; logprob: number }[] {
  const out: { token: string; id: number; logprob: number }[] = [];
  for (let i = 0; i < text.length; i += 3) {
    const token = text.slice(i, i + 3);
    const id = [...token].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 50_000, 7);
    out.push({ token, id, logprob: -((id % 97) + 1) / 100 });
  }
  return out;
}

const logprobsOf = (text: string, top: number) =>
  tokensOf(text).map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)], top_logprobs: Array.from({ length: top }, (_, k) => ({ token: `${t.token}~${k}`, logprob: t.logprob - k - 1, bytes: [] })) }));

/** `script` answers each request; `logprobs: false` makes the server ignore requests for them, as some endpoints do. */
export async function startWireServer(script: (body: Record<string, unknown>, index: number) => WireReply, options: { logprobs?: boolean; refuseLogprobs?: boolean } = {}): Promise<WireServer> {
  const requests: WireServer["requests"] = [];
  const giveTokens = options.logprobs !== false;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    const path = req.url ?? "";
    const index = requests.length;
    requests.push({ path, body });
    if (options.refuseLogprobs && "logprobs" in body) {
      // As OpenAI answers for its reasoning models.
      res.writeHead(400, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: { message: "Unsupported parameter: 'logprobs' is not supported with this model.", type: "invalid_request_error", param: "logprobs", code: "unsupported_parameter" } }));
    }
    const reply = script(body, index);
    const model = String(body.model);
    const text = reply.content + (reply.tool_calls ?? []).map((c) => c.name + c.arguments).join("");
    const wantLogprobs = giveTokens && body.logprobs === true;
    const top = Number(body.top_logprobs ?? 0);
    const ids = tokensOf(text).map((t) => t.id);
    const usage = { prompt_tokens: 11, completion_tokens: ids.length, total_tokens: 11 + ids.length };
    const calls = (reply.tool_calls ?? []).map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
    const sse = (events: unknown[]): void => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
      res.end("data: [DONE]\n\n");
    };
    if (path === "/v1/chat/completions") {
      const base = { id: `chatcmpl-${index}`, created: 1_700_000_000 + index, model };
      if (body.stream === true) {
        const pieces = tokensOf(reply.content);
        const lp = logprobsOf(reply.content, top);
        return sse([
          { ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] },
          ...pieces.map((p, i) => ({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: p.token }, logprobs: wantLogprobs ? { content: [lp[i]] } : null, finish_reason: null }] })),
          ...calls.map((c, i) => ({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { tool_calls: [{ index: i, ...c }] }, logprobs: null, finish_reason: null }] })),
          { ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: calls.length ? "tool_calls" : "stop" }], usage },
        ]);
      }
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(
        JSON.stringify({
          ...base,
          object: "chat.completion",
          ...(giveTokens && body.return_token_ids === true ? { prompt_token_ids: [1, 2, 3] } : {}),
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: reply.content || null, ...(calls.length ? { tool_calls: calls } : {}) },
              logprobs: wantLogprobs ? { content: logprobsOf(text, top) } : null,
              ...(giveTokens && body.return_token_ids === true ? { token_ids: ids } : {}),
              finish_reason: calls.length ? "tool_calls" : "stop",
            },
          ],
          usage,
        }),
      );
    }
    if (path === "/v1/responses") {
      const response = { id: `resp_${index}`, object: "response", created_at: 1_700_000_000 + index, status: "completed", model, output: [{ type: "message", id: `msg_${index}`, status: "completed", role: "assistant", content: [{ type: "output_text", text: reply.content, annotations: [] }] }], usage: { input_tokens: 11, output_tokens: ids.length, total_tokens: 11 + ids.length } };
      if (body.stream === true) {
        return sse([
          { type: "response.created", sequence_number: 0, response: { ...response, status: "in_progress", output: [] } },
          ...tokensOf(reply.content).map((p, i) => ({ type: "response.output_text.delta", sequence_number: i + 1, item_id: `msg_${index}`, output_index: 0, content_index: 0, delta: p.token })),
          { type: "response.completed", sequence_number: 99, response },
        ]);
      }
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify(response));
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `no route ${path}`, type: "invalid_request_error" } }));
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
