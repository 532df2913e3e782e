// Drives rollouts through MCP (in process or over Streamable HTTP): groups of n per task, a bounded pool, resumable from the database.
import { createHash } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Recorder } from "../store/index.ts";
import { parseOpenAIMessage, structuredCallReading } from "../score/index.ts";
import { EnvironmentRegistry, openInProcessEpisode, SUBMIT_TOOL } from "../serve/index.ts";
import {
  ASSISTANT_META_KEY,
  RAW_ARGUMENTS_KEY,
  RUN_META_KEY,
  type AssistantTurnMeta,
  type ChatMessage,
  type ChatTool,
  type ChatToolCall,
  type Environment,
  type EpisodeScores,
  type EpisodeStatus,
  type RunEnd,
  type RunMeta,
  type Task,
} from "../schema/index.ts";
import type { AssistantTurn, Policy, PolicyFactory } from "./policy.ts";

export const DEFAULT_MAX_TURNS = 20;
/** Statuses of an episode that ran its course; any other status is retried when a run resumes. */
export const COMPLETE_STATUSES: readonly EpisodeStatus[] = ["submitted", "limit_exceeded"];
const MAX_ATTEMPTS = 50;
const CLIENT_INFO = { name: "envforge-run", version: "0.1.0" };

/** Where episodes are served: in this process (recorded by `recorder`), or by a running `envforge serve --http`. */
export type Target =
  | { kind: "memory"; recorder: Recorder; maxCallsPerEpisode?: number }
  | {
      kind: "http";
      /** The MCP endpoint, e.g. http://127.0.0.1:8765/mcp */
      url: string;
      token?: string;
      /** The server's database, when this process can open it: for resuming and for marking failed rollouts. */
      recorder?: Recorder;
    };

export interface RunOptions {
  environments: readonly Environment[];
  policy: PolicyFactory;
  target: Target;
  /** Rollouts per task (a GRPO group). */
  n?: number;
  /** The first rollout index k (default 0): a later round of the same tasks (the curriculum) gets new rollout ids. */
  kStart?: number;
  concurrency?: number;
  maxTurns?: number;
  envIds?: readonly string[];
  taskIds?: readonly string[];
  /** At most this many tasks (after the filters), in file order. */
  limit?: number;
  /** Called after every rollout, skipped ones included. */
  onRollout?: (result: RolloutResult, done: number, total: number) => void;
  signal?: AbortSignal;
}

export type RolloutStatus = "done" | "skipped" | "failed";

export interface RolloutResult {
  episodeId: string;
  rollout: string;
  env: string;
  task: string;
  agent: string;
  k: number;
  attempt: number;
  status: RolloutStatus;
  end: RunEnd | null;
  turns: number;
  calls: number;
  score: EpisodeScores | null;
  error: string | null;
}

export interface RunSummary {
  tasks: number;
  rollouts: number;
  done: number;
  skipped: number;
  failed: number;
  results: RolloutResult[];
}

/** Episode ids the serve layer accepts: [A-Za-z0-9_.:-], at most 128 characters. */
const idPart = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, "_");

function fitId(id: string): string {
  if (id.length <= 128) return id;
  return `${id.slice(0, 111)}:${createHash("sha256").update(id).digest("hex").slice(0, 16)}`;
}

/** `<env>:<task>:<agent>:<k>` (`:` because the server takes no `/` in ids); attempt 2 and later add `:r<attempt>`. */
export function rolloutId(env: string, task: string, agent: string, k: number): string {
  return `${env}:${task}:${idPart(agent)}:${k}`;
}

export const episodeIdFor = (rollout: string, attempt: number): string => fitId(attempt === 1 ? rollout : `${rollout}:r${attempt}`);

/** The tasks a run covers, in file order. */
export function selectTasks(environments: readonly Environment[], filter: Pick<RunOptions, "envIds" | "taskIds" | "limit">): { env: Environment; task: Task }[] {
  const envIds = filter.envIds?.length ? new Set(filter.envIds) : null;
  const taskIds = filter.taskIds?.length ? new Set(filter.taskIds) : null;
  const out: { env: Environment; task: Task }[] = [];
  for (const env of environments) {
    if (envIds && !envIds.has(env.id)) continue;
    for (const task of env.tasks) if (!taskIds || taskIds.has(task.id)) out.push({ env, task });
  }
  return filter.limit !== undefined ? out.slice(0, filter.limit) : out;
}

const textOf = (result: unknown): string => {
  const content = (result as { content?: unknown }).content;
  return Array.isArray(content)
    ? content
        .filter((c): c is { type: "text"; text: string } => c?.type === "text" && typeof c.text === "string")
        .map((c) => c.text)
        .join("\n")
    : "";
};

