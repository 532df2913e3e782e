// Policies: given the visible tools and the conversation so far, each writes the next assistant turn.
import { failingArguments, normalize, parseResponse } from "../score/index.ts";
import type { ChatAssistantMessage, ChatMessage, ChatTool, ChatToolCall, Environment, GoldStep, Task } from "../schema/index.ts";
import { hermesMessages } from "./hermes.ts";
import { EndpointGate } from "./gate.ts";
import { chatCompletion, ModelEndpointError, type ChatEndpoint, type Completion } from "./openai.ts";
import { Rng } from "./rng.ts";
import { sampleArguments } from "./sample.ts";

type Json = GoldStep["arguments"][string];

export interface TurnRequest {
  /** The tools the agent may call (submit_answer is the runner's business, not the policy's). */
  tools: readonly ChatTool[];
  /** The conversation so far: the user question, assistant turns, tool results. */
  messages: readonly ChatMessage[];
  /** 0 for the first assistant turn. */
  turn: number;
  signal?: AbortSignal;
}

export interface AssistantTurn {
  /** The turn in OpenAI format; tool calls carry ids unique within the episode. */
  message: ChatAssistantMessage;
  /** The model's own text, in raw Hermes/Qwen mode. */
  raw?: string;
  /** What the model endpoint reported (finish reason, token usage, attempts), for the record. */
  completion?: Omit<Completion, "message">;
}

export interface Policy {
  next(request: TurnRequest): Promise<AssistantTurn>;
}

/** Which rollout a policy instance plays: one per episode, so state never leaks between rollouts. */
export interface RolloutInfo {
  env: Environment;
  task: Task;
  episodeId: string;
  /** The rollout's index in its group, 0-based. */
  k: number;
}

export interface PolicyFactory {
  /** The policy or model name: part of episode ids and the "model" column of score tables. */
  readonly label: string;
  create(rollout: RolloutInfo): Policy;
}

const call = (id: string, name: string, args: unknown): ChatToolCall => ({ id, type: "function", function: { name, arguments: JSON.stringify(args) } });

const assistant = (content: string | null, toolCalls: ChatToolCall[] = []): ChatAssistantMessage =>
  toolCalls.length > 0 ? { role: "assistant", content, tool_calls: toolCalls } : { role: "assistant", content };

/** Every scalar of a tool output, parsed as JSON when it is JSON; the output text itself otherwise. */
function leaves(output: string): (string | number | boolean)[] {
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return [output];
  }
  const out: (string | number | boolean)[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") Object.values(v).forEach(walk);
    else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out.push(v);
  };
  walk(value);
  return out;
}

/**
 * An argument of a dependent step, read off the outputs it depends on the way an agent would:
 * the output value equal to the planned one (compared normalized), in the output's own
 * spelling; else the planned text where it occurs inside an output; else the plan's value,
 * which then is a constant of the task rather than something an earlier call produced.
 */
function fromOutputs(planned: Json, outputs: readonly string[]): Json {
  if (Array.isArray(planned)) return planned.map((v) => fromOutputs(v, outputs));
  if (planned !== null && typeof planned === "object") return Object.fromEntries(Object.entries(planned).map(([k, v]) => [k, fromOutputs(v, outputs)]));
  if (planned === null || typeof planned === "boolean") return planned;
  const want = normalize(String(planned));
  for (const output of outputs) {
    for (const leaf of leaves(output)) {
      if (normalize(String(leaf)) !== want) continue;
      if (typeof planned === "number") return typeof leaf === "number" ? leaf : planned;
      return String(leaf);
    }
  }
  if (typeof planned === "string" && planned !== "") {
    for (const output of outputs) {
      const at = output.toLowerCase().indexOf(planned.toLowerCase());
      if (at !== -1) return output.slice(at, at + planned.length);
    }
  }
  return planned;
}

/**
 * The test oracle: plays the task's gold plan. Each turn calls every step whose dependencies
 * have returned (so independent steps go out together as parallel calls), taking dependent
 * arguments from the earlier outputs; when the plan is done it answers with the final answer.
 */
export class OraclePolicy implements Policy {
  private readonly stepOfCall = new Map<string, GoldStep>();

