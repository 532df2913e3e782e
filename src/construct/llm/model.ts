// The model behind the LLM stages: one small interface, `complete(messages, options)`, and its
// OpenAI-compatible HTTP implementation (the MCP sampling one is in sampling.ts).

/** One message of a stage's conversation; the build never sends tools, so text is all there is. */
export interface PromptMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface CompleteOptions {
  temperature?: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface ModelReply {
  text: string;
  /** Token counts when the model reports them (MCP sampling does not). */
  usage: Usage | null;
}

export interface ChatModel {
  /** The model's name as cache keys and records know it. */
  readonly name: string;
  complete(messages: readonly PromptMessage[], options?: CompleteOptions): Promise<ModelReply>;
}

/** The model failed for good: a non-retryable answer, or every retry used up. The build stops. */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "ModelError";
  }
}

export interface HttpModelOptions {
  /** Up to the API version, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Per attempt, in ms; stage replies are long, so the default is generous. */
  timeoutMs?: number;
  /** Further attempts after the first, on network errors, timeouts, 408, 409, 429 and 5xx. */
  retries?: number;
  /** First backoff in ms, doubled after each failed attempt; a Retry-After header wins (capped at 60 s). */
  backoffMs?: number;
}

const RETRY_STATUS = new Set([408, 409, 429]);

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** A transient failure, with the wait the server asked for when it said. */
type Attempt = { reply: ModelReply } | { retry: string; waitMs: number | null };

async function attempt(url: string, o: HttpModelOptions, body: string, signal?: AbortSignal): Promise<Attempt> {
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 300_000);
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method: "POST", headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    text = await res.text();
  } catch (err) {
    if (signal?.aborted) throw err;
    return { retry: timeout.aborted ? `no answer within ${o.timeoutMs ?? 300_000} ms` : `request failed: ${(err as Error).message}`, waitMs: null };
  }
  if (!res.ok) {
    const message = `HTTP ${res.status} from ${url}: ${text.slice(0, 500)}`;
    if (!RETRY_STATUS.has(res.status) && res.status < 500) throw new ModelError(message, res.status);
    const seconds = Number(res.headers.get("retry-after") ?? NaN);
    return { retry: message, waitMs: Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 60_000) : null };
  }
  let json: { choices?: { message?: { content?: unknown } }[]; usage?: Record<string, unknown> };
  try {
    json = JSON.parse(text);
  } catch {
    return { retry: `the response is not JSON: ${text.slice(0, 200)}`, waitMs: null };
  }
  const content = json.choices?.[0]?.message?.content;
  if (typeof content !== "string") return { retry: `the response has no choices[0].message.content: ${text.slice(0, 200)}`, waitMs: null };
  const usage = json.usage ? { prompt_tokens: count(json.usage.prompt_tokens), completion_tokens: count(json.usage.completion_tokens) } : null;
  return { reply: { text: content, usage } };
}

/** A chat-completions endpoint (OpenAI, vLLM, llama.cpp, Ollama, ...): one POST per completion, no streaming. */
export function httpModel(o: HttpModelOptions): ChatModel {
  const url = `${o.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  return {
    name: o.model,
    async complete(messages, options = {}) {
      const request: Record<string, unknown> = { model: o.model, messages, stream: false };
      if (options.temperature !== undefined) request.temperature = options.temperature;
      if (options.maxTokens !== undefined) request.max_tokens = options.maxTokens;
      const body = JSON.stringify(request);
      const retries = o.retries ?? 4;
      let backoff = o.backoffMs ?? 1000;
      for (let n = 1; ; n++) {
        const r = await attempt(url, o, body, options.signal);
        if ("reply" in r) return r.reply;
        if (n > retries) throw new ModelError(`${r.retry} (gave up after ${n} attempts)`, null);
        await sleep(r.waitMs ?? backoff, options.signal);
        backoff *= 2;
      }
    },
  };
}