/** A tool call the server can take: a name and arguments that are a JSON object (the reference's rule, via the score layer). */
function wellFormed(tc: ChatToolCall): Record<string, unknown> | null {
  const parsed = parseOpenAIMessage({ content: null, tool_calls: [tc] }).tool_calls[0];
  return parsed && parsed.name === tc.function.name ? parsed.arguments : null;
}

interface Connection {
  client: Client;
  /** Ends the episode as failed (when it can be marked) and closes everything. */
  fail(meta: RunMeta): Promise<void>;
  close(): Promise<void>;
}

async function connect(target: Target, registry: EnvironmentRegistry | null, env: Environment, task: Task, episodeId: string): Promise<Connection> {
  const client = new Client(CLIENT_INFO);
  if (target.kind === "memory") {
    const ip = await openInProcessEpisode({
      registry: registry!,
      recorder: target.recorder,
      envId: env.id,
      taskId: task.id,
      episodeId,
      ...(target.maxCallsPerEpisode !== undefined ? { maxCalls: target.maxCallsPerEpisode } : {}),
    });
    await client.connect(ip.transport);
    const close = async (): Promise<void> => {
      await client.close();
      await ip.close();
    };
    return { client, close, fail: async (meta) => (await ip.episode.end("closed", { meta: { [RUN_META_KEY]: meta } }), await close()) };
  }
  const url = new URL(target.url);
  url.searchParams.set("env", env.id);
  url.searchParams.set("task", task.id);
  url.searchParams.set("episode", episodeId);
  const transport = new StreamableHTTPClientTransport(url, target.token ? { requestInit: { headers: { authorization: `Bearer ${target.token}` } } } : {});
  await client.connect(transport as Transport);
  const close = async (): Promise<void> => {
    // Most clients never send DELETE; ours does, so the server ends the episode now rather than at its idle timeout.
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  };
  return {
    client,
    close,
    fail: async (meta) => {
      await target.recorder?.endEpisode(episodeId, { status: "closed", finalMeta: { [RUN_META_KEY]: meta } });
      await close();
    },
  };
}

/** The question as an MCP client gets it: the task's prompt. */
async function question(client: Client, task: Task): Promise<string> {
  const prompt = await client.getPrompt({ name: task.id });
  const first = prompt.messages[0]?.content;
  return first?.type === "text" ? first.text : task.question;
}

async function visibleTools(client: Client): Promise<ChatTool[]> {
  const { tools } = await client.listTools();
  return tools
    .filter((t) => t.name !== SUBMIT_TOOL)
    .map((t) => ({ type: "function", function: { name: t.name, description: t.description ?? "", parameters: t.inputSchema } }));
}

/** How far an episode got; kept up to date as it goes, so a failure can still say. */
interface Progress {
  turns: number;
  calls: number;
}

interface EpisodeRun {
  end: RunEnd;
  score: EpisodeScores | null;
}

/**
 * One episode: the policy writes turns until one has no tool calls (its text is the final
 * answer) or `maxTurns` run out; every tools/call carries its assistant turn in `_meta`.
 */
async function playEpisode(
  client: Client,
  policy: Policy,
  task: Task,
  maxTurns: number,
  runMeta: Omit<RunMeta, "end" | "turns">,
  progress: Progress,
  signal?: AbortSignal,
): Promise<EpisodeRun> {
  // Independent requests: over HTTP, sending them together saves a round trip per episode.
  const [tools, asked] = await Promise.all([visibleTools(client), question(client, task)]);
  const messages: ChatMessage[] = [{ role: "user", content: asked }];
  const submit = async (answer: string, end: RunEnd, assistantMeta: AssistantTurnMeta | null): Promise<EpisodeRun> => {
    const result = await client.callTool({
      name: SUBMIT_TOOL,
      arguments: { answer },
      _meta: { ...(assistantMeta ? { [ASSISTANT_META_KEY]: assistantMeta } : {}), [RUN_META_KEY]: { ...runMeta, end, turns: progress.turns } satisfies RunMeta },
    });
    let score: EpisodeScores | null = null;
    try {
      score = (JSON.parse(textOf(result)) as { score?: EpisodeScores }).score ?? null;
    } catch {
      score = null;
    }
    return { end, score };
  };
  for (let turn = 0; turn < maxTurns; turn++) {
    signal?.throwIfAborted();
    const next: AssistantTurn = await policy.next({ tools, messages, turn, ...(signal ? { signal } : {}) });
    progress.turns = turn + 1;
    const message = next.message;
    const tokens = next.completion?.tokens;
    const meta: AssistantTurnMeta = { turn, message, ...(next.raw !== undefined ? { raw: next.raw } : {}), ...(tokens ? { tokens } : {}) };
    // The reference reads calls as Hermes blocks: one without a name, or whose arguments are not
    // JSON, does not parse and is dropped: not sent, not counted, not in the conversation.
    const toolCalls = (message.tool_calls ?? []).filter((tc) => structuredCallReading(tc.function.name, tc.function.arguments) !== "dropped");
    const dropped = (message.tool_calls ?? []).filter((tc) => !toolCalls.includes(tc));
    if (dropped.length > 0) {
      const { tool_calls: _, ...rest } = message;
      Object.assign(meta, { message: toolCalls.length > 0 ? { ...rest, tool_calls: toolCalls } : rest, dropped });
    }
    if (toolCalls.length === 0) {
      // No tool call: the episode ends here and this text is the final answer (dropped calls in it as markup, for the -0.3 rule).
      const final = next.raw !== undefined ? (message.content ?? "") : parseOpenAIMessage(message).content;
      return submit(final, "answer", meta);
    }
    messages.push(meta.message);
    for (const tc of toolCalls) {
      // Arguments that are JSON but not an object still make a call (the reference's rule): the server
      // answers it with an invalid-arguments error that counts, for the model to correct.
      const args = wellFormed(tc);
      const _meta = { [ASSISTANT_META_KEY]: { ...meta, tool_call_id: tc.id }, ...(args === null ? { [RAW_ARGUMENTS_KEY]: tc.function.arguments } : {}) };
      const result = await client.callTool({ name: tc.function.name, arguments: args ?? {}, _meta });
      progress.calls++;
      messages.push({ role: "tool", tool_call_id: tc.id, content: textOf(result) });
    }
  }
  return submit("", "max_turns", null);
}