  constructor(private readonly task: Task) {
    // Without a plan the oracle would answer at once and look like a model that never calls a tool.
    if (task.gold_plan.length === 0) throw new Error(`task ${task.id} has no gold plan, so the oracle has nothing to play`);
  }

  async next({ messages }: TurnRequest): Promise<AssistantTurn> {
    const outputs = new Map<string, string>();
    const called = new Set<string>();
    for (const m of messages) {
      if (m.role === "assistant") for (const tc of m.tool_calls ?? []) called.add(this.stepOfCall.get(tc.id)?.id ?? "");
      if (m.role === "tool") {
        const step = this.stepOfCall.get(m.tool_call_id);
        if (step) outputs.set(step.id, m.content);
      }
    }
    const ready = this.task.gold_plan.filter((s) => !called.has(s.id) && s.depends_on.every((d) => outputs.has(d)));
    if (ready.length === 0) return { message: assistant(this.task.answer) };
    const calls = ready.map((step) => {
      const id = `call_${step.id}`;
      this.stepOfCall.set(id, step);
      const args = step.depends_on.length === 0 ? step.arguments : fromOutputs(step.arguments, step.depends_on.map((d) => outputs.get(d)!));
      return call(id, step.tool, args);
    });
    return { message: assistant(null, calls) };
  }
}

/** Words and adjacent word pairs of a text: what a naive agent might paste into a string argument. */
function wordsOf(text: string): string[] {
  const words = text.match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? [];
  const pairs = words.slice(1).map((w, i) => `${words[i]} ${w}`);
  return [...new Set([...words.filter((w) => w.length > 2), ...pairs])];
}

/**
 * Random tools with schema-valid random arguments, from a PRNG seeded by the run seed and the
 * episode id: the same seed replays the same rollout. 1-3 turns of 1-2 calls, then an answer
 * drawn from the question's words.
 */
export class RandomPolicy implements Policy {
  private readonly rng: Rng;
  private readonly callTurns: number;

  constructor(seed: string | number, episodeId: string) {
    this.rng = new Rng(`${seed}\u0000${episodeId}`);
    this.callTurns = this.rng.int(1, 3);
  }

  async next({ tools, messages, turn }: TurnRequest): Promise<AssistantTurn> {
    const question = messages.find((m) => m.role === "user")?.content ?? "";
    const words = wordsOf(question);
    if (turn >= this.callTurns || tools.length === 0) return { message: assistant(words.length > 0 ? this.rng.pick(words) : "I do not know.") };
    const n = this.rng.int(1, 2);
    const calls: ChatToolCall[] = [];
    for (let i = 0; i < n; i++) {
      const tool = this.rng.pick(tools);
      calls.push(call(`call_${turn}_${i}`, tool.function.name, sampleArguments(tool.function.parameters, this.rng, { words })));
    }
    return { message: assistant(null, calls) };
  }
}

export type LlmMode = "native" | "raw";

interface TokenRequests {
  refused: boolean;
  missing: () => void;
}

/**
 * A model behind an OpenAI-compatible chat-completions endpoint. `native` passes the tools
 * and reads structured `tool_calls`; `raw` puts the tools in the system prompt with the
 * Hermes/Qwen template and parses `<tool_call>` blocks out of the text, as the paper did.
 */
export class LlmPolicy implements Policy {
  private readonly raws: string[] = [];

  constructor(
    private readonly endpoint: ChatEndpoint,
    private readonly mode: LlmMode = "native",
    /** Shared by the rollouts of one factory: whether to stop asking for tokens, and what to say the first time they are missing. */
    private readonly tokens: TokenRequests = { refused: false, missing: () => undefined },
    /** Called when a native-mode reply carries tool-call markup in its text and no structured calls. */
    private readonly warn?: () => void,
  ) {}

