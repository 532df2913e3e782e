// Episodes as OpenTelemetry GenAI spans in OTLP/JSON: one ExportTraceServiceRequest per line (as the Collector's file exporter writes).
import { createHash } from "node:crypto";
import { EVALUATION_EVENT, scoreEvaluations } from "../score/index.ts";
import type { EpisodeScore, RewardMode } from "../schema/index.ts";
import { scoreOf, type Transcript } from "./transcript.ts";

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
export interface OtlpAttribute {
  key: string;
  value: AnyValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 internal, 3 client (OTLP SpanKind numbers). */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  events?: { timeUnixNano: string; name: string; attributes: OtlpAttribute[] }[];
  /** 2 is ERROR. */
  status?: { code: number; message?: string };
}
export interface OtlpTraces {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { scope: { name: string; version: string }; spans: OtlpSpan[] }[] }[];
}

/** An OTLP attribute from a JS value; integers go as intValue (a decimal string, as OTLP/JSON encodes int64). */
export function attr(key: string, value: string | number | boolean): OtlpAttribute {
  if (typeof value === "string") return { key, value: { stringValue: value } };
  if (typeof value === "boolean") return { key, value: { boolValue: value } };
  return { key, value: Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value } };
}

/** Milliseconds (sub-millisecond REAL from the store) as OTLP nanoseconds, to the microsecond. */
const nanos = (ms: number): string => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

/** Ids derived from the episode id: the same database gives the same bytes. */
const hexId = (chars: number, ...parts: string[]): string => createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, chars);

/** GenAI evaluation events (`gen_ai.evaluation.result`) for the episode's score in both reward modes, and its final-state check. */
export function evaluationEvents(scores: Record<RewardMode, EpisodeScore | null>, at: string): NonNullable<OtlpSpan["events"]> {
  return scoreEvaluations(scores).map((attributes) => ({ timeUnixNano: at, name: EVALUATION_EVENT, attributes: Object.entries(attributes).map(([k, v]) => attr(k, v)) }));
}

/**
 * The spans of one episode, per the GenAI semantic conventions: an `invoke_agent` span for the
 * episode, under it a `chat` span per assistant turn and an `execute_tool` span per tool call
 * (`error.type` = `tool_error` for error results), and the reward as `gen_ai.evaluation.result`
 * events on the agent span.
 */
export function episodeSpans(t: Transcript): OtlpSpan[] {
  const e = t.episode;
  const traceId = hexId(32, "trace", e.id);
  const rootId = hexId(16, "span", e.id, "agent");
  const end = e.endedAt ?? Math.max(e.startedAt, ...t.turns.map((u) => u.startedAt ?? e.startedAt));
  const model = t.run && t.agent !== "oracle" && t.agent !== "random" ? t.agent : null;
  const spans: OtlpSpan[] = [];
  let cursor = e.startedAt;
  t.turns.forEach((turn, i) => {
    const start = turn.startedAt ?? cursor;
    const chat: OtlpSpan = {
      traceId,
      spanId: hexId(16, "span", e.id, "chat", String(i)),
      parentSpanId: rootId,
      name: model ? `chat ${model}` : "chat",
      kind: 3,
      startTimeUnixNano: nanos(cursor),
      endTimeUnixNano: nanos(Math.max(cursor, start)),
      attributes: [
        attr("gen_ai.operation.name", "chat"),
        ...(model ? [attr("gen_ai.request.model", model)] : []),
        attr("gen_ai.output.messages", JSON.stringify([{ role: "assistant", parts: [...(turn.meta.message.content ? [{ type: "text", content: turn.meta.message.content }] : []), ...(turn.meta.message.tool_calls ?? []).map((tc) => ({ type: "tool_call", id: tc.id, name: tc.function.name, arguments: tc.function.arguments }))] }])),
        ...(turn.meta.tokens?.prompt_tokens !== undefined ? [attr("gen_ai.usage.input_tokens", turn.meta.tokens.prompt_tokens)] : []),
        ...(turn.meta.tokens?.completion_tokens !== undefined ? [attr("gen_ai.usage.output_tokens", turn.meta.tokens.completion_tokens)] : []),
      ],
    };
    spans.push(chat);
    const calls = turn.meta.message.tool_calls ?? [];
    turn.executed.forEach((call, c) => {
      const id = calls[c]?.id ?? `${i}_${c}`;
      const at = (turn.startedAt ?? cursor) + c * 0.001;
      spans.push({
        traceId,
        spanId: hexId(16, "span", e.id, "tool", String(i), String(c)),
        parentSpanId: rootId,
        name: `execute_tool ${call.name}`,
        kind: 1,
        startTimeUnixNano: nanos(at),
        endTimeUnixNano: nanos(at),
        attributes: [
          attr("gen_ai.operation.name", "execute_tool"),
          attr("gen_ai.tool.name", call.name),
          attr("gen_ai.tool.call.id", id),
          attr("gen_ai.tool.type", "function"),
          attr("gen_ai.tool.call.arguments", JSON.stringify(call.arguments)),
          attr("gen_ai.tool.call.result", call.output),
          ...(turn.solved[c]?.ftrl ? [attr("envforge.solved.ftrl", turn.solved[c]!.ftrl!)] : []),
          ...(turn.solved[c]?.strict ? [attr("envforge.solved.strict", turn.solved[c]!.strict!)] : []),
          ...(call.is_error ? [attr("error.type", "tool_error")] : []),
        ],
        ...(call.is_error ? { status: { code: 2, message: call.output.slice(0, 200) } } : {}),
      });
    });
    cursor = Math.max(cursor, start);
  });
  spans.unshift({
    traceId,
    spanId: rootId,
    name: `invoke_agent ${t.agent}`,
    kind: 1,
    startTimeUnixNano: nanos(e.startedAt),
    endTimeUnixNano: nanos(Math.max(end, e.startedAt)),
    attributes: [
      attr("gen_ai.operation.name", "invoke_agent"),
      attr("gen_ai.agent.name", t.agent),
      attr("gen_ai.conversation.id", e.id),
      ...(model ? [attr("gen_ai.request.model", model)] : []),
      attr("envforge.env", t.env.id),
      attr("envforge.task", t.task.id),
      attr("envforge.status", e.status),
    ],
    events: evaluationEvents({ ftrl: scoreOf(e, "ftrl"), strict: scoreOf(e, "strict") }, nanos(Math.max(end, e.startedAt))),
  });
  return spans;
}

/** One OTLP/JSON request body holding the given spans under envforge's resource and scope. */
export function otlpTraces(spans: OtlpSpan[], version = "0.1.0"): OtlpTraces {
  return { resourceSpans: [{ resource: { attributes: [attr("service.name", "envforge")] }, scopeSpans: [{ scope: { name: "envforge", version }, spans }] }] };
}
