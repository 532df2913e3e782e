// LLM-driven construction: any of the five stages on a model (OpenAI-compatible HTTP or MCP sampling),
// built from a topic, a toolset or a question set, behind the procedural build's gate.
export { httpModel, ModelError, type ChatModel, type CompleteOptions, type HttpModelOptions, type ModelReply, type PromptMessage, type Usage } from "./model.ts";
export { samplingModel, SAMPLING_MODEL, type SamplingModelOptions } from "./sampling.ts";
export { extractJson } from "./json.ts";
export { prompts, render, promptId, type PromptFile } from "./prompts.ts";
export { cacheKey, CACHE_FORMAT, ReplyCache, AuditLog, type CacheEntry } from "./cache.ts";
export { RateLimiter, pool, type Clock } from "./limit.ts";
export { listMcpTools, parseQuestions, parseTools, readQuestionsFile, readToolsFile, slug, splitCommand, SourceError, type Source, type SourceQuestion } from "./sources.ts";
export { STAGE_NAMES, STAGE_OUTPUT, contractSchema, readReply, type Exchange, type StageName, type StageStats } from "./stage.ts";
export { buildWithLlm, buildToDirectoryWithLlm, planLlmRequests, sourceLabel, stageChoiceError, LLM_GENERATOR, LLM_GENERATOR_VERSION, type DryRunPrompt, type LlmBuildOptions, type LlmBuildResult, type LlmBuildToDirectoryOptions, type LlmProgress, type LlmReport } from "./build.ts";
export { formatDryRun, formatLlmReport } from "./report.ts";
export { createBuilderServer, serveBuilderStdio, BUILD_TOOL, type BuilderOptions } from "./server.ts";
