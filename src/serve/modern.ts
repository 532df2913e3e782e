// MCP 2026-07-28 over Streamable HTTP on the SDK 2.x: no session; each request names its episode in the URL and carries its own _meta.
import { clientOf } from "./fairness.ts";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createMcpHandler, isLegacyRequest, Server as ModernServer, type McpRequestContext } from "@modelcontextprotocol/server";
import { toWebRequest } from "@modelcontextprotocol/node";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/server/validators/ajv";
import { describeMessage, type Recorder } from "../store/index.ts";
import { LookupError, type EnvironmentRegistry, type EpisodeService, type EpisodeSession } from "../episode/index.ts";
import { catalogSurface, episodeSurface, EPISODE_REQUESTS, SERVER_NAME, SERVER_VERSION, type CatalogOptions, type SurfaceDef } from "./mcp.ts";

/** The revision this face serves; 2025-era requests go to the sessionful 1.x path. */
export const MODERN_VERSION = "2026-07-28";

/** One validator for every per-request instance: by default each instance builds its own Ajv, which costs more than the call it serves. */
const validator = new AjvJsonSchemaValidator();

/** A 2026-07-28 (SDK 2.x) server instance for one request. */
export function modernServer(def: SurfaceDef): ModernServer {
  const server = new ModernServer(def.info, { capabilities: def.capabilities, instructions: def.instructions, supportedProtocolVersions: [MODERN_VERSION], jsonSchemaValidator: validator });
  def.define((schema, handler) =>
    server.setRequestHandler(schema.shape.method.value as "tools/list", (request, ctx) =>
      handler(request as never, { requestId: ctx.mcpReq.id, meta: ctx.mcpReq._meta }) as never,
    ),
  );
  return server;
}

/** A surface whose every request is answered with one JSON-RPC error: how the request should have addressed its episode. */
function errorSurface(code: number, message: string): SurfaceDef {
  return {
    info: { name: SERVER_NAME, version: SERVER_VERSION, title: "envforge" },
    capabilities: { tools: { listChanged: false }, prompts: { listChanged: false }, resources: { listChanged: false } },
    instructions: message,
    define(register) {
      const fail = () => {
        throw Object.assign(new Error(message), { code });
      };
      for (const schema of EPISODE_REQUESTS) register(schema, fail);
    },
  };
}

export interface ModernOptions {
  registry: EnvironmentRegistry;
  recorder: Recorder;
  service: EpisodeService;
  connectHint: CatalogOptions["connectHint"];
  maxBodyBytes: number;
  log: (line: string) => void;
}

