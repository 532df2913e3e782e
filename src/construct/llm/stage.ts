// Running one stage on the model: render the versioned prompts, send (or take the reply from the cache),
// read the JSON, check it against the stage's zod contract and its inputs, and on a misfit send the
// errors back and try again, up to a bound. Every request and reply is counted, cached and logged.
import { z } from "zod";
import { Decomposition, Documentation, Environment, Integration, Scaling } from "../../schema/index.ts";
import { jsonPath } from "../../load/index.ts";
import { Rejection } from "../reject.ts";
import { CACHE_FORMAT, cacheKey, type AuditLog, type ReplyCache } from "./cache.ts";
import { extractJson } from "./json.ts";
import type { RateLimiter } from "./limit.ts";
import type { ChatModel, PromptMessage, Usage } from "./model.ts";
import { render } from "./prompts.ts";

export const STAGE_NAMES = ["decompose", "document", "integrate", "scale", "deploy"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Each stage's output contract, the same one the procedural stage meets. */
export const STAGE_OUTPUT: Record<StageName, z.ZodType> = {
  decompose: Decomposition,
  document: Documentation,
  integrate: Integration,
  scale: Scaling,
  deploy: Environment,
};

/** Why a reply was not taken: unreadable JSON, a contract misfit, or a change to what earlier stages fixed. */
export type Outcome = "accepted" | "json" | "schema" | "contract";

/** One request and reply in compact form, as the environment's provenance keeps it. */
export interface Exchange {
  stage: StageName;
  turn: number;
  prompt: string;
  key: string;
  outcome: Outcome;
  usage: Usage | null;
}

export interface StageStats {
  mode: "llm" | "procedural";
  /** Times the stage ran: once per candidate that got this far. */
  runs: number;
  /** Runs whose output went on to the next stage. */
  accepted: number;
  /** Runs that ended their candidate, by reason. */
  rejected: Record<string, number>;
  /** Replies read, and those not taken by why. */
  replies: number;
  invalid: Record<Exclude<Outcome, "accepted">, number>;
  /** Requests sent to the model, and replies served from the cache instead. */
  requests: number;
  cached: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export const emptyStats = (mode: StageStats["mode"]): StageStats => ({
  mode,
  runs: 0,
  accepted: 0,
  rejected: {},
  replies: 0,
  invalid: { json: 0, schema: 0, contract: 0 },
  requests: 0,
  cached: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
});

/** A dry run reached a prompt that is not in the cache: it is shown, not sent. */
export class DryRunStop extends Error {
  constructor(
    readonly stage: StageName,
    readonly prompt: string,
    readonly messages: PromptMessage[],
  ) {
    super(`dry run: the ${stage} prompt would be sent`);
  }
}

/** What every stage of a run shares: the model, the cache, the log and the counters. */
export interface Session {
  model: ChatModel;
  cache: ReplyCache | null;
  audit: AuditLog | null;
  limiter: RateLimiter | null;
  temperature: number | undefined;
  maxTokens: number | undefined;
  /** Replies read per stage before the candidate is given up (the first one included). */
  turns: number;
  dryRun: boolean;
  stats: Record<StageName, StageStats>;
  signal: AbortSignal;
  onRequest(): void;
}

/** Which candidate a request belongs to, for the log and the provenance. */
export interface Candidate {
  env: string;
  attempt: number;
  exchanges: Exchange[];
}

const schemaText = new Map<StageName, string>();

/** The output contract as JSON Schema, for the system prompt. */
export function contractSchema(stage: StageName): string {
  let text = schemaText.get(stage);
  if (text === undefined) {
    text = JSON.stringify(z.toJSONSchema(STAGE_OUTPUT[stage], { unrepresentable: "any", io: "input" }));
    schemaText.set(stage, text);
  }
  return text;
}

/** The inputs, each under a heading with its name, as compact JSON. */
export const formatInputs = (inputs: Record<string, unknown>): string =>
  Object.entries(inputs)
    .map(([name, value]) => `### Input \`${name}\`\n\`\`\`json\n${JSON.stringify(value)}\n\`\`\``)
    .join("\n\n");

const zodErrors = (e: z.ZodError): string[] => e.issues.slice(0, 25).map((i) => `${jsonPath(i.path)}: ${i.message}`);

/** Reads a reply: the parsed output, or why it is not taken and what to tell the model. */
export function readReply<T>(stage: StageName, text: string, check: (out: T) => string[]): { ok: true; value: T } | { ok: false; outcome: Exclude<Outcome, "accepted">; errors: string[] } {
  const json = extractJson(text);
  if (!json.ok) return { ok: false, outcome: "json", errors: [json.error] };
  const parsed = STAGE_OUTPUT[stage].safeParse(json.value);
  if (!parsed.success) return { ok: false, outcome: "schema", errors: zodErrors(parsed.error) };
  const errors = check(parsed.data as T);
  if (errors.length > 0) return { ok: false, outcome: "contract", errors: errors.slice(0, 25) };
  return { ok: true, value: parsed.data as T };
}

async function send(s: Session, c: Candidate, stage: StageName, turn: number, prompt: string, messages: PromptMessage[]): Promise<{ text: string; usage: Usage | null; key: string; cached: boolean }> {
  const key = cacheKey(prompt, s.model.name, messages, s.temperature ?? null);
  const stats = s.stats[stage];
  const hit = s.cache ? await s.cache.get(key) : null;
  if (hit) {
    stats.cached++;
    s.onRequest();
    return { ...hit, key, cached: true };
  }
  if (s.dryRun) throw new DryRunStop(stage, prompt, messages);
  s.signal.throwIfAborted();
  await s.limiter?.take();
  s.signal.throwIfAborted();
  const reply = await s.model.complete(messages, { ...(s.temperature !== undefined ? { temperature: s.temperature } : {}), ...(s.maxTokens !== undefined ? { maxTokens: s.maxTokens } : {}), signal: s.signal });
  stats.requests++;
  stats.prompt_tokens += reply.usage?.prompt_tokens ?? 0;
  stats.completion_tokens += reply.usage?.completion_tokens ?? 0;
  await s.cache?.put({ format: CACHE_FORMAT, key, prompt, model: s.model.name, temperature: s.temperature ?? null, messages, reply });
  s.onRequest();
  return { ...reply, key, cached: false };
}

export interface StagePrompt {
  /** The rendered source section and its prompt id, or null when the stage gets none. */
  source: { text: string; id: string } | null;
  inputs: Record<string, unknown>;
}

/**
 * Runs one stage on the model. Throws a Rejection named `<stage>:<outcome>` when no reply fits within
 * the bound, and DryRunStop in a dry run at the first prompt the cache cannot answer.
 */
export async function runModelStage<T>(s: Session, c: Candidate, stage: StageName, p: StagePrompt, check: (out: T) => string[]): Promise<T> {
  const system = render("system", { stage, schema: contractSchema(stage) });
  const user = render(stage, { source: p.source?.text ?? "", inputs: formatInputs(p.inputs) });
  const ids = [system.id, user.id, ...(p.source ? [p.source.id] : [])];
  const messages: PromptMessage[] = [
    { role: "system", content: system.text },
    { role: "user", content: user.text },
  ];
  const stats = s.stats[stage];
  stats.runs++;
  let last: { outcome: Exclude<Outcome, "accepted">; errors: string[] } = { outcome: "json", errors: [] };
  for (let turn = 1; turn <= s.turns; turn++) {
    const prompt = ids.join("+");
    const reply = await send(s, c, stage, turn, prompt, messages);
    stats.replies++;
    const read = readReply(stage, reply.text, check);
    const outcome: Outcome = read.ok ? "accepted" : read.outcome;
    c.exchanges.push({ stage, turn, prompt, key: reply.key, outcome, usage: reply.usage });
    await s.audit?.write({ kind: "request", env: c.env, attempt: c.attempt, stage, turn, prompt, model: s.model.name, temperature: s.temperature ?? null, key: reply.key, cached: reply.cached, usage: reply.usage, outcome, ...(read.ok ? {} : { errors: read.errors }), messages, reply: reply.text });
    if (read.ok) {
      stats.accepted++;
      return read.value;
    }
    stats.invalid[read.outcome]++;
    last = read;
    const repair = render("repair", { errors: read.errors.map((e) => `- ${e}`).join("\n") });
    if (!ids.includes(repair.id)) ids.push(repair.id);
    messages.push({ role: "assistant", content: reply.text }, { role: "user", content: repair.text });
  }
  const reason = `${stage}:${last.outcome}`;
  stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1;
  throw new Rejection(reason, `${stage}: no reply fit in ${s.turns} turn(s): ${last.errors.slice(0, 3).join("; ")}`);
}
