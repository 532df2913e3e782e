// The MCP surfaces, defined once for both SDK lines: an episode (one task, its tools, prompt and resources) and the catalog.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Resource,
  type ServerNotification,
  type ServerRequest,
  type ServerResult,
  type Tool as McpTool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { plural, SCENARIOS, type Environment } from "../schema/index.ts";
import { agentDescriptions, agentProgress, toolDoc, type EnvironmentRegistry, type EpisodeSession } from "../episode/index.ts";

export const SERVER_NAME = "envforge";
export const SERVER_VERSION = "0.1.0";
export const TASK_URI = "envforge://task";
export const EPISODE_URI = "envforge://episode";
export const CATALOG_URI = "envforge://catalog";
const ENV_URI_PREFIX = "envforge://environments/";
/** The MCP spec's code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;
const PAGE = 100;

/** A tool document exactly as the environment file gives it, typed for the SDK. */
export const mcpTool = (tool: Parameters<typeof toolDoc>[0]): McpTool => toolDoc(tool) as McpTool;

const json = (value: unknown): string => JSON.stringify(value, null, 2);

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What a surface's handler gets besides the request, whichever SDK line serves it. */
export interface CallInfo {
  requestId?: string | number;
  meta?: unknown;
}
type Schema = z.ZodObject<{ method: z.ZodLiteral<string> }>;
/** Registers one handler on a server of either SDK line. */
export type Register = <S extends Schema>(schema: S, handler: (request: z.output<S>, info: CallInfo) => ServerResult | Promise<ServerResult>) => void;

/** A server's identity, capabilities and instructions, and the handlers it registers. */
export interface SurfaceDef {
  info: { name: string; version: string; title: string };
  capabilities: Record<string, object>;
  instructions: string;
  define(register: Register): void;
}

/**
 * A JSON-RPC error to throw from a handler. Not McpError: that one prefixes its message
 * with "MCP error CODE:", and clients prefix it again when they raise it.
 */
function rpcError(code: number, message: string, data?: unknown): Error {
  return Object.assign(new Error(message), { code, ...(data !== undefined ? { data } : {}) });
}

/**
 * Registers a request handler whose malformed params are answered with -32602 (invalid
 * params). The SDK parses params before calling a handler and reports a failure as -32603
 * (internal error), which would blame the server for the client's mistake.
 */
function handle<S extends z.ZodObject<{ method: z.ZodLiteral<string> }>>(
  server: Server,
  schema: S,
  handler: (request: z.output<S>, info: CallInfo) => ServerResult | Promise<ServerResult>,
): void {
  const method = schema.shape.method.value;
  server.setRequestHandler(z.looseObject({ method: z.literal(method) }), (raw, extra) => {
    // The Server class checks tools/call params itself (answering -32602), so they are not parsed twice.
    const info: CallInfo = { requestId: (extra as Extra).requestId, meta: (raw as { params?: { _meta?: unknown } }).params?._meta };
    if (method === "tools/call") return handler(raw as z.output<S>, info);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw rpcError(ErrorCode.InvalidParams, `invalid ${method} params: ${z.prettifyError(parsed.error)}`);
    return handler(parsed.data, info);
  });
}

/** The requests an episode answers. */
export const EPISODE_REQUESTS = [
  ListToolsRequestSchema,
  CallToolRequestSchema,
  ListPromptsRequestSchema,
  GetPromptRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ReadResourceRequestSchema,
] as const;

/** A 2025-11-25 (SDK 1.x) server for a surface. */
function legacyServer(def: SurfaceDef): Server {
  const server = new Server(def.info, { capabilities: def.capabilities, instructions: def.instructions });
  def.define((schema, handler) => handle(server, schema, handler));
  return server;
}

/** The server of one episode. Connect it to a RecordingTransport (see `connectEpisode`). */
export function createEpisodeServer(episode: EpisodeSession): Server {
  return legacyServer(episodeSurface(episode));
}

/** One episode's MCP surface: its tools, its task as prompt and resource, and its progress. */
export function episodeSurface(episode: EpisodeSession): SurfaceDef {
  const { env, task } = episode;
  // `logging` only so that clients which set a log level (Inspector does) get a normal answer; nothing is logged to them.
  return {
    info: { name: SERVER_NAME, version: SERVER_VERSION, title: `${env.title} (task ${task.id})` },
    capabilities: { tools: { listChanged: false }, prompts: { listChanged: false }, resources: { listChanged: false }, logging: {} },
    instructions: episode.instructions,
    define: (handle) => defineEpisode(episode, handle),
  };
}