/** Runs every rollout of the selected tasks; failures of one rollout are results, never exceptions. */
export async function runRollouts(options: RunOptions): Promise<RunSummary> {
  const n = options.n ?? 1;
  const maxTurns = options.maxTurns ?? DEFAULT_MAX_TURNS;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const target = options.target;
  const tasks = selectTasks(options.environments, options);
  const agent = options.policy.label;
  const registry = target.kind === "memory" ? new EnvironmentRegistry(options.environments.map((env) => ({ env }))) : null;
  const recorder = target.kind === "memory" ? target.recorder : (target.recorder ?? null);
  if (target.kind === "memory") await target.recorder.recoverInterrupted();

  const jobs = tasks.flatMap(({ env, task }) => Array.from({ length: n }, (_, i) => ({ env, task, k: (options.kStart ?? 0) + i })));
  const results: RolloutResult[] = new Array(jobs.length);
  let done = 0;

  const runOne = async ({ env, task, k }: (typeof jobs)[number]): Promise<RolloutResult> => {
    const rollout = rolloutId(env.id, task.id, agent, k);
    let attempt = 1;
    for (; attempt <= MAX_ATTEMPTS; attempt++) {
      const row = await recorder?.loadEpisode(episodeIdFor(rollout, attempt));
      if (!row) break;
      if (COMPLETE_STATUSES.includes(row.status as EpisodeStatus)) {
        return { episodeId: row.id, rollout, env: env.id, task: task.id, agent, k, attempt, status: "skipped", end: null, turns: 0, calls: row.callCount, score: row.score as EpisodeScores | null, error: null };
      }
    }
    const episodeId = episodeIdFor(rollout, attempt);
    const base = { episodeId, rollout, env: env.id, task: task.id, agent, k, attempt };
    const runMeta = { agent, rollout, env: env.id, task: task.id, k, attempt };
    let conn: Connection | null = null;
    const progress: Progress = { turns: 0, calls: 0 };
    try {
      if (attempt > MAX_ATTEMPTS) throw new Error(`gave up on ${rollout} after ${MAX_ATTEMPTS} attempts`);
      conn = await connect(target, registry, env, task, episodeId);
      const policy = options.policy.create({ env, task, episodeId, k });
      const run = await playEpisode(conn.client, policy, task, maxTurns, runMeta, progress, options.signal);
      await conn.close();
      return { ...base, status: "done", end: run.end, ...progress, score: run.score, error: null };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      await conn?.fail({ ...runMeta, end: "error", turns: progress.turns, error }).catch(() => undefined);
      return { ...base, status: "failed", end: "error", ...progress, score: ((await recorder?.loadEpisode(episodeId).catch(() => null))?.score ?? null) as EpisodeScores | null, error };
    }
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !options.signal?.aborted) {
      const i = next++;
      results[i] = await runOne(jobs[i]!);
      done++;
      options.onRollout?.(results[i]!, done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, jobs.length)) }, worker));
  const finished = results.filter((r): r is RolloutResult => r !== undefined);
  return {
    tasks: tasks.length,
    rollouts: jobs.length,
    done: finished.filter((r) => r.status === "done").length,
    skipped: finished.filter((r) => r.status === "skipped").length,
    failed: finished.filter((r) => r.status === "failed").length,
    results: finished,
  };
}
