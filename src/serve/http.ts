// The HTTP listener: MCP over Streamable HTTP, the REST and ORS faces, extra routes, the agent and control planes, safety checks and limits.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { describeMessage, Records, type Recorder } from "../store/index.ts";
import { idOf, INVALID_REQUEST, INVALID_REQUEST_MESSAGE, isJsonRpcMessage, PARSE_ERROR } from "./jsonrpc.ts";
import { openSession, type Session, type SessionOptions } from "./session.ts";
import { restRoutes } from "./rest.ts";
import { orsRoutes } from "./ors.ts";
import { modernFace } from "./modern.ts";
import { EpisodeService, LookupError, type EnvironmentRegistry, type ServeMode, admit, type FairnessLimits } from "../episode/index.ts";
import { clientOf } from "./fairness.ts";
import { ServerMetrics } from "./metrics.ts";

export const MCP_PATH = "/mcp";
/** Liveness, readiness and Prometheus metrics: control-plane routes (see opsRoutes). */
export const HEALTH_PATH = "/healthz";
export const READY_PATH = "/readyz";
export const METRICS_PATH = "/metrics";
export const DEFAULTS = {
  host: "127.0.0.1",
  maxBodyBytes: 1024 * 1024,
  maxSessions: 1000,
  /**
   * Episodes opened by id (REST, ORS, 2026-07-28 MCP) live in one process at once. They hold no
   * connection, and a sandbox only while resident (--resident); the rest cost tens of KiB each
   * (16,384 of them peaked at 1.2 GiB in bench/scale.ts), so twice a 16,384-rollout batch fits.
   */
  maxEpisodes: 32_768,
  reclaimIdleMs: 10_000,
  idleTimeoutMs: 10 * 60_000,
  /** A client gets this long to send a request's headers, and then its whole body (a lying Content-Length holds nothing longer). */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /**
   * How long an idle keep-alive connection stays open. Node's 5 s is shorter than a load balancer's or a
   * client pool's idle timeout (nginx and many balancers keep 60 s), so a connection the server was
   * closing got reused: 30 of 12,288 calls of bench/scale.ts on three replicas failed with ECONNRESET, none at 65 s.
   */
  keepAliveTimeoutMs: 65_000,
  /**
   * Connections the kernel holds until they are accepted. Node's 511 overflows when thousands of rollout
   * workers connect at once: the kernel then drops their handshakes and later resets them (ECONNRESET).
   * Linux caps it at net.core.somaxconn (4096 by default).
   */
  listenBacklog: 65_535,
} as const;

/** An error a route handler throws to answer with an HTTP status and a JSON body `{error}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Values of `:name` segments of the route's path. */
  params: Record<string, string>;
  registry: EnvironmentRegistry;
  recorder: Recorder;
  /** The live episodes every face drives. */
  service: EpisodeService;
  /** Scheme, host and port of the listener the request came to. */
  origin: string;
  /** Read access to the same database. */
  records: Records;
  /** The request body as text, refused with 413 past the server's body limit. */
  readBody(): Promise<string>;
  /** The request body parsed as JSON; bad JSON is a 400. */
  readJson(): Promise<unknown>;
  sendJson(status: number, value: unknown, headers?: Record<string, string>): void;
}

/**
 * An extra route (the reward API, the viewer). `path` is exact (`/v1/reward`), has `:name`
 * segments (`/v1/episodes/:id`), or ends in `/*` to match a whole prefix. Host and Origin
 * checks always apply; the bearer token too, unless `public` is set.
 *
 * `plane: "control"` marks a route that shows gold data or other episodes' scores (the
 * reward API, the viewer): it is served on the admin listener, or on the main one only to
 * the admin token, and never to the agent's credentials.
 */
export interface Route {
  method: string | readonly string[];
  path: string;
  public?: boolean;
  plane?: "agent" | "control";
  handler: (ctx: RouteContext) => void | Promise<void>;
}

