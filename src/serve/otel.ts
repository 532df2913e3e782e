// Live OpenTelemetry for MCP sessions: a server span per request (MCP semantic conventions), an execute_tool span per tool call, the reward as gen_ai.evaluation.result events.
import { context, SpanKind, SpanStatusCode, trace, TraceFlags, type Span, type Tracer } from "@opentelemetry/api";
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { EVALUATION_EVENT, scoreEvaluations } from "../score/index.ts";
import type { EpisodeScores, TransportKind } from "../schema/index.ts";

/** What the tracing wrapper knows of the session it traces. */
export interface TraceInfo {
  episodeId: string;
  transport: TransportKind;
  envId?: string | null;
  taskId?: string | null;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The client's span context from W3C `traceparent` in `params._meta` (MCP's propagation carrier), if valid. */
function parentContext(meta: unknown) {
  const header = meta !== null && typeof meta === "object" ? (meta as Record<string, unknown>).traceparent : undefined;
  const m = typeof header === "string" ? TRACEPARENT.exec(header) : null;
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return context.active();
  return trace.setSpanContext(context.active(), { traceId: m[2]!, spanId: m[3]!, traceFlags: Number.parseInt(m[4]!, 16) & TraceFlags.SAMPLED, isRemote: true });
}

interface Pending {
  server: Span;
  tool: Span | null;
  method: string;
  toolName: string | null;
}

/**
 * Wraps a session's (recording) transport: each incoming request opens a SERVER span named
 * `{mcp.method.name} {target}` whose parent is the client's `params._meta.traceparent`;
 * `tools/call` also opens an `execute_tool {name}` child span. The response ends both:
 * JSON-RPC errors set `error.type` to the error code, tool results with `isError` set it to
 * `tool_error`; a `submit_answer` result adds the score as evaluation events.
 */
export class TracingTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  private readonly pending = new Map<string, Pending>();
  private protocolVersion: string | null = null;

  constructor(
    readonly inner: Transport,
    private readonly tracer: Tracer,
    private readonly info: TraceInfo,
  ) {
    inner.onmessage = (message, extra) => {
      this.received(message);
      this.onmessage?.(message, extra);
    };
    inner.onclose = () => {
      for (const p of this.pending.values()) this.finish(p, "connection_closed", null);
      this.pending.clear();
      this.onclose?.();
    };
    inner.onerror = (error) => this.onerror?.(error);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion = (version: string): void => {
    this.protocolVersion = version;
    this.inner.setProtocolVersion?.(version);
  };

  start(): Promise<void> {
    return this.inner.start();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const id = (message as { id?: unknown }).id;
    const p = id === undefined || "method" in message ? undefined : this.pending.get(String(id));
    if (p) {
      this.pending.delete(String(id));
      if ("error" in message) this.finish(p, String((message.error as { code?: unknown }).code ?? "error"), null);
      else {
        const result = (message as { result?: { isError?: boolean; content?: { type: string; text?: string }[]; protocolVersion?: string } }).result;
        if (p.method === "initialize" && result?.protocolVersion) this.protocolVersion = result.protocolVersion;
        this.finish(p, result?.isError === true ? "tool_error" : null, p.toolName === "submit_answer" ? result : null);
      }
    }
    return this.inner.send(message, options);
  }

  private received(message: JSONRPCMessage): void {
    if (!("method" in message) || !("id" in message)) return;
    const params = (message.params ?? {}) as { name?: unknown; _meta?: unknown; protocolVersion?: unknown; uri?: unknown };
    const method = message.method;
    if (method === "initialize" && typeof params.protocolVersion === "string") this.protocolVersion ??= params.protocolVersion;
    const toolName = method === "tools/call" && typeof params.name === "string" ? params.name : null;
    const target = toolName ?? (method === "prompts/get" && typeof params.name === "string" ? params.name : null);
    const parent = parentContext(params._meta);
    const server = this.tracer.startSpan(
      target ? `${method} ${target}` : method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "mcp.method.name": method,
          "jsonrpc.request.id": String(message.id),
          "mcp.session.id": this.info.episodeId,
          "network.transport": this.info.transport === "http" ? "tcp" : this.info.transport === "stdio" ? "pipe" : "inproc",
          ...(this.info.transport === "http" ? { "network.protocol.name": "http" } : {}),
          ...(this.protocolVersion ? { "mcp.protocol.version": this.protocolVersion } : {}),
          ...(toolName ? { "gen_ai.tool.name": toolName, "gen_ai.operation.name": "execute_tool" } : {}),
          ...(method === "prompts/get" && target ? { "gen_ai.prompt.name": target } : {}),
          ...(typeof params.uri === "string" ? { "mcp.resource.uri": params.uri } : {}),
          ...(this.info.envId ? { "envforge.env": this.info.envId } : {}),
          ...(this.info.taskId ? { "envforge.task": this.info.taskId } : {}),
        },
      },
      parent,
    );
    const tool = toolName
      ? this.tracer.startSpan(
          `execute_tool ${toolName}`,
          { kind: SpanKind.INTERNAL, attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": toolName, "gen_ai.tool.type": "function", "gen_ai.tool.call.id": String(message.id) } },
          trace.setSpan(parent, server),
        )
      : null;
    this.pending.set(String(message.id), { server, tool, method, toolName });
  }

  private finish(p: Pending, errorType: string | null, submitted: { content?: { type: string; text?: string }[] } | null | undefined): void {
    if (submitted) {
      try {
        const score = (JSON.parse(submitted.content?.find((c) => c.type === "text")?.text ?? "") as { score?: EpisodeScores }).score;
        if (score) for (const attributes of scoreEvaluations(score)) p.server.addEvent(EVALUATION_EVENT, attributes);
      } catch {
        // a submit_answer that returned no score (an error text) has nothing to report
      }
    }
    for (const span of [p.tool, p.server]) {
      if (!span) continue;
      if (errorType) {
        span.setAttribute("error.type", errorType);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
  }
}

/**
 * A tracer that batches spans to an OTLP/HTTP endpoint with the official SDK and exporter
 * (JSON encoding; headers from OTEL_EXPORTER_OTLP_HEADERS, e.g. Langfuse's Basic auth). A URL
 * without a path gets the standard `/v1/traces`. `shutdown` flushes what is queued.
 */
export function otlpTracer(url: string, version: string): { tracer: Tracer; shutdown: () => Promise<void> } {
  const target = new URL(url);
  if (target.pathname === "/" || target.pathname === "") target.pathname = "/v1/traces";
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "envforge", "service.version": version }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: target.toString() }), scheduledDelayMillis: 500 })],
  });
  return { tracer: provider.getTracer("envforge", version), shutdown: () => provider.shutdown() };
}