export interface ModernFace {
  /** Whether a POST without a session header is 2025-era (the caller's sessionful path) rather than 2026-07-28. */
  isLegacy(req: IncomingMessage, body: unknown): Promise<boolean>;
  /** Serves one 2026-07-28 request: its episode comes from the URL, created on first use. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: unknown, text: string): Promise<void>;
  close(): Promise<void>;
}

/** What a request's URL names: a surface (and its episode), or a new episode to open when the SDK takes the request. */
type Resolved = { surface: SurfaceDef; episode: EpisodeSession | null } | { open: () => EpisodeSession };

/**
 * The episode a URL names: `?env=&task=&episode=` opens it on first use; `?episode=` alone
 * joins a live one (opened by REST, ORS or an earlier request); no `env` and no episode is the
 * catalog. A modern request has no session, so without an episode id there is nothing to hold
 * state: it gets an error saying how to name one.
 */
async function resolve(o: ModernOptions, url: URL, client: string): Promise<Resolved> {
  const envId = url.searchParams.get("env");
  const taskId = url.searchParams.get("task");
  const id = url.searchParams.get("episode");
  if (id === null) {
    if (envId === null) return { surface: catalogSurface(o.registry, { connectHint: o.connectHint }), episode: null };
    const example = `/mcp?env=${encodeURIComponent(envId)}${taskId ? `&task=${encodeURIComponent(taskId)}` : ""}&episode=YOUR-EPISODE-ID`;
    return {
      surface: errorSurface(-32602, `a ${MODERN_VERSION} request has no session, so it must name its episode: use ${example} (created on first use), or the id POST /v1/episodes returned`),
      episode: null,
    };
  }
  try {
    let live: EpisodeSession | null = null;
    try {
      // Live here, or (in a shared store) taken over from another process; ended is 410.
      live = await o.service.get(id);
    } catch (err) {
      // Unknown: created on first use when the URL says of what.
      if (!(err instanceof LookupError && err.status === 404 && envId !== null)) throw err;
    }
    if (live) {
      if ((envId && envId !== live.env.id) || (taskId && taskId !== live.task.id)) throw new LookupError(`episode "${id}" is of ${live.env.id}/${live.task.id}, not ${envId ?? live.env.id}/${taskId ?? live.task.id}`, 409);
      return { surface: episodeSurface(live), episode: live };
    }
    // Opened only once the SDK takes the request (a request it refuses opens nothing): the id is known to be new.
    return { open: () => o.service.openChecked({ env: envId!, task: taskId, id, transport: "http", face: "mcp-2026", client }) };
  } catch (err) {
    if (!(err instanceof LookupError)) throw err;
    return { surface: errorSurface(-32602, err.message), episode: null };
  }
}

/** Whether a message carries the 2026-07-28 envelope's protocol-version claim. */
const claims = (m: unknown): boolean =>
  (m as { params?: { _meta?: Record<string, unknown> } } | null)?.params?._meta?.["io.modelcontextprotocol/protocolVersion"] !== undefined;

export function modernFace(o: ModernOptions): ModernFace {
  /** Which episode each request resolved to, for recording its messages under it. */
  const served = new WeakMap<Request, Resolved>();
  /** Episodes whose client is already recorded (from the first request's envelope). */
  const named = new WeakSet<EpisodeSession>();
  // The episode is resolved (and opened or taken over) before the SDK handles the request: its server factory is synchronous.
  const factory = (ctx: McpRequestContext) => {
    const request = ctx.requestInfo!;
    let resolved = served.get(request)!;
    if ("open" in resolved) {
      try {
        const episode = resolved.open();
        resolved = { surface: episodeSurface(episode), episode };
      } catch (err) {
        if (!(err instanceof LookupError)) throw err;
        resolved = { surface: errorSurface(-32602, err.message), episode: null };
      }
      served.set(request, resolved);
    }
    return modernServer(resolved.surface);
  };
  const handler = createMcpHandler(factory, { legacy: "reject", responseMode: "auto", maxRequestBodySize: o.maxBodyBytes, onerror: (err) => o.log(`envforge serve: ${MODERN_VERSION}: ${err.message}`) });
  const webRequests = new WeakMap<IncomingMessage, Request>();
  const webRequest = async (req: IncomingMessage, body: unknown): Promise<Request> => {
    let w = webRequests.get(req);
    if (!w) {
      w = await toWebRequest(req, body);
      webRequests.set(req, w);
    }
    return w;
  };

  return {
    async isLegacy(req, body) {
      // Without an envelope claim and without a modern MCP-Protocol-Version header, the SDK's classifier says legacy too:
      // answered here, a 2025 initialize costs no web Request.
      const header = req.headers["mcp-protocol-version"];
      if (!(Array.isArray(body) ? body.some(claims) : claims(body)) && !(typeof header === "string" && header >= MODERN_VERSION)) return true;
      return isLegacyRequest(await webRequest(req, body), body);
    },
    async handle(req, res, url, body, text) {
      const request = await webRequest(req, body);
      const resolved = await resolve(o, url, clientOf(req.socket.remoteAddress));
      served.set(request, resolved);
      const response = await handler.fetch(request, { parsedBody: body });
      const out = await response.text();
      const after = served.get(request)!;
      const episode = "open" in after ? null : after.episode;
      const episodeId = episode?.id ?? null;
      try {
        // No initialize in this era: the client names itself in every request's envelope.
        const meta = (Array.isArray(body) ? body[0] : body)?.params?._meta as Record<string, { name?: string; version?: string } | string | undefined> | undefined;
        const info = meta?.["io.modelcontextprotocol/clientInfo"];
        if (episode && !named.has(episode) && typeof info === "object") {
          named.add(episode);
          void o.recorder.setClient(episode.id, { name: info.name ?? null, version: info.version ?? null, protocolVersion: MODERN_VERSION });
        }
        for (const m of Array.isArray(body) ? body : [body]) void o.recorder.queueMessage({ episodeId, direction: "in", ...describeMessage(m), body: Array.isArray(body) ? JSON.stringify(m) : text });
        // A JSON body, or (when a handler sent something before its result) SSE frames of one message each.
        const sse = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
        const bodies = out === "" ? [] : sse ? out.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).filter((d) => d !== "") : [out];
        for (const text of bodies) {
          const answer = JSON.parse(text) as unknown;
          for (const m of Array.isArray(answer) ? answer : [answer]) void o.recorder.queueMessage({ episodeId, direction: "out", ...describeMessage(m), body: Array.isArray(answer) ? JSON.stringify(m) : text });
        }
        await o.recorder.committed();
      } catch (err) {
        // Never send what is not recorded.
        o.log(`envforge serve: recording failed: ${(err as Error).message}`);
        const id = (body as { id?: unknown }).id ?? null;
        const failure = JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32603, message: `the server could not record this exchange: ${(err as Error).message}` } });
        res.writeHead(500, { "content-type": "application/json" });
        return void res.end(failure);
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((v, k) => (headers[k] = v));
      res.writeHead(response.status, headers);
      res.end(out);
    },
    close: () => handler.close(),
  };
}