export interface HttpServerOptions {
  registry: EnvironmentRegistry;
  recorder: Recorder;
  /** Address to bind; 127.0.0.1 unless you mean to expose the server (then use a token). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Require `Authorization: Bearer TOKEN` (or `X-API-Key: TOKEN`, as ORS clients send it) on every agent-plane request. */
  token?: string;
  /** The control plane's own token: control routes on the main listener answer only to it. */
  adminToken?: string;
  /** A second listener for the control plane alone (loopback by default; port 0 picks one). */
  admin?: { host?: string; port: number };
  /** The episode service; one is made from the registry and recorder when absent. */
  service?: EpisodeService;
  /** Serve the REST and ORS faces next to /mcp (default true). */
  faces?: boolean;
  /** More accepted Host values: `name` (any port) or `name:port`. Loopback names with the bound port are always accepted. */
  allowedHosts?: readonly string[];
  /** More accepted Origin values (`https://app.example`); origins of accepted hosts are accepted. */
  allowedOrigins?: readonly string[];
  maxBodyBytes?: number;
  maxSessions?: number;
  /** Open sessions one client (remote address, see clientOf) may hold; default `maxSessions`. */
  maxSessionsPerClient?: number;
  /** Live episodes opened by id (REST, ORS, 2026-07-28 MCP), whoever opened them; default DEFAULTS.maxEpisodes. */
  maxEpisodes?: number;
  /** Of those, what one client may hold; default `maxEpisodes`. */
  maxEpisodesPerClient?: number;
  /** When full, a client with fewer sessions (or episodes) may take the place of the largest holder's one idle this long. */
  reclaimIdleMs?: number;
  idleTimeoutMs?: number;
  /** Time to receive a request's headers, and the whole request; 408 and the connection closed past either. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (DEFAULTS.keepAliveTimeoutMs); above the idle timeout of whatever pools connections to it. */
  keepAliveTimeoutMs?: number;
  maxCallsPerEpisode?: number;
  /** Sandboxes kept resident at most; idle episodes beyond it are evicted and rebuilt by replay (see ResidentSet). */
  resident?: number;
  submitTool?: boolean;
  /** `train` keeps progress and the score off the agent plane. */
  mode?: ServeMode;
  /** The store is shared with other server processes behind a load balancer: see `ServiceOptions.shared`. */
  shared?: { leaseMs: number };
  routes?: readonly Route[];
  /** Diagnostics (refused requests, recording failures); stderr in the CLI. */
  log?: (line: string) => void;
  /** Sends OpenTelemetry spans for every MCP request (`serve --otlp`). */
  tracer?: SessionOptions["tracer"];
  /** Count episodes, calls and commits for GET /metrics (default true; false is the benchmark's baseline). */
  metrics?: boolean;
}

export interface HttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:8765/mcp */
  url: string;
  /** Scheme, host and port, e.g. http://127.0.0.1:8765 */
  origin: string;
  host: string;
  port: number;
  /** The control plane's listener (`http://127.0.0.1:PORT`), null without `admin`. */
  adminOrigin: string | null;
  service: EpisodeService;
  /** Open MCP sessions (episodes and catalog). */
  sessionCount(): number;
  /** Ends every open episode as `closed`, then stops listening. */
  close(): Promise<void>;
}

interface LiveSession {
  session: Session;
  client: string;
  transport: StreamableHTTPServerTransport;
  lastActive: number;
  inflight: number;
}

type Rejection = { status: number; code: number; message: string; headers?: Record<string, string> };

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

const rpcError = (id: unknown, code: number, message: string) => ({ jsonrpc: "2.0" as const, id: typeof id === "string" || typeof id === "number" ? id : null, error: { code, message } });

/** Reads a body up to `max` bytes; null when it is larger (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  if (Number(req.headers["content-length"] ?? 0) > max) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > max ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The first route whose path and method match, with its params. */
function findRoute(routes: readonly Route[], req: IncomingMessage, url: URL): { route: Route; params: Record<string, string> } | null {
  for (const route of routes) {
    const methods = typeof route.method === "string" ? [route.method] : route.method;
    const params = matchPath(route.path, url.pathname);
    if (params !== null && (methods.includes("*") || methods.includes(req.method ?? ""))) return { route, params };
  }
  return null;
}

