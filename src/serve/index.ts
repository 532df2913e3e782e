// The serving layer: episodes over MCP (in process, stdio, Streamable HTTP), each recorded and scored live.
export {
  EpisodeSession,
  EpisodeService,
  SUBMIT_TOOL,
  SUBMIT_TOOL_DOC,
  DEFAULT_MAX_CALLS,
  EPISODE_ID,
  submitClash,
  SERVE_MODES,
  agentProgress,
  agentSubmitResult,
  type ServeMode,
  EnvironmentRegistry,
  LookupError,
  type RegisteredEnvironment,
  type CallContext,
  type EpisodeOptions,
  type EpisodeProgress,
} from "../episode/index.ts";
export { createEpisodeServer, createCatalogServer, mcpTool, TASK_URI, EPISODE_URI, CATALOG_URI, SERVER_NAME, SERVER_VERSION, type CatalogOptions } from "./mcp.ts";
export { openSession, openInProcessEpisode, type Session, type SessionOptions, type InProcessEpisode } from "./session.ts";
export { serveStdio, StdioLineTransport, parseLine, type StdioServeOptions, type StdioServing } from "./stdio.ts";
export {
  startHttpServer,
  HttpError,
  MCP_PATH,
  DEFAULTS as HTTP_DEFAULTS,
  type HttpServer,
  type HttpServerOptions,
  type Route,
  type RouteContext,
} from "./http.ts";
export { rewardRoutes, computeReward, episodeScore, RewardRequest, REWARD_PATH, EPISODE_SCORE_PATH, type RewardResult, type ExecutedToolCall } from "./reward-api.ts";
export { startProxy, type ProxyOptions, type ProxyRun } from "./proxy.ts";
export { startModelProxy, type ModelProxy, type ModelProxyOptions } from "./model-proxy.ts";
export { TracingTransport, otlpTracer, type TraceInfo } from "./otel.ts";
