// The MCP surfaces: an episode server (one task, its tools, prompt and resources) and the catalog server.
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
import { SCENARIOS, type Environment, type Tool } from "../schema/index.ts";
import { agentDescriptions } from "./agent-view.ts";
import { SUBMIT_TOOL, type EpisodeSession } from "./episode.ts";
import type { EnvironmentRegistry } from "./registry.ts";

export const SERVER_NAME = "envforge";
export const SERVER_VERSION = "0.1.0";
export const TASK_URI = "envforge://task";
export const EPISODE_URI = "envforge://episode";
export const CATALOG_URI = "envforge://catalog";
const ENV_URI_PREFIX = "envforge://environments/";
/** The MCP spec's code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;
const PAGE = 100;

/** A tool document exactly as the environment file gives it. */
export function mcpTool(tool: Tool): McpTool {
  return {
    name: tool.name,
    ...(tool.annotations?.title ? { title: tool.annotations.title } : {}),
    description: tool.description,
    inputSchema: tool.input_schema as McpTool["inputSchema"],
    ...(tool.output_schema ? { outputSchema: tool.output_schema as McpTool["outputSchema"] } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
  };
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

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
  handler: (request: z.output<S>, extra: Extra) => ServerResult | Promise<ServerResult>,
): void {
  const method = schema.shape.method.value;
  server.setRequestHandler(z.looseObject({ method: z.literal(method) }), (raw, extra) => {
    // The Server class checks tools/call params itself (answering -32602), so they are not parsed twice.
    if (method === "tools/call") return handler(raw as z.output<S>, extra);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw rpcError(ErrorCode.InvalidParams, `invalid ${method} params: ${z.prettifyError(parsed.error)}`);
    return handler(parsed.data, extra);
  });
}

/** The server of one episode. Connect it to a RecordingTransport (see `connectEpisode`). */
export function createEpisodeServer(episode: EpisodeSession): Server {
  const { env, task } = episode;
  const submitHint = episode.submitTool ? `\n\nWhen you know the answer, call the ${SUBMIT_TOOL} tool with it; that ends the episode.` : "";
  // `logging` only so that clients which set a log level (Inspector does) get a normal answer; nothing is logged to them.
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION, title: `${env.title} (task ${task.id})` },
    {
      capabilities: { tools: { listChanged: false }, prompts: { listChanged: false }, resources: { listChanged: false }, logging: {} },
      instructions: `${task.question}${submitHint}`,
    },
  );
  const tools = [...env.tools.map(mcpTool), ...(episode.submitTool ? [episode.submitToolDoc()] : [])];
  handle(server, ListToolsRequestSchema, () => ({ tools }));
  handle(server, CallToolRequestSchema, (req, extra) =>
    episode.callTool(req.params.name, req.params.arguments ?? {}, { requestId: extra.requestId, meta: req.params._meta }),
  );
  handle(server, ListPromptsRequestSchema, () => ({
    prompts: [{ name: task.id, title: `Task ${task.id}`, description: `The question of this episode's task (${env.title})` }],
  }));
  handle(server, GetPromptRequestSchema, (req) => {
    if (req.params.name !== task.id) throw rpcError(ErrorCode.InvalidParams, `unknown prompt "${req.params.name}"; this episode's prompt is "${task.id}"`);
    return { description: `Task ${task.id} of ${env.title}`, messages: [{ role: "user" as const, content: { type: "text" as const, text: task.question } }] };
  });
  const resources: Resource[] = [
    { uri: TASK_URI, name: "task", title: "The task", description: "The question this episode asks", mimeType: "text/plain" },
    { uri: EPISODE_URI, name: "episode", title: "Episode progress", description: agentDescriptions(episode.mode).episode, mimeType: "application/json" },
  ];
  handle(server, ListResourcesRequestSchema, () => ({ resources }));
  handle(server, ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [] }));
  handle(server, ReadResourceRequestSchema, (req) => {
    const uri = req.params.uri;
    if (uri === TASK_URI) return { contents: [{ uri, mimeType: "text/plain", text: task.question }] };
    if (uri === EPISODE_URI) return { contents: [{ uri, mimeType: "application/json", text: json(episode.agentProgress()) }] };
    throw rpcError(RESOURCE_NOT_FOUND, `resource not found: ${uri}`, { uri });
  });
  return server;
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
  const hint = options.connectHint;
  const example = registry.list()[0]?.env;
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION, title: "envforge catalog" },
    {
      capabilities: { tools: { listChanged: false }, resources: { listChanged: false }, logging: {} },
      instructions:
        `This is the envforge catalog of ${registry.size} tool-use environments. Each environment has tasks; an episode serves one task. ` +
        `Use list_environments to browse, then connect to a task${example ? `, for example: ${hint(example.id, example.tasks[0]!.id)}` : ""}.`,
    },
  );
  handle(server, ListToolsRequestSchema, () => ({ tools: [LIST_TOOL, DESCRIBE_TOOL] }));
  handle(server, CallToolRequestSchema, (req) => {
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
  handle(server, ListResourcesRequestSchema, (req) => {
    const offset = Number(req.params?.cursor ?? 0);
    if (!Number.isInteger(offset) || offset < 0) throw rpcError(ErrorCode.InvalidParams, `invalid cursor ${JSON.stringify(req.params?.cursor)}`);
    const all = registry.list();
    const resources: Resource[] = [
      ...(offset === 0 ? [{ uri: CATALOG_URI, name: "catalog", title: "Catalog", description: "Counts by scenario and domain, and how to connect", mimeType: "application/json" }] : []),
      ...all.slice(offset, offset + PAGE).map(({ env }) => ({ uri: ENV_URI_PREFIX + env.id, name: env.id, title: env.title, description: `${env.scenario}, ${env.domain}, ${env.tasks.length} tasks`, mimeType: "application/json" })),
    ];
    return { resources, ...(offset + PAGE < all.length ? { nextCursor: String(offset + PAGE) } : {}) };
  });
  handle(server, ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [{ uriTemplate: `${ENV_URI_PREFIX}{id}`, name: "environment", title: "An environment", description: "Tool documents and tasks of one environment", mimeType: "application/json" }],
  }));
  handle(server, ReadResourceRequestSchema, (req) => {
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
  return server;
}
