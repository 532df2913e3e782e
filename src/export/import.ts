// `envforge import`: trajectories from elsewhere (ATIF, HF chat rows, FTRL rows) checked against an environment, re-scored in both reward modes, and stored as `imported` episodes.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, readdir, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { EpisodeTracker, finalAnswerFound } from "../score/index.ts";
import {
  ASSISTANT_META_KEY,
  RAW_ARGUMENTS_KEY,
  AtifTrajectory,
  FtrlRow,
  RUN_META_KEY,
  type ChatAssistantMessage,
  type ChatToolCall,
  type Environment,
  type EpisodeScores,
  type RunMeta,
  type Task,
  type TurnTokens,
} from "../schema/index.ts";
import { existingEpisodeIds, now, storeImport, type Db, type ImportedCall, type ImportedEpisodeRecord } from "../store/index.ts";

/** One assistant turn read from a file: the message, then each tool call's result by id. */
export interface ImportTurn {
  message: ChatAssistantMessage;
  results: Map<string, { output: string; isError?: boolean }>;
  tokens?: TurnTokens;
  at?: number;
}

/** A trajectory read from a file, before it is checked against its environment. */
export interface ImportItem {
  /** Where it was: `line 3`, `step 4 of line 2`, `file.json`. */
  where: string;
  envId?: string;
  taskId?: string;
  agent?: string;
  sourceId?: string;
  question?: string;
  turns: ImportTurn[];
  final: string | null;
  /** Tool names the file says the agent had, checked against the environment's. */
  tools?: string[];
  /** The item's own text, hashed (with the file's hash and `where`) into the imported episode's id. */
  text: string;
}

/** A problem with one item, named by where it is. */
export class ImportError extends Error {}

export interface ImportOptions {
  db: Db;
  environments: readonly Environment[];
  /** File (or, for atif, a folder written by `envforge export --format atif`). */
  file: string;
  format: ImportFormat;
  /** Environment and task for items that do not name their own. */
  envId?: string;
  taskId?: string;
  /** Called every 1,000 items read. */
  onProgress?: (items: number) => void;
}

export interface ImportResult {
  batch: string;
  episodes: number;
  calls: number;
  /** Mean solve_f1 of the imported episodes in each reward mode. */
  mean: { ftrl: number; strict: number };
}

/** Parses one JSON line; the error names the line. */
function jsonLine(line: string, where: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new ImportError(`${where}: not JSON (${(err as Error).message})`);
  }
}

const issues = (error: { issues: { path: PropertyKey[]; message: string }[] }): string =>
  error.issues.slice(0, 3).map((i) => `${i.path.length ? `$.${i.path.map(String).join(".")}: ` : ""}${i.message}`).join("; ");

/** The non-blank lines of a file, streamed: import files can be larger than a string can hold. */
export async function* lines(file: string): AsyncGenerator<{ line: string; where: string }> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Number.POSITIVE_INFINITY })) {
    n++;
    if (line.trim() !== "") yield { line, where: `line ${n}` };
  }
}

