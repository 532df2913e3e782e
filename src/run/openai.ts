// A minimal OpenAI-compatible chat-completions client: one POST per turn, bounded retries with backoff, no streaming.
import type { ChatTool, TurnTokens } from "../schema/index.ts";
import type { EndpointGate, GateOutcome } from "./gate.ts";

export interface ChatEndpoint {
  /** Base URL up to the API version, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  temperature?: number;
  maxTokens?: number;
  /** Per attempt, in ms, from when the request leaves the gate's queue (time waiting there does not count). */
  timeoutMs?: number;
  /** Further attempts after the first, on network errors, timeouts, 408, 409, 429 and 5xx. */
  retries?: number;
  /** First backoff in ms; doubled after every failed attempt (a Retry-After header wins, capped at 30 s). */
  backoffMs?: number;
  /**
   * Token log probabilities: `false` asks for none; a number N asks for each sampled token's
   * logprob (OpenAI `logprobs: true`) and N alternatives (`top_logprobs`). Default 0.
   */
  logprobs?: number | false;
  /** Ask for token ids with vLLM's `return_token_ids` (not part of OpenAI's API, so off unless asked). */
  tokenIds?: boolean;
  /** At most this many requests in flight to the endpoint: the ceiling of the gate `llmFactory` makes (default 4). */
  concurrency?: number;
  /** Where every attempt waits for its turn; shared by the rollouts of a run. Without one, requests go out at once. */
  gate?: EndpointGate;
}

/** What the endpoint sent back, loosely typed: servers differ in what they fill in. */
export interface CompletionMessage {
  role?: string;
  content?: string | null;
  tool_calls?: { id?: string; type?: string; function: { name: string; arguments: string | object } }[] | null;
  [key: string]: unknown;
}

export interface Completion {
  message: CompletionMessage;
  finishReason: string | null;
  usage: Record<string, unknown> | null;
  /** The sampled tokens, their ids and logprobs, when the endpoint gave any. */
  tokens: TurnTokens | null;
  /** Attempts it took, 1 when the first one worked. */
  attempts: number;
}

/** The endpoint failed for good: a non-retryable status, or every retry used up. */
export class ModelEndpointError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly attempts: number,
  ) {
    super(message);
    this.name = "ModelEndpointError";
  }
}

class Retryable extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryAfterMs: number | null = null,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

const RETRY_STATUS = new Set([408, 409, 429]);
const DEFAULT_TIMEOUT_MS = 120_000;

/** What an attempt's failure tells the gate: a timeout, 429 or 503 means the endpoint has more than it can take. */
const outcomeOf = (err: unknown): GateOutcome => (err instanceof Retryable && (err.timedOut || err.status === 429 || err.status === 503) ? { kind: "overload" } : { kind: "other" });

const ints = (v: unknown): number[] | undefined => (Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? (v as number[]) : undefined);

/**
 * The token record of a choice: OpenAI's `logprobs.content` (token, logprob, top_logprobs),
 * vLLM's `token_ids` on the choice and `prompt_token_ids` on the response, and the usage
 * counts. Null when the endpoint gave neither logprobs nor ids.
 */
export function tokensOf(choice: Record<string, unknown>, response: { usage?: Record<string, unknown>; prompt_token_ids?: unknown }): TurnTokens | null {
  const out: TurnTokens = {};
  const content = (choice.logprobs as { content?: unknown } | null | undefined)?.content;
  if (Array.isArray(content) && content.length > 0) {
    const entries = content as { token?: unknown; logprob?: unknown; top_logprobs?: { token?: unknown; logprob?: unknown }[] }[];
    out.tokens = entries.map((e) => String(e.token ?? ""));
    if (entries.every((e) => typeof e.logprob === "number")) out.logprobs = entries.map((e) => e.logprob as number);
    if (entries.some((e) => Array.isArray(e.top_logprobs) && e.top_logprobs.length > 0)) {
      out.top_logprobs = entries.map((e) => (e.top_logprobs ?? []).map((t) => ({ token: String(t.token ?? ""), logprob: Number(t.logprob) })));
    }
  }
  const ids = ints(choice.token_ids);
  if (ids) out.token_ids = ids;
  const promptIds = ints(response.prompt_token_ids);
  if (promptIds) out.prompt_token_ids = promptIds;
  if (Object.keys(out).length === 0) return null;
  const usage = response.usage ?? {};
  if (Number.isInteger(usage.prompt_tokens)) out.prompt_tokens = usage.prompt_tokens as number;
  if (Number.isInteger(usage.completion_tokens)) out.completion_tokens = usage.completion_tokens as number;
  return out;
}