function defineEpisode(episode: EpisodeSession, handle: Register): void {
  const { env, task } = episode;
  const tools = episode.toolDocs() as McpTool[];
  handle(ListToolsRequestSchema, () => ({ tools }));
  handle(CallToolRequestSchema, (req, info) => episode.callTool(req.params.name, req.params.arguments ?? {}, { requestId: info.requestId ?? null, meta: info.meta }));
  handle(ListPromptsRequestSchema, () => ({
    prompts: [{ name: task.id, title: `Task ${task.id}`, description: `The question of this episode's task (${env.title})` }],
  }));
  handle(GetPromptRequestSchema, (req) => {
    if (req.params.name !== task.id) throw rpcError(ErrorCode.InvalidParams, `unknown prompt "${req.params.name}"; this episode's prompt is "${task.id}"`);
    return { description: `Task ${task.id} of ${env.title}`, messages: [{ role: "user" as const, content: { type: "text" as const, text: task.question } }] };
  });
  const resources: Resource[] = [
    { uri: TASK_URI, name: "task", title: "The task", description: "The question this episode asks", mimeType: "text/plain" },
    { uri: EPISODE_URI, name: "episode", title: "Episode progress", description: agentDescriptions(episode.mode).episode, mimeType: "application/json" },
  ];
  handle(ListResourcesRequestSchema, () => ({ resources }));
  handle(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [] }));
  handle(ReadResourceRequestSchema, (req) => {
    const uri = req.params.uri;
    if (uri === TASK_URI) return { contents: [{ uri, mimeType: "text/plain", text: task.question }] };
    if (uri === EPISODE_URI) return { contents: [{ uri, mimeType: "application/json", text: json(agentProgress(episode)) }] };
    throw rpcError(RESOURCE_NOT_FOUND, `resource not found: ${uri}`, { uri });
  });
}

export interface CatalogOptions {
  /** How a client connects to one task, e.g. the episode URL; shown next to each task. */
  connectHint: (envId: string, taskId: string) => string;
}

function envSummary(env: Environment, hint: CatalogOptions["connectHint"]) {
  return {
    id: env.id,
    title: env.title,
    domain: env.domain,
    scenario: env.scenario,
    complexity: env.complexity,
    tools: env.tools.length,
    tasks: env.tasks.map((t) => ({ id: t.id, question: t.question, connect: hint(env.id, t.id) })),
  };
}

/** Everything a client may see of an environment: tool documents and questions; never implementations or answers. */
function envDescription(env: Environment, hint: CatalogOptions["connectHint"]) {
  return { ...envSummary(env, hint), provenance: { generator: env.provenance.generator, version: env.provenance.version }, tools: env.tools.map(mcpTool) };
}

