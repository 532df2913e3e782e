// An OpenAI-compatible (and Anthropic Messages) pass-through that records every model request and response under the episode named in its path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ModelCallLog } from "../store/index.ts";

export interface ModelProxyOptions {
  /** Base URL of the upstream API up to its version, e.g. `https://api.openai.com/v1`. */
  upstream: string;
  log: ModelCallLog;
  host?: string;
  port?: number;
  /** Largest request body accepted, in bytes. */
  maxBody?: number;
}

export interface ModelProxy {
  /** `http://host:port`; agents use `<url>/e/<episode>/v1` as their base URL. */
  url: string;
  close(): Promise<void>;
}

/** `/e/<episode>/v1/<rest>`: the episode id (URL-decoded) and the path after `/v1`. */
const ROUTE = /^\/e\/([^/]+)\/v1(\/[^?]*)(\?.*)?$/;

const API_OF: Record<string, string> = { "/chat/completions": "chat", "/responses": "responses", "/messages": "messages" };

/** Request headers worth passing on; hop-by-hop ones and the host are the proxy's own. */
const FORWARD = ["authorization", "content-type", "accept", "openai-organization", "openai-project", "x-api-key", "anthropic-version", "anthropic-beta", "user-agent"];

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Relays one request. The request is recorded before it goes upstream; the response (a JSON
 * body, or a server-sent event stream passed through chunk by chunk as it arrives) is recorded
 * when it is complete, with its status and latency. A client that goes away cancels the
 * upstream request; the partial stream is kept with the error.
 */
async function relay(req: IncomingMessage, res: ServerResponse, options: ModelProxyOptions): Promise<void> {
  const route = ROUTE.exec(req.url ?? "");
  if (!route) return json(res, 404, { error: { message: "use /e/<episode>/v1/... (chat/completions, responses, messages, models)", type: "invalid_request_error" } });
  let episodeId: string;
  try {
    episodeId = decodeURIComponent(route[1]!);
  } catch {
    return json(res, 400, { error: { message: "the episode id is not valid URL encoding", type: "invalid_request_error" } });
  }
  const rest = route[2]!;
  const body = req.method === "GET" || req.method === "HEAD" ? Buffer.alloc(0) : await readBody(req, options.maxBody ?? 16 * 1024 * 1024);
  if (body === null) return json(res, 413, { error: { message: "request body too large", type: "invalid_request_error" } });
  const text = body.toString("utf8");
  let parsed: { model?: unknown; stream?: unknown } = {};
  try {
    if (text) parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: the upstream will say so; recorded as it came
  }
  const call = options.log.begin({ episodeId, api: API_OF[rest] ?? "other", path: `/v1${rest}`, model: typeof parsed.model === "string" ? parsed.model : null, stream: parsed.stream === true, request: text });
  const headers: Record<string, string> = {};
  for (const h of FORWARD) {
    const v = req.headers[h];
    if (typeof v === "string") headers[h] = v;
  }
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  let upstream: Response;
  try {
    upstream = await fetch(`${options.upstream.replace(/\/+$/, "")}${rest}${route[3] ?? ""}`, { method: req.method ?? "POST", headers, ...(body.length > 0 ? { body } : {}), signal: abort.signal });
  } catch (err) {
    const message = `upstream request failed: ${(err as Error).message}`;
    options.log.finish(call.id, call.startedAt, { status: null, response: null, error: message });
    return json(res, 502, { error: { message, type: "upstream_error" } });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of upstream.headers) if (["content-type", "cache-control", "retry-after", "x-request-id"].includes(k)) out[k] = v;
  res.writeHead(upstream.status, out);
  const chunks: Buffer[] = [];
  try {
    if (upstream.body) {
      for await (const chunk of upstream.body) {
        const b = Buffer.from(chunk as Uint8Array);
        chunks.push(b);
        res.write(b);
      }
    }
    options.log.finish(call.id, call.startedAt, { status: upstream.status, response: Buffer.concat(chunks).toString("utf8") });
  } catch (err) {
    options.log.finish(call.id, call.startedAt, { status: upstream.status, response: Buffer.concat(chunks).toString("utf8"), error: (err as Error).message });
  } finally {
    res.end();
  }
}

export async function startModelProxy(options: ModelProxyOptions): Promise<ModelProxy> {
  const server: Server = createServer((req, res) => {
    relay(req, res, options).catch((err: Error) => {
      if (!res.headersSent) json(res, 500, { error: { message: err.message, type: "proxy_error" } });
      else res.end();
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