/** `/v1/episodes/:id` against a pathname: the params, or null when it does not match. */
function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -1);
    return pathname.startsWith(prefix) || pathname === prefix.slice(0, -1) ? {} : null;
  }
  const want = pattern.split("/");
  const got = pathname.split("/");
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(":")) {
      if (g === "") return null;
      params[w.slice(1)] = decodeURIComponent(g);
    } else if (w !== g) return null;
  }
  return params;
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/** Starts the HTTP server; resolves once it listens. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { registry, recorder } = options;
  // The readers (reward API, viewer) query SQLite directly; made on first use, so a server on PostgreSQL starts without them.
  let records: Records | null = null;
  const readRecords = (): Records => (records ??= new Records(recorder.db));
  const log = options.log ?? (() => undefined);
  const maxBody = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const maxSessions = options.maxSessions ?? DEFAULTS.maxSessions;
  const reclaimIdleMs = options.reclaimIdleMs ?? DEFAULTS.reclaimIdleMs;
  const fairness: FairnessLimits = { maxSessions, maxPerClient: options.maxSessionsPerClient ?? maxSessions, reclaimIdleMs };
  const maxEpisodes = options.maxEpisodes ?? DEFAULTS.maxEpisodes;
  const episodeLimits: FairnessLimits = { maxSessions: maxEpisodes, maxPerClient: options.maxEpisodesPerClient ?? maxEpisodes, reclaimIdleMs };
  const idleMs = options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs;
  const bindHost = options.host ?? DEFAULTS.host;
  const tokenDigest = options.token ? digest(options.token) : null;
  const adminDigest = options.adminToken ? digest(options.adminToken) : null;
  if (options.adminToken !== undefined && options.adminToken === options.token) throw new Error("the admin token must differ from the agent token: the control plane never answers the agent's credentials");
  const service = options.service ?? new EpisodeService(registry, recorder, { ...(options.maxCallsPerEpisode !== undefined ? { maxCalls: options.maxCallsPerEpisode } : {}), ...(options.submitTool !== undefined ? { submitTool: options.submitTool } : {}), ...(options.mode !== undefined ? { mode: options.mode } : {}), ...(options.shared ? { shared: options.shared } : {}), ...(options.resident !== undefined ? { resident: options.resident } : {}), episodeLimits });
  const custom = options.routes ?? [];
  /** Agent plane: what the agent's credentials reach. Custom routes first, so a caller can override a face's path. */
  const agentRoutes = [...custom.filter((r) => r.plane !== "control"), ...(options.faces === false ? [] : [...restRoutes(), ...orsRoutes()])];
  const metrics = options.metrics === false ? null : new ServerMetrics(service, recorder);
  const detachMetrics = metrics?.attach();
  /** Control plane: gold data and every episode's score, and the operators' routes; the admin listener, or the admin token. */
  const controlRoutes = [...opsRoutes(), ...custom.filter((r) => r.plane === "control")];
  let adminOrigin: string | null = null;
  const sessions = new Map<string, LiveSession>();
  let allowedHosts = new Set<string>();
  let allowedOrigins = new Set<string>();
  let origin = "";
  /** Set by close(): no new session starts, so none is left running. */
  let closing = false;

  const hostAllowed = (host: string | undefined): boolean => {
    if (!host) return false;
    if (allowedHosts.has(host.toLowerCase())) return true;
    const name = host.replace(/:\d+$/, "").toLowerCase();
    return allowedHosts.has(`${name}:*`);
  };

  /** DNS rebinding: a page on another site must not reach this server through a name it controls. */
  function checkHostAndOrigin(req: IncomingMessage): Rejection | null {
    const host = req.headers.host;
    if (!hostAllowed(host)) {
      return { status: 403, code: -32000, message: `Forbidden: Host header ${JSON.stringify(host ?? null)} is not allowed; add it with --allowed-host` };
    }
    const from = req.headers.origin;
    if (from !== undefined && !allowedOrigins.has(from.toLowerCase())) {
      return { status: 403, code: -32000, message: `Forbidden: Origin ${JSON.stringify(from)} is not allowed; add it with --allowed-origin` };
    }
    return null;
  }

  /** Whether the request presents `wanted` as a bearer token or (ORS clients) as X-API-Key. */
  function presents(req: IncomingMessage, wanted: Buffer): boolean {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    const key = req.headers["x-api-key"];
    return (match !== null && timingSafeEqual(digest(match[1]!.trim()), wanted)) || (typeof key === "string" && timingSafeEqual(digest(key.trim()), wanted));
  }

  function checkToken(req: IncomingMessage, wanted: Buffer | null = tokenDigest): Rejection | null {
    if (!wanted) return null;
    if (presents(req, wanted)) return null;
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    const challenge = match ? 'Bearer realm="envforge", error="invalid_token"' : 'Bearer realm="envforge"';
    return { status: 401, code: -32001, message: match ? "Unauthorized: wrong bearer token" : "Unauthorized: send Authorization: Bearer TOKEN", headers: { "www-authenticate": challenge } };
  }

  const reject = (res: ServerResponse, r: Rejection, id: unknown = null): void => sendJson(res, r.status, rpcError(id, r.code, r.message), r.headers);

  /** Answers a request that never reached a session, recording both the request and the answer. */
  async function refuse(res: ServerResponse, episodeId: string | null, body: string, message: JSONRPCMessage | null, r: Rejection): Promise<void> {
    const id = (message as { id?: unknown } | null)?.id ?? null;
    const response = rpcError(id, r.code, r.message);
    try {
      const d = message ? describeMessage(message) : { type: "invalid" as const, method: null, requestId: null };
      void recorder.queueMessage({ episodeId, direction: "in", ...d, body });
      await recorder.queueMessage({ episodeId, direction: "out", ...describeMessage(response), body: JSON.stringify(response) });
    } catch (err) {
      log(`envforge serve: could not record a refused request: ${(err as Error).message}`);
    }
    sendJson(res, r.status, response, r.headers);
  }

  const connectHint = (envId: string, taskId: string): string =>
    `${origin}${MCP_PATH}?env=${encodeURIComponent(envId)}&task=${encodeURIComponent(taskId)}`;
  const modern = modernFace({ registry, recorder, service, connectHint, maxBodyBytes: maxBody, log });

  async function createSession(url: URL, req: IncomingMessage): Promise<LiveSession> {
    const sessionId = randomUUID();
    const episodeHeader = req.headers["x-episode-id"];
    const session = await openSession({
      registry,
      recorder,
      service,
      transport: "http",
      envId: url.searchParams.get("env"),
      taskId: url.searchParams.get("task"),
      episodeId: url.searchParams.get("episode") ?? (typeof episodeHeader === "string" ? episodeHeader : null),
      sessionId,
      connectHint,
      ...(options.maxCallsPerEpisode !== undefined ? { maxCalls: options.maxCallsPerEpisode } : {}),
      ...(options.submitTool !== undefined ? { submitTool: options.submitTool } : {}),
      ...(options.mode !== undefined ? { mode: options.mode } : {}),
      onRecordError: (err) => log(`envforge serve: recording failed: ${err.message}`),
      onClose: () => sessions.delete(sessionId),
      ...(options.tracer ? { tracer: options.tracer } : {}),
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => sessionId, enableJsonResponse: true });
    await session.connect(transport);
    if (closing) {
      void session.close("closed");
      throw new LookupError("Service Unavailable: the server is shutting down", 503);
    }
    const live: LiveSession = { session, client: clientOf(req.socket.remoteAddress), transport, lastActive: performance.now(), inflight: 0 };
    sessions.set(sessionId, live);
    return live;
  }

  async function forward(live: LiveSession, req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    live.lastActive = performance.now();
    live.inflight++;
    try {
      await live.transport.handleRequest(req, res, body);
    } finally {
      live.inflight--;
      live.lastActive = performance.now();
    }
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const sid = req.headers["mcp-session-id"];
    const live = typeof sid === "string" ? sessions.get(sid) : undefined;
    if (typeof sid === "string" && !live) return reject(res, { status: 404, code: -32001, message: "Session not found: it ended or was never opened; initialize a new one" });
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") return reject(res, { status: 415, code: -32000, message: "Unsupported Media Type: Content-Type must be application/json" });
    const text = await readBody(req, maxBody);
    if (text === null) return reject(res, { status: 413, code: -32000, message: `Payload Too Large: a request body may be at most ${maxBody} bytes` });
    const episodeId = live?.session.id ?? null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return refuse(res, episodeId, text, null, { status: 400, code: PARSE_ERROR, message: `Parse error: ${(err as Error).message}` });
    }
    const items: unknown[] = Array.isArray(value) ? value : [value];
    if (items.length === 0) return refuse(res, episodeId, text, null, { status: 400, code: INVALID_REQUEST, message: "Invalid Request: empty batch" });
    const bad = items.find((item) => !isJsonRpcMessage(item));
    if (bad !== undefined) {
      return refuse(res, episodeId, text, { id: idOf(bad) } as unknown as JSONRPCMessage, { status: 400, code: INVALID_REQUEST, message: INVALID_REQUEST_MESSAGE });
    }
    const messages = items as JSONRPCMessage[];
    if (live) return forward(live, req, res, value);
    // No session: a 2026-07-28 request (its own _meta, its episode in the URL), or a 2025 initialize.
    if (!(await modern.isLegacy(req, value))) return modern.handle(req, res, url, value, text);

    const first = messages[0]!;
    if (messages.length !== 1 || !("method" in first) || first.method !== "initialize" || !("id" in first)) {
      return refuse(res, null, text, first, { status: 400, code: -32000, message: "Bad Request: Mcp-Session-Id header is required; start a session with a single initialize request" });
    }
    if (closing) {
      return refuse(res, null, text, first, { status: 503, code: -32000, message: "Service Unavailable: the server is shutting down", headers: { connection: "close" } });
    }
    const admission = admit(sessions.values(), clientOf(req.socket.remoteAddress), fairness, performance.now());
    if (admission.type === "refuse") return refuse(res, null, text, first, { status: admission.status, code: -32000, message: admission.message, headers: { "retry-after": "5" } });
    if (admission.type === "reclaim") await admission.session.session.close("idle_timeout");
    let created: LiveSession;
    try {
      created = await createSession(url, req);
    } catch (err) {
      if (!(err instanceof LookupError)) throw err;
      return refuse(res, null, text, first, { status: err.status, code: err.status === 503 ? -32000 : -32602, message: err.message });
    }
    return forward(created, req, res, value);
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === "POST") return handlePost(req, res, url);
    if (req.method !== "GET" && req.method !== "DELETE") {
      return reject(res, { status: 405, code: -32000, message: "Method Not Allowed: use POST, GET or DELETE", headers: { allow: "GET, POST, DELETE" } });
    }
    const sid = req.headers["mcp-session-id"];
    if (typeof sid !== "string") return reject(res, { status: 400, code: -32000, message: "Bad Request: Mcp-Session-Id header is required" });
    const live = sessions.get(sid);
    if (!live) return reject(res, { status: 404, code: -32001, message: "Session not found: it ended or was never opened; initialize a new one" });
    if (req.method === "GET") {
      // A standing SSE stream is not activity: the idle reaper still ends a silent episode.
      live.lastActive = performance.now();
      return live.transport.handleRequest(req, res);
    }
    return forward(live, req, res);
  }

  async function handleRoute(route: Route, params: Record<string, string>, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const ctx: RouteContext = {
      req,
      res,
      url,
      params,
      registry,
      recorder,
      service,
      origin: `http://${req.headers.host ?? ""}`,
      get records() {
        return readRecords();
      },
      async readBody() {
        const text = await readBody(req, maxBody);
        if (text === null) throw new HttpError(413, `request body larger than ${maxBody} bytes`);
        return text;
      },
      async readJson() {
        const text = await ctx.readBody();
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
        }
      },
      sendJson: (status, value, headers) => sendJson(res, status, value, headers),
    };
    try {
      await route.handler(ctx);
    } catch (err) {
      if (res.headersSent) return void res.end();
      if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else {
        log(`envforge serve: ${req.method} ${url.pathname} failed: ${(err as Error).stack ?? String(err)}`);
        sendJson(res, 500, { error: `internal error: ${(err as Error).message}` });
      }
    }
  }

  /** Why a new episode could not be opened now, or null when it could. */
  function notReady(): string | null {
    if (closing) return "the server is shutting down";
    if (registry.size === 0) return "no environments are loaded";
    return recorder.failure?.reason ?? null;
  }

  /**
   * Liveness and readiness for probes and load balancers (public on the admin listener: a probe
   * cannot send a token; no paths shown), and the Prometheus metrics (behind the admin token when
   * there is one: a scraper can send it).
   */
  function opsRoutes(): Route[] {
    const routes: Route[] = [
      // Liveness answers from memory alone, so a slow or failed store never gets the process restarted.
      // HEAD too: some load balancers check with it (Node sends no body to a HEAD).
      { method: ["GET", "HEAD"], path: HEALTH_PATH, public: true, plane: "control", handler: (ctx) => ctx.sendJson(200, { live: true }) },
      {
        method: ["GET", "HEAD"],
        path: READY_PATH,
        public: true,
        plane: "control",
        handler: (ctx) => {
          const reason = notReady();
          const state = { store: recorder.failure ? "unwritable" : "writable", environments: registry.size, sessions: sessions.size, episodes: service.size };
          if (reason === null) ctx.sendJson(200, { ready: true, ...state });
          else ctx.sendJson(503, { ready: false, reason, ...state }, { "retry-after": "1" });
        },
      },
    ];
    if (!metrics) return routes;
    const handler = async ({ res }: RouteContext) => {
      const { text, contentType } = await metrics.render();
      res.writeHead(200, { "content-type": contentType, "content-length": String(Buffer.byteLength(text)) });
      res.end(text);
    };
    return [...routes, { method: "GET", path: METRICS_PATH, plane: "control", handler }];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = checkHostAndOrigin(req);
    if (refused) {
      log(`envforge serve: refused ${req.method} ${req.url}: ${refused.message}`);
      return reject(res, refused);
    }
    const url = new URL(req.url ?? "/", origin);
    if (url.pathname === MCP_PATH) {
      const unauthorized = checkToken(req);
      if (unauthorized) return reject(res, unauthorized);
      return handleMcp(req, res, url);
    }
    if (adminDigest && presents(req, adminDigest)) {
      const control = findRoute(controlRoutes, req, url);
      if (control) return handleRoute(control.route, control.params, req, res, url);
    }
    const found = findRoute(agentRoutes, req, url);
    if (found) {
      const unauthorized = found.route.public ? null : checkToken(req);
      if (unauthorized) return sendJson(res, unauthorized.status, { error: unauthorized.message }, unauthorized.headers);
      return handleRoute(found.route, found.params, req, res, url);
    }
    if (findRoute(controlRoutes, req, url)) {
      const where = adminOrigin ? `the admin listener ${adminOrigin}` : adminDigest ? "this listener, to the admin token only" : "an admin listener (serve --admin HOST:PORT)";
      return sendJson(res, 403, { error: `Forbidden: ${url.pathname} is on the control plane, served on ${where}; the agent's credentials never reach it` });
    }
    sendJson(res, 404, { error: `nothing at ${url.pathname}; the MCP endpoint is ${MCP_PATH}` });
  }

  /** The control plane's own listener: control routes only, behind the admin token when there is one. */
  async function handleAdmin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = checkHostAndOrigin(req);
    if (refused) return sendJson(res, refused.status, { error: refused.message });
    const url = new URL(req.url ?? "/", adminOrigin ?? origin);
    const found = findRoute(controlRoutes, req, url);
    // A public route (the viewer with its login page) checks the admin token itself.
    const unauthorized = found?.route.public ? null : checkToken(req, adminDigest);
    if (unauthorized) return sendJson(res, unauthorized.status, { error: `${unauthorized.message} (the admin token)` }, unauthorized.headers);
    if (found) return handleRoute(found.route, found.params, req, res, url);
    sendJson(res, 404, { error: `nothing at ${url.pathname} on the control plane; agents connect to ${origin}${MCP_PATH}` });
  }

  const requestTimeout = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs, requestTimeout);
  // Node checks both timeouts every connectionsCheckingInterval (30 s by default): often enough to honour short ones.
  const timeouts = { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(10, Math.min(1000, headersTimeout / 2)), keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs };
  const serveWith = (handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) =>
    createServer(timeouts, (req, res) => {
      handler(req, res).catch((err: Error) => {
        log(`envforge serve: ${req.method} ${req.url} failed: ${err.stack ?? String(err)}`);
        if (!res.headersSent) sendJson(res, 500, rpcError(null, -32603, `Internal error: ${err.message}`));
        else res.end();
      });
    });
  const listen = (srv: ReturnType<typeof createServer>, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ port, host, backlog: DEFAULTS.listenBacklog }, () => {
        srv.off("error", reject);
        resolve((srv.address() as AddressInfo).port);
      });
    });
  const server = serveWith(handle);
  const port = await listen(server, options.port ?? 0, bindHost);
  const adminServer = options.admin ? serveWith(handleAdmin) : null;
  const adminPort = adminServer ? await listen(adminServer, options.admin!.port, options.admin!.host ?? DEFAULTS.host) : null;
  const hostForUrl = bindHost.includes(":") ? `[${bindHost}]` : bindHost;
  const urlHost = bindHost === "0.0.0.0" || bindHost === "::" ? "127.0.0.1" : hostForUrl;
  origin = `http://${urlHost}:${port}`;
  const names = new Set([...LOOPBACK.map((h) => `${h}:${port}`), `${hostForUrl}:${port}`.toLowerCase()]);
  if (adminPort !== null) {
    const adminHost = options.admin!.host ?? DEFAULTS.host;
    const adminForUrl = adminHost.includes(":") ? `[${adminHost}]` : adminHost;
    adminOrigin = `http://${adminHost === "0.0.0.0" || adminHost === "::" ? "127.0.0.1" : adminForUrl}:${adminPort}`;
    for (const h of [...LOOPBACK, adminForUrl]) names.add(`${h}:${adminPort}`.toLowerCase());
  }
  for (const h of options.allowedHosts ?? []) names.add(/:\d+$/.test(h) && !h.endsWith("]") ? h.toLowerCase() : `${h.toLowerCase()}:*`);
  allowedHosts = names;
  allowedOrigins = new Set([
    ...[...names].filter((h) => !h.endsWith(":*")).flatMap((h) => [`http://${h}`, `https://${h}`]),
    ...(options.allowedOrigins ?? []).map((o) => o.toLowerCase()),
  ]);

  const reaper = setInterval(() => {
    const cutoff = performance.now() - idleMs;
    for (const live of sessions.values()) {
      if (live.inflight === 0 && live.lastActive < cutoff) void live.session.close("idle_timeout");
    }
    service.reap(idleMs);
    // Shared episodes that no process holds any more: another process's idle reaper never sees them.
    if (!closing) service.sweep(idleMs).catch((err: Error) => log(`envforge serve: sweeping idle shared episodes failed: ${err.message}`));
  }, Math.max(20, Math.min(idleMs / 4, 30_000)));
  reaper.unref();

  return {
    url: `${origin}${MCP_PATH}`,
    origin,
    host: bindHost,
    port,
    adminOrigin,
    service,
    sessionCount: () => sessions.size,
    async close() {
      closing = true;
      clearInterval(reaper);
      await modern.close();
      // A session whose initialize was under way when closing began joins the map later; it is closed too.
      while (sessions.size > 0) await Promise.all([...sessions.values()].map((live) => live.session.close("closed")));
      await service.closeAll("closed");
      detachMetrics?.();
      await Promise.all(
        [server, adminServer].map(
          (srv) =>
            srv &&
            new Promise<void>((resolve) => {
              srv.close(() => resolve());
              srv.closeAllConnections();
            }),
        ),
      );
    },
  };
}