const LIST_TOOL: McpTool = {
  name: "list_environments",
  title: "List environments",
  description: "List the environments this server offers, with their tasks' questions and how to start an episode of each. Filter by domain or scenario; page with offset.",
  inputSchema: {
    type: "object",
    properties: {
      domain: { type: "string", description: "Only environments of this domain." },
      scenario: { type: "string", enum: [...SCENARIOS], description: "Only environments of this scenario type." },
      offset: { type: "integer", minimum: 0, default: 0 },
      limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
    },
    additionalProperties: false,
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

const DESCRIBE_TOOL: McpTool = {
  name: "describe_environment",
  title: "Describe an environment",
  description: "Show one environment's tool documents and tasks.",
  inputSchema: { type: "object", properties: { env: { type: "string", description: "The environment id." } }, required: ["env"], additionalProperties: false },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

const errorResult = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true });

/** The catalog: what is served and how to connect; it runs no environment code. */
export function createCatalogServer(registry: EnvironmentRegistry, options: CatalogOptions): Server {
  return legacyServer(catalogSurface(registry, options));
}

export function catalogSurface(registry: EnvironmentRegistry, options: CatalogOptions): SurfaceDef {
  const hint = options.connectHint;
  const example = registry.list()[0]?.env;
  return {
    info: { name: SERVER_NAME, version: SERVER_VERSION, title: "envforge catalog" },
    capabilities: { tools: { listChanged: false }, resources: { listChanged: false }, logging: {} },
    instructions:
      `This is the envforge catalog of ${registry.size} tool-use environments. Each environment has tasks; an episode serves one task. ` +
      `Use list_environments to browse, then connect to a task${example ? `, for example: ${hint(example.id, example.tasks[0]!.id)}` : ""}.`,
    define: (handle) => defineCatalog(registry, hint, example, handle),
  };
}

function defineCatalog(registry: EnvironmentRegistry, hint: CatalogOptions["connectHint"], example: Environment | undefined, handle: Register): void {
  handle(ListToolsRequestSchema, () => ({ tools: [LIST_TOOL, DESCRIBE_TOOL] }));
  handle(CallToolRequestSchema, (req) => {
    const args = (req.params.arguments ?? {}) as Record<string, unknown>;
    if (req.params.name === LIST_TOOL.name) {
      const offset = Number.isInteger(args.offset) ? Math.max(0, args.offset as number) : 0;
      const limit = Number.isInteger(args.limit) ? Math.min(500, Math.max(1, args.limit as number)) : 50;
      const matches = registry
        .list()
        .map((e) => e.env)
        .filter((env) => (args.domain === undefined || env.domain === args.domain) && (args.scenario === undefined || env.scenario === args.scenario));
      const page = matches.slice(offset, offset + limit).map((env) => envSummary(env, hint));
      const next = offset + page.length < matches.length ? offset + page.length : null;
      return { content: [{ type: "text", text: json({ total: matches.length, offset, next_offset: next, environments: page }) }] };
    }
    if (req.params.name === DESCRIBE_TOOL.name) {
      const entry = typeof args.env === "string" ? registry.get(args.env) : undefined;
      if (!entry) return errorResult(`unknown environment ${JSON.stringify(args.env ?? null)}; list_environments shows the ${registry.size} there are`);
      return { content: [{ type: "text", text: json(envDescription(entry.env, hint)) }] };
    }
    return errorResult(`unknown tool "${req.params.name}"; the catalog has list_environments and describe_environment`);
  });
  handle(ListResourcesRequestSchema, (req) => {
    const offset = Number(req.params?.cursor ?? 0);
    if (!Number.isInteger(offset) || offset < 0) throw rpcError(ErrorCode.InvalidParams, `invalid cursor ${JSON.stringify(req.params?.cursor)}`);
    const all = registry.list();
    const resources: Resource[] = [
      ...(offset === 0 ? [{ uri: CATALOG_URI, name: "catalog", title: "Catalog", description: "Counts by scenario and domain, and how to connect", mimeType: "application/json" }] : []),
      ...all.slice(offset, offset + PAGE).map(({ env }) => ({ uri: ENV_URI_PREFIX + env.id, name: env.id, title: env.title, description: `${env.scenario}, ${env.domain}, ${plural(env.tasks.length, "task")}`, mimeType: "application/json" })),
    ];
    return { resources, ...(offset + PAGE < all.length ? { nextCursor: String(offset + PAGE) } : {}) };
  });
  handle(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [{ uriTemplate: `${ENV_URI_PREFIX}{id}`, name: "environment", title: "An environment", description: "Tool documents and tasks of one environment", mimeType: "application/json" }],
  }));
  handle(ReadResourceRequestSchema, (req) => {
    const uri = req.params.uri;
    if (uri === CATALOG_URI) {
      const count = (key: "scenario" | "domain") => registry.list().reduce<Record<string, number>>((acc, { env }) => ((acc[env[key]] = (acc[env[key]] ?? 0) + 1), acc), {});
      const text = json({ environments: registry.size, tasks: registry.list().reduce((n, e) => n + e.env.tasks.length, 0), by_scenario: count("scenario"), by_domain: count("domain"), connect: example ? hint(example.id, example.tasks[0]!.id) : null });
      return { contents: [{ uri, mimeType: "application/json", text }] };
    }
    const entry = uri.startsWith(ENV_URI_PREFIX) ? registry.get(uri.slice(ENV_URI_PREFIX.length)) : undefined;
    if (!entry) throw rpcError(RESOURCE_NOT_FOUND, `resource not found: ${uri}`, { uri });
    return { contents: [{ uri, mimeType: "application/json", text: json(envDescription(entry.env, hint)) }] };
  });
}