function retryAfter(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 30_000) : null;
}

/** Waits `ms`, or rejects when `signal` aborts; the listener it adds is removed either way (a run-wide signal sees many retries). */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

async function attempt(url: string, endpoint: ChatEndpoint, body: string, signal?: AbortSignal): Promise<Omit<Completion, "attempts">> {
  const timeoutMs = endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
  // One controller per attempt, tied to the run's signal by a listener removed when the attempt ends
  // (AbortSignal.any would leave one on the run-wide signal per attempt).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), controller.abort(new Error(`no answer within ${timeoutMs} ms`))), timeoutMs);
  const onAbort = (): void => controller.abort(signal!.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  try {
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers, body, signal: controller.signal });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const e = err as Error;
      throw new Retryable(timedOut ? `no answer within ${timeoutMs} ms` : `request failed: ${e.message}${e.cause ? ` (${String((e.cause as Error).message ?? e.cause)})` : ""}`, null, null, timedOut);
    }
    return await readCompletion(res);
  } catch (err) {
    if (timedOut && !(err instanceof Retryable) && !(err instanceof ModelEndpointError)) throw new Retryable(`no answer within ${timeoutMs} ms`, null, null, true);
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

async function readCompletion(res: Response): Promise<Omit<Completion, "attempts">> {
  const text = await res.text().catch((err: Error) => {
    throw new Retryable(`reading the response failed: ${err.message}`, res.status);
  });
  if (!res.ok) {
    const message = `HTTP ${res.status}: ${text.slice(0, 500)}`;
    if (RETRY_STATUS.has(res.status) || res.status >= 500) throw new Retryable(message, res.status, retryAfter(res.headers.get("retry-after")));
    throw new ModelEndpointError(message, res.status, 1);
  }
  let json: { choices?: (Record<string, unknown> & { message?: CompletionMessage; finish_reason?: string | null })[]; usage?: Record<string, unknown>; prompt_token_ids?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw new Retryable(`the response is not JSON: ${text.slice(0, 200)}`, res.status);
  }
  const choice = json.choices?.[0];
  if (!choice?.message || typeof choice.message !== "object") throw new Retryable(`the response has no choices[0].message: ${text.slice(0, 200)}`, res.status);
  return { message: choice.message, finishReason: choice.finish_reason ?? null, usage: json.usage ?? null, tokens: tokensOf(choice, json) };
}

/**
 * One chat completion. Transient failures are retried `retries` times with exponential
 * backoff; then, or at once for other 4xx answers, it throws ModelEndpointError.
 */
export async function chatCompletion(endpoint: ChatEndpoint, messages: readonly object[], tools: readonly ChatTool[] | null, signal?: AbortSignal): Promise<Completion> {
  const url = `${endpoint.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const request: Record<string, unknown> = { model: endpoint.model, messages, stream: false };
  if (tools && tools.length > 0) request.tools = tools;
  if (endpoint.temperature !== undefined) request.temperature = endpoint.temperature;
  if (endpoint.maxTokens !== undefined) request.max_tokens = endpoint.maxTokens;
  if (endpoint.logprobs !== false) {
    request.logprobs = true;
    if ((endpoint.logprobs ?? 0) > 0) request.top_logprobs = endpoint.logprobs;
  }
  if (endpoint.tokenIds) request.return_token_ids = true;
  const body = JSON.stringify(request);
  const retries = endpoint.retries ?? 4;
  let backoff = endpoint.backoffMs ?? 500;
  for (let n = 1; ; n++) {
    // A retry waits ahead of first attempts; the attempt's timeout starts only once it leaves the queue.
    const slot = await endpoint.gate?.acquire(signal, n > 1);
    const sent = performance.now();
    try {
      const completion = await attempt(url, endpoint, body, signal);
      slot?.release({ kind: "success", latencyMs: performance.now() - sent, inFlight: slot.inFlight, timeoutMs: endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS });
      return { ...completion, attempts: n };
    } catch (err) {
      slot?.release(outcomeOf(err));
      if (err instanceof ModelEndpointError) throw new ModelEndpointError(err.message, err.status, n);
      if (!(err instanceof Retryable)) throw err;
      if (n > retries) throw new ModelEndpointError(`${err.message} (gave up after ${n} attempts)`, err.status, n);
      await sleep(err.retryAfterMs ?? backoff, signal);
      backoff *= 2;
    }
  }
}