  /**
   * One completion, asking for tokens unless the endpoint refused them. Some endpoints answer
   * 400 to `logprobs` (OpenAI's reasoning models) or to vLLM's `return_token_ids`: then every
   * later request of the run goes without them, and the run says so once.
   */
  private async complete(messages: readonly object[], tools: readonly ChatTool[] | null, signal?: AbortSignal): Promise<Completion> {
    const asks = this.endpoint.logprobs !== false || this.endpoint.tokenIds === true;
    const plain: ChatEndpoint = { ...this.endpoint, logprobs: false, tokenIds: false };
    const asked = asks && !this.tokens.refused;
    let c: Completion;
    try {
      c = await chatCompletion(asked ? this.endpoint : plain, messages, tools, signal);
    } catch (err) {
      // Rollouts run concurrently: another may have learnt of the refusal while this request was out.
      if (!(asked && err instanceof ModelEndpointError && err.status === 400 && /logprob|token_ids/i.test(err.message))) throw err;
      this.tokens.refused = true;
      c = await chatCompletion(plain, messages, tools, signal);
    }
    if (c.tokens === null && asks) this.tokens.missing();
    return c;
  }

  async next({ tools, messages, turn, signal }: TurnRequest): Promise<AssistantTurn> {
    if (this.mode === "raw") {
      const plain = hermesMessages(messages, tools, (i) => this.raws[i] ?? "");
      const { message, ...completion } = await this.complete(plain, null, signal);
      const raw = typeof message.content === "string" ? message.content : "";
      this.raws.push(raw);
      const parsed = parseResponse(raw);
      // A call whose arguments text is JSON but not an object keeps that text, so it is sent to fail, not run with {}.
      const calls = parsed.tool_calls.map((c, i) => {
        const text = failingArguments(c);
        return text === undefined ? call(`call_${turn}_${i}`, c.name, c.arguments) : { id: `call_${turn}_${i}`, type: "function" as const, function: { name: c.name, arguments: text } };
      });
      return { message: assistant(parsed.content, calls), raw, completion };
    }
    const { message, ...completion } = await this.complete(messages, tools, signal);
    if ((message.tool_calls ?? []).length === 0 && typeof message.content === "string" && message.content.includes("<tool_call>")) this.warn?.();
    const calls = (message.tool_calls ?? []).map(
      (tc, i): ChatToolCall => ({
        id: typeof tc.id === "string" && tc.id !== "" ? tc.id : `call_${turn}_${i}`,
        type: "function",
        function: {
          name: String(tc.function?.name ?? ""),
          arguments: typeof tc.function?.arguments === "string" ? tc.function.arguments : (JSON.stringify(tc.function?.arguments ?? {}) ?? "{}"),
        },
      }),
    );
    return { message: assistant(typeof message.content === "string" ? message.content : null, calls), completion };
  }
}

export const oracleFactory = (): PolicyFactory => ({ label: "oracle", create: ({ task }) => new OraclePolicy(task) });

export const randomFactory = (seed: string | number = 0): PolicyFactory => ({
  label: "random",
  create: ({ episodeId }) => new RandomPolicy(seed, episodeId),
});

/**
 * `notice` hears, once per run each: that the endpoint answers with `<tool_call>` markup in the
 * text and no structured calls (it does not parse tool calls, so every episode would make none
 * and score precision 1 while looking fine), and that it gives no token logprobs or ids.
 */
export function llmFactory(endpoint: ChatEndpoint, mode: LlmMode = "native", notice?: (line: string) => void): PolicyFactory {
  let warned = false;
  const markup = (): void => {
    if (warned || !notice) return;
    warned = true;
    notice(
      `warning: ${endpoint.baseUrl} answered with <tool_call> markup in the message text and no structured tool_calls: the server is not parsing tool calls ` +
        "(vLLM: --enable-auto-tool-choice --tool-call-parser hermes), so those turns count as final answers; fix the server or run with --raw",
    );
  };
  let told = false;
  const tokens: TokenRequests = {
    refused: false,
    missing: () => {
      if (told) return;
      told = true;
      notice?.(`${endpoint.baseUrl} ${tokens.refused ? "refused requests for" : "returned no"} token logprobs or ids for ${endpoint.model}; the rollouts record text only (ATIF metrics and token columns stay empty)`);
    },
  };
  // One gate for the endpoint (this base URL and model), shared by every rollout the factory makes.
  const gate = endpoint.gate ?? new EndpointGate(endpoint.concurrency ?? 4);
  // `{episode}` in the base URL becomes the rollout's episode id, so a model proxy files each call under its episode.
  return { label: endpoint.model, create: ({ episodeId }) => new LlmPolicy({ ...endpoint, gate, baseUrl: endpoint.baseUrl.replaceAll("{episode}", encodeURIComponent(episodeId)) }, mode, tokens, markup) };
}