/** A file's SHA-256, streamed. */
async function fileHash(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const safeJson = (line: string): unknown => {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
};

const argumentsText = (args: unknown): string => (typeof args === "string" ? args : JSON.stringify(args ?? {}));

/** An ATIF trajectory: the first user step is the question; agent steps with tool calls are turns; a last agent step without them is the answer. */
function atifItem(value: unknown, where: string, text: string): ImportItem {
  const parsed = AtifTrajectory.safeParse(value);
  if (!parsed.success) throw new ImportError(`${where}: not an ATIF trajectory: ${issues(parsed.error)}`);
  const t = parsed.data;
  const envforge = (t.extra?.envforge ?? {}) as { env?: unknown; task?: unknown };
  const item: ImportItem = { where, turns: [], final: null, text, agent: t.agent.model_name ?? t.agent.name, ...(t.session_id ? { sourceId: t.session_id } : {}) };
  if (typeof envforge.env === "string") item.envId = envforge.env;
  if (t.agent.tool_definitions) item.tools = t.agent.tool_definitions.map((d) => String((d.function as { name?: unknown } | undefined)?.name ?? d.name ?? ""));
  if (typeof envforge.task === "string") item.taskId = envforge.task;
  for (const [i, step] of t.steps.entries()) {
    const at = `step ${step.step_id} of ${where}`;
    if (step.step_id !== i + 1) throw new ImportError(`${at}: steps out of order (expected step_id ${i + 1})`);
    if (typeof step.message !== "string") throw new ImportError(`${at}: multimodal messages cannot be imported`);
    if (item.final !== null && step.source === "agent") throw new ImportError(`${at}: an agent step after the final answer`);
    if (step.source === "system") continue;
    if (step.source === "user") {
      if (item.question === undefined) item.question = step.message;
      else if (item.turns.length > 0) throw new ImportError(`${at}: a second user message; envforge episodes are single-question`);
      continue;
    }
    const calls = step.tool_calls ?? [];
    if (calls.length === 0) {
      item.final = step.message;
      continue;
    }
    const results = new Map<string, { output: string; isError?: boolean }>();
    for (const r of step.observation?.results ?? []) {
      if (!r.source_call_id || !calls.some((c) => c.tool_call_id === r.source_call_id)) throw new ImportError(`${at}: an observation result for unknown tool call ${JSON.stringify(r.source_call_id ?? null)}`);
      results.set(r.source_call_id, { output: r.content ?? "", ...(r.extra?.is_error === true ? { isError: true } : {}) });
    }
    const turn: ImportTurn = {
      message: {
        role: "assistant",
        content: step.extra?.content_null === true ? null : step.message,
        tool_calls: calls.map((c) => ({ id: c.tool_call_id, type: "function", function: { name: c.function_name, arguments: typeof c.extra?.arguments_text === "string" ? c.extra.arguments_text : argumentsText(c.arguments) } })),
      },
      results,
    };
    const m = step.metrics;
    if (m) {
      const tokens: TurnTokens = {};
      if (m.completion_token_ids) tokens.token_ids = m.completion_token_ids;
      if (m.logprobs) tokens.logprobs = m.logprobs;
      if (m.prompt_token_ids) tokens.prompt_token_ids = m.prompt_token_ids;
      if (typeof m.prompt_tokens === "number") tokens.prompt_tokens = m.prompt_tokens;
      if (typeof m.completion_tokens === "number") tokens.completion_tokens = m.completion_tokens;
      if (Object.keys(tokens).length > 0) turn.tokens = tokens;
    }
    if (step.timestamp) {
      const ms = Date.parse(step.timestamp);
      if (Number.isFinite(ms)) turn.at = ms;
    }
    item.turns.push(turn);
  }
  return item;
}

interface LooseMessage {
  role?: unknown;
  content?: unknown;
  tool_calls?: { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[];
  tool_call_id?: unknown;
}

/** Chat messages (HF rows, FTRL rows): user question, assistant turns with tool calls, tool results by id (or in order). */
function chatItem(messages: unknown, where: string, text: string): ImportItem {
  if (!Array.isArray(messages)) throw new ImportError(`${where}: "messages" must be an array`);
  const item: ImportItem = { where, turns: [], final: null, text };
  let open: { turn: ImportTurn; waiting: string[] } | null = null;
  for (const [i, raw] of (messages as LooseMessage[]).entries()) {
    const at = `message ${i + 1} of ${where}`;
    if (raw === null || typeof raw !== "object") throw new ImportError(`${at}: not an object`);
    const content = raw.content === null || raw.content === undefined ? null : typeof raw.content === "string" ? raw.content : null;
    if (open && open.waiting.length > 0 && raw.role !== "tool") throw new ImportError(`${at}: tool call ${open.waiting[0]} has no result before the next ${String(raw.role)} message`);
    if (item.final !== null) throw new ImportError(`${at}: a message after the final answer`);
    if (raw.role === "system") continue;
    if (raw.role === "user") {
      if (item.question !== undefined) throw new ImportError(`${at}: a second user message; envforge episodes are single-question`);
      item.question = content ?? "";
    } else if (raw.role === "assistant") {
      const calls = raw.tool_calls ?? [];
      if (!Array.isArray(calls)) throw new ImportError(`${at}: tool_calls must be an array`);
      if (calls.length === 0) {
        item.final = content ?? "";
        continue;
      }
      const toolCalls: ChatToolCall[] = calls.map((c, j) => {
        if (typeof c?.function?.name !== "string") throw new ImportError(`${at}: tool call ${j + 1} has no function name`);
        return { id: typeof c.id === "string" ? c.id : `call_${item.turns.length}_${j}`, type: "function", function: { name: c.function.name, arguments: argumentsText(c.function.arguments) } };
      });
      open = { turn: { message: { role: "assistant", content, tool_calls: toolCalls }, results: new Map() }, waiting: toolCalls.map((c) => c.id) };
      item.turns.push(open.turn);
    } else if (raw.role === "tool") {
      if (!open || open.waiting.length === 0) throw new ImportError(`${at}: a tool result with no pending tool call`);
      const id = typeof raw.tool_call_id === "string" ? raw.tool_call_id : open.waiting[0]!;
      const k = open.waiting.indexOf(id);
      if (k === -1) throw new ImportError(`${at}: a result for unknown tool call ${JSON.stringify(id)}`);
      open.waiting.splice(k, 1);
      open.turn.results.set(id, { output: content ?? "" });
    } else throw new ImportError(`${at}: unknown role ${JSON.stringify(raw.role)}`);
  }
  return item;
}

/**
 * Reads the items of a file in one format. Each item comes as a thunk that parses it, so a
 * bad line or step is reported (by where it is) and reading goes on to find the others.
 */
type Reader = (file: string, onItem: (read: () => ImportItem) => void) => Promise<void>;

const sha = (text: string): string => createHash("sha256").update(text).digest("hex");

/** The first KiB of a file, to tell one JSON document from JSON Lines without reading it all. */
async function readHead(file: string): Promise<string> {
  const handle = await open(file);
  try {
    const buffer = Buffer.alloc(1024);
    const { bytesRead } = await handle.read(buffer, 0, 1024, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

const readAtif: Reader = async (file, onItem) => {
  if ((await stat(file)).isDirectory()) {
    // A folder from `envforge export --format atif`: every file the manifest lists, checked against its SHA-256.
    const manifest = jsonLine(await readFile(join(file, "manifest.json"), "utf8"), "manifest.json") as { trajectories?: { file: string; sha256: string }[] };
    const listed = manifest.trajectories ?? (await readdir(file)).filter((f) => f.endsWith(".json") && f !== "manifest.json").map((f) => ({ file: f, sha256: "" }));
    for (const entry of listed) {
      const text = await readFile(join(file, entry.file), "utf8");
      onItem(() => {
        if (entry.sha256 && sha(text) !== entry.sha256) throw new ImportError(`${entry.file}: SHA-256 differs from manifest.json`);
        return atifItem(jsonLine(text, entry.file), entry.file, text);
      });
    }
    return;
  }
  // One trajectory as a JSON document (pretty-printed, as Harbor writes it), or JSON Lines with one per line.
  const head = await readHead(file);
  if (/^\s*\{\s*\n/.test(head) || /\.json$/i.test(file)) {
    const text = await readFile(file, "utf8");
    return onItem(() => atifItem(jsonLine(text, "the file"), "the file", text));
  }
  for await (const { line, where } of lines(file)) onItem(() => atifItem(jsonLine(line, where), where, line));
};

const readHf: Reader = async (file, onItem) => {
  for await (const { line, where } of lines(file)) {
    onItem(() => {
      const row = jsonLine(line, where) as { messages?: unknown; tools?: { function?: { name?: unknown } }[] } | null;
      if (row === null || typeof row !== "object") throw new ImportError(`${where}: not an object`);
      const item = chatItem(row.messages, where, line);
      if (Array.isArray(row.tools)) item.tools = row.tools.map((t) => String(t?.function?.name ?? ""));
      return item;
    });
  }
};

/** FTRL rows: each row is a prefix of the next row of its episode; the last row of each chain is the episode. */
const readFtrl: Reader = async (file, onItem) => {
  let held: { row: FtrlRow; where: string; line: string } | null = null;
  const emit = (h: NonNullable<typeof held>): void =>
    onItem(() => {
      const item = chatItem(h.row.messages, h.where, h.line);
      const m = /^envforge\/([^/]+)\/([^/]+)$/.exec(h.row.data_source);
      if (m) (item.envId = m[1]!, (item.taskId = m[2]!));
      const tools = jsonLine(h.row.tools, `the tools of ${h.where}`);
      if (Array.isArray(tools)) item.tools = (tools as { function?: { name?: unknown } }[]).map((t) => String(t?.function?.name ?? ""));
      return item;
    });
  for await (const { line, where } of lines(file)) {
    const parsed = FtrlRow.safeParse(safeJson(line));
    if (!parsed.success) {
      onItem(() => {
        jsonLine(line, where);
        throw new ImportError(`${where}: not an FTRL row: ${issues(parsed.error)}`);
      });
      continue;
    }
    const row = parsed.data;
    const extends_ = held !== null && held.row.data_source === row.data_source && row.messages.length > held.row.messages.length && JSON.stringify(row.messages.slice(0, held.row.messages.length)) === JSON.stringify(held.row.messages);
    if (held && !extends_) emit(held);
    held = { row, where, line };
  }
  if (held) emit(held);
};

/** The formats `envforge import` reads; each entry is one reader (another engineer's tau-bench reader fits beside them). */
export const IMPORT_FORMATS = { atif: readAtif, hf: readHf, ftrl: readFtrl } satisfies Record<string, Reader>;
export type ImportFormat = keyof typeof IMPORT_FORMATS;

/** A call's arguments as an object, or null when the text is not a JSON object (a client cannot send such a call). */
function objectArguments(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Scores the calls in order in both modes, as the server would have while serving them, and
 * gives the calls to store. A call whose arguments are not a JSON object is a call too, as the
 * server counts it (the reference's rule): sent with empty arguments and its text under
 * RAW_ARGUMENTS_KEY, answered with an invalid-arguments error.
 */
function scoreItem(task: Task, turns: readonly ImportTurn[], final: string | null, at: number): { calls: ImportedCall[]; score: EpisodeScores } {
  const trackers = { ftrl: new EpisodeTracker(task.unsolved_set, "ftrl"), strict: new EpisodeTracker(task.unsolved_set, "strict") };
  const calls: ImportedCall[] = [];
  turns.forEach((turn, t) => {
    const base = { turn: t, message: turn.message, ...(turn.tokens ? { tokens: turn.tokens } : {}) };
    for (const tc of turn.message.tool_calls ?? []) {
      const parsed = tc.function.name === "" ? {} : objectArguments(tc.function.arguments);
      const args = parsed ?? {};
      const result = turn.results.get(tc.id)!;
      const isError = parsed === null ? true : result.isError;
      const executed = { name: tc.function.name, arguments: args as Record<string, never>, output: result.output, ...(isError !== undefined ? { is_error: isError } : {}) };
      calls.push({
        tool: tc.function.name,
        arguments: args,
        output: result.output,
        isError: isError === true,
        solvedFtrl: trackers.ftrl.record(executed),
        solvedStrict: trackers.strict.record(executed),
        startedAt: turn.at ?? at,
        assistantMeta: { [ASSISTANT_META_KEY]: { ...base, tool_call_id: tc.id }, ...(parsed === null ? { [RAW_ARGUMENTS_KEY]: tc.function.arguments } : {}) },
      });
    }
  });
  const scoreOf = (mode: "ftrl" | "strict") => ({ ...trackers[mode].metrics(), mode, answer_correct: final === null ? null : finalAnswerFound(final, task.answer, mode) });
  return { calls, score: { ftrl: scoreOf("ftrl"), strict: scoreOf("strict") } };
}

/** Checks an item against its environment and turns it into the episode to store. */
function toEpisode(item: ImportItem, options: ImportOptions, envs: ReadonlyMap<string, { env: Environment; sha256: string }>, format: string, fileSha: string): ImportedEpisodeRecord {
  const envId = item.envId ?? options.envId;
  const taskId = item.taskId ?? options.taskId;
  if (envId === undefined) throw new ImportError(`${item.where}: no environment: the item names none; pass --env`);
  const entry = envs.get(envId);
  if (!entry) throw new ImportError(`${item.where}: unknown environment ${JSON.stringify(envId)}`);
  const { env } = entry;
  const task = taskId === undefined ? (env.tasks.length === 1 ? env.tasks[0] : undefined) : env.tasks.find((t) => t.id === taskId);
  if (!task) throw new ImportError(`${item.where}: ${taskId === undefined ? `environment ${envId} has several tasks; pass --task` : `unknown task ${JSON.stringify(taskId)} in environment ${envId}`}`);
  const names = new Set(env.tools.map((t) => t.name));
  if (item.tools) {
    const foreign = item.tools.filter((t) => !names.has(t) && t !== "submit_answer");
    if (foreign.length > 0) throw new ImportError(`${item.where}: tools ${JSON.stringify(foreign)} are not in environment ${envId} (it has ${[...names].join(", ")})`);
  }
  item.turns.forEach((turn, t) => {
    for (const tc of turn.message.tool_calls ?? []) {
      // Calling a tool the agent was not given is the agent's mistake (a server records it as an
      // error call); calling one the environment lacks, when the file lists no tools, means a wrong environment.
      if (!item.tools && !names.has(tc.function.name)) throw new ImportError(`${item.where}: turn ${t + 1} calls unknown tool ${JSON.stringify(tc.function.name)} (environment ${envId} has ${[...names].join(", ")})`);
      if (!turn.results.has(tc.id)) throw new ImportError(`${item.where}: turn ${t + 1}: tool call ${tc.id} has no result`);
    }
  });
  const at = now();
  const { calls, score } = scoreItem(task, item.turns, item.final, at);
  // The file and the place in it: importing the same file again finds the same ids, while
  // identical trajectories on two lines (a GRPO group of a deterministic policy) stay two episodes.
  const id = `imported-${sha(`${format}\u0000${fileSha}\u0000${item.where}\u0000${item.text}`).slice(0, 20)}`;
  const agent = item.agent ?? `imported:${format}`;
  const run: RunMeta = { agent, rollout: id, env: envId, task: task.id, k: 0, attempt: 1, end: item.final === null ? "max_turns" : "answer", turns: item.turns.length + (item.final === null ? 0 : 1) };
  return {
    id,
    envId,
    envSha256: entry.sha256,
    taskId: task.id,
    needed: score.ftrl.needed,
    status: item.final === null ? "closed" : "submitted",
    startedAt: item.turns[0]?.at ?? at,
    endedAt: at,
    finalAnswer: item.final,
    finalMeta: { [RUN_META_KEY]: run, ...(item.final !== null ? { [ASSISTANT_META_KEY]: { turn: item.turns.length, message: { role: "assistant", content: item.final } } } : {}) },
    score,
    meta: { source: { format, where: item.where, ...(item.sourceId ? { id: item.sourceId } : {}), ...(item.question !== undefined && item.question !== task.question ? { question: item.question } : {}) } },
    calls,
  };
}

/**
 * Reads `file`, checks every item against its environment and task, scores it in both reward
 * modes, and stores all of them in one transaction, or none: the first problems found (up to
 * ten, each naming its line or step) are thrown together as one ImportError.
 */
export async function importTrajectories(options: ImportOptions): Promise<ImportResult> {
  const envs = new Map(options.environments.map((env) => [env.id, { env, sha256: createHash("sha256").update(JSON.stringify(env)).digest("hex") }]));
  const fileSha = await fileHash((await stat(options.file)).isDirectory() ? join(options.file, "manifest.json") : options.file);
  const batch = `import-${fileSha.slice(0, 12)}-${Math.round(now())}`;
  const episodes: ImportedEpisodeRecord[] = [];
  const problems: string[] = [];
  let read = 0;
  await IMPORT_FORMATS[options.format](options.file, (readItem) => {
    read++;
    if (read % 1000 === 0) options.onProgress?.(read);
    try {
      const item = readItem();
      episodes.push(toEpisode(item, options, envs, options.format, fileSha));
    } catch (err) {
      if (!(err instanceof ImportError)) throw err;
      if (problems.length < 10) problems.push(err.message);
    }
  }).catch((err: unknown) => {
    if (!(err instanceof ImportError)) throw err;
    problems.push(err.message);
  });
  if (problems.length === 0 && episodes.length === 0) problems.push("the file holds no trajectories");
  const existing = existingEpisodeIds(options.db, episodes.map((e) => e.id));
  const whereOf = new Map(episodes.map((e) => [e.id, (e.meta.source as { where: string }).where]));
  for (const id of existing.slice(0, Math.max(0, 10 - problems.length))) problems.push(`${whereOf.get(id)}: already imported as episode ${id}`);
  if (problems.length > 0) throw new ImportError(`nothing imported:\n  ${problems.join("\n  ")}`);
  storeImport(options.db, { id: batch, format: options.format, source: options.file, sha256: fileSha }, episodes);
  const mean = (mode: "ftrl" | "strict"): number => episodes.reduce((s, e) => s + e.score[mode].solve_f1, 0) / episodes.length;
  return { batch, episodes: episodes.length, calls: episodes.reduce((n, e) => n + e.calls.length, 0), mean: { ftrl: mean("ftrl"), strict: mean("strict") } };
}
