// Rollout data shared by the runner, the recorder's readers and the exporters: OpenAI chat messages, the assistant turn a call carries, and the FTRL training row.
import { z } from "zod";

/** One structured tool call of an assistant message, OpenAI chat-completions style (`arguments` is JSON text). */
export const ChatToolCall = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});
export type ChatToolCall = z.infer<typeof ChatToolCall>;

export const ChatSystemMessage = z.strictObject({ role: z.literal("system"), content: z.string() });
export const ChatUserMessage = z.strictObject({ role: z.literal("user"), content: z.string() });
export const ChatAssistantMessage = z.strictObject({
  role: z.literal("assistant"),
  content: z.string().nullable(),
  tool_calls: z.array(ChatToolCall).optional(),
});
export type ChatAssistantMessage = z.infer<typeof ChatAssistantMessage>;
export const ChatToolMessage = z.strictObject({ role: z.literal("tool"), content: z.string(), tool_call_id: z.string() });
export type ChatToolMessage = z.infer<typeof ChatToolMessage>;

/** A chat message in the shape verl, TRL and OpenRLHF read (method.md §4). */
export const ChatMessage = z.discriminatedUnion("role", [ChatSystemMessage, ChatUserMessage, ChatAssistantMessage, ChatToolMessage]);
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A tool as a chat-completions request lists it. */
export const ChatTool = z.strictObject({
  type: z.literal("function"),
  /** `parameters` is the tool's JSON Schema, verbatim. */
  function: z.strictObject({ name: z.string(), description: z.string(), parameters: z.record(z.string(), z.unknown()) }),
});
export type ChatTool = z.infer<typeof ChatTool>;

/**
 * The `_meta` key of a `tools/call` whose model-written arguments were not a JSON object: it
 * holds their text, and the server answers with an invalid-arguments error it counts as a
 * call (as the reference's evaluation loop does), so the model can correct itself.
 */
export const RAW_ARGUMENTS_KEY = "envforge/raw_arguments";

/**
 * What the model endpoint said about the tokens of one assistant turn, when it said anything:
 * the sampled tokens, their ids and log probabilities (OpenAI `logprobs`, vLLM/SGLang token
 * ids), so trainers can use the exact tokens instead of re-tokenizing the text.
 */
export const TurnTokens = z.strictObject({
  /** The sampled tokens as text, one per generated token. */
  tokens: z.array(z.string()).optional(),
  /** Their ids in the model's vocabulary. */
  token_ids: z.array(z.number().int()).optional(),
  /** The log probability of each sampled token. */
  logprobs: z.array(z.number()).optional(),
  /** The most likely alternatives at each position, when asked for. */
  top_logprobs: z.array(z.array(z.strictObject({ token: z.string(), logprob: z.number() }))).optional(),
  /** The prompt's token ids, when the server returns them. */
  prompt_token_ids: z.array(z.number().int()).optional(),
  prompt_tokens: z.number().int().min(0).optional(),
  completion_tokens: z.number().int().min(0).optional(),
});
export type TurnTokens = z.infer<typeof TurnTokens>;

/** The `_meta` key under which each `tools/call` request carries the assistant turn that made it. */
export const ASSISTANT_META_KEY = "envforge/assistant";

/**
 * The assistant turn behind a `tools/call` (or `submit_answer`) request: enough to rebuild the
 * conversation and recompute every per-step reward exactly.
 */
export const AssistantTurnMeta = z.strictObject({
  /** 0 for the first assistant turn of the episode. */
  turn: z.number().int().min(0),
  /** The whole assistant message, with every tool call it made (OpenAI format). */
  message: ChatAssistantMessage,
  /** Which of the message's tool calls this request executes; absent on submit_answer. */
  tool_call_id: z.string().optional(),
  /** The model's raw text, when it was asked in raw Hermes/Qwen text mode. */
  raw: z.string().optional(),
  /**
   * Tool messages the client wrote itself, by tool_call_id, for calls it could not send
   * (arguments that are not a JSON object): the conversation the model saw had them.
   */
  local_results: z.record(z.string(), z.string()).optional(),
  /** The turn's tokens and log probabilities, when the endpoint gave them. */
  tokens: TurnTokens.optional(),
  /**
   * Structured calls the model wrote that the reference's reading drops (no name, or arguments
   * that are not JSON): not sent, not counted, and not in `message` nor in what the model sees next.
   */
  dropped: z.array(ChatToolCall).optional(),
});
export type AssistantTurnMeta = z.infer<typeof AssistantTurnMeta>;

/** The `_meta` key under which the runner's `submit_answer` request (or a failure mark) says which rollout this was. */
export const RUN_META_KEY = "envforge/run";

/** How the runner ended an episode: the model answered, it ran out of turns, or the model endpoint failed. */
export const RunEnd = z.enum(["answer", "max_turns", "error"]);
export type RunEnd = z.infer<typeof RunEnd>;

/** Which rollout of which group an episode is: what score tables group by and resuming looks for. */
export const RunMeta = z.strictObject({
  /** The policy or model name ("oracle", "random", or the model id). */
  agent: z.string(),
  /** Environment, task, agent and k: the same for every attempt of one rollout. */
  rollout: z.string(),
  env: z.string(),
  task: z.string(),
  /** The rollout's index in its GRPO group, 0-based. */
  k: z.number().int().min(0),
  /** 1 for the first attempt; a rollout cut off by an endpoint failure is tried again under a new episode id. */
  attempt: z.number().int().min(1),
  end: RunEnd,
  /** Assistant turns taken. */
  turns: z.number().int().min(0),
  /** Why the rollout failed, when `end` is `error`. */
  error: z.string().optional(),
});
export type RunMeta = z.infer<typeof RunMeta>;

/**
 * A training row of the reference (method.md §4). `tools`, `codes` and `unsolved_set` are JSON
 * text; `unsolved_set` and `solve_rate` are the state after every tool result in `messages`.
 */
export const FtrlRow = z.strictObject({
  messages: z.array(ChatMessage),
  tools: z.string(),
  codes: z.string(),
  unsolved_set: z.string(),
  solve_rate: z.number(),
  data_source: z.string(),
  split: z.string(),
  answer: z.string(),
  /**
   * Only when the rollout recorded tokens: per assistant message of `messages`, in order, the
   * sampled token ids and their logprobs (null for a turn the endpoint gave none for).
   */
  token_ids: z.array(z.array(z.number().int()).nullable()).optional(),
  logprobs: z.array(z.array(z.number()).nullable()).optional(),
});
export type FtrlRow = z.infer<typeof FtrlRow>;
