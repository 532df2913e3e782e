// The LLM side of `envforge build`: its flags, how they become a model, a source and options, and
// what it prints (the build summary, per-stage acceptance and tokens, or a dry run's prompts).
import { resolve } from "node:path";
import { SingleBar } from "cli-progress";
import {
  buildToDirectoryWithLlm,
  formatDryRun,
  formatLlmReport,
  httpModel,
  listMcpTools,
  ModelError,
  readQuestionsFile,
  readToolsFile,
  SourceError,
  splitCommand,
  STAGE_NAMES,
  stageChoiceError,
  type ChatModel,
  type LlmBuildToDirectoryOptions,
  type Source,
  type StageName,
} from "../construct/index.ts";
import type { BuildSummary, Complexity, Domain, Scenario } from "../schema/index.ts";
import { UsageError, write, type Io } from "./io.ts";

/** parseArgs options of the LLM generator, spread into the build command's own. */
export const LLM_FLAGS = {
  generator: { type: "string" },
  "llm-stages": { type: "string" },
  "base-url": { type: "string" },
  model: { type: "string" },
  "api-key-env": { type: "string" },
  topic: { type: "string" },
  "from-tools": { type: "string" },
  "from-mcp": { type: "string" },
  "from-questions": { type: "string" },
  "dry-run": { type: "boolean" },
  concurrency: { type: "string" },
  "rate-limit": { type: "string" },
  cache: { type: "string" },
  "no-cache": { type: "boolean" },
  audit: { type: "string" },
  attempts: { type: "string" },
  turns: { type: "string" },
  temperature: { type: "string" },
  "max-tokens": { type: "string" },
} as const;

export const LLM_USAGE =
  "[--generator procedural|llm] [--llm-stages all|decompose,document,integrate,scale,deploy] [--base-url URL] [--model M] [--api-key-env VAR] [--topic TEXT | --from-tools FILE | --from-mcp 'COMMAND ARGS' | --from-questions FILE.jsonl] [--dry-run] [--concurrency N] [--rate-limit RPM] [--cache DIR | --no-cache] [--audit FILE] [--attempts N] [--turns N] [--temperature T] [--max-tokens N]";

type LlmValues = { [K in keyof typeof LLM_FLAGS]?: (typeof LLM_FLAGS)[K]["type"] extends "boolean" ? boolean : string };

/** Whether the command line asks for the LLM generator; its flags without `--generator llm` are a usage error. */
export function wantsLlm(values: LlmValues): boolean {
  const g = values.generator ?? "procedural";
  if (g !== "procedural" && g !== "llm") throw new UsageError(`--generator is procedural or llm, not "${g}"`);
  if (g === "llm") return true;
  const stray = (Object.keys(LLM_FLAGS) as (keyof typeof LLM_FLAGS)[]).filter((k) => k !== "generator" && values[k] !== undefined);
  if (stray.length > 0) throw new UsageError(`--${stray[0]} needs --generator llm`);
  return false;
}

export function parseStages(text: string): StageName[] {
  if (text.trim() === "all") return [...STAGE_NAMES];
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(STAGE_NAMES as readonly string[]).includes(n)) throw new UsageError(`unknown stage "${n}" in --llm-stages; stages are ${STAGE_NAMES.join(", ")} (or all)`);
  if (names.length === 0) throw new UsageError("--llm-stages names no stage");
  return STAGE_NAMES.filter((s) => names.includes(s));
}

function number(text: string | undefined, flag: string, check: (n: number) => boolean, want: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || !check(n)) throw new UsageError(`${flag} takes ${want}; got "${text}"`);
  return n;
}
const whole = (text: string | undefined, flag: string, min: number): number | undefined => number(text, flag, (n) => Number.isInteger(n) && n >= min, `a whole number >= ${min}`);

async function readSource(values: LlmValues, cwd: string): Promise<Source> {
  const given = (["topic", "from-tools", "from-mcp", "from-questions"] as const).filter((k) => values[k] !== undefined);
  if (given.length > 1) throw new UsageError(`give one source, not --${given.join(" and --")}`);
  try {
    if (values.topic !== undefined) {
      if (values.topic.trim() === "") throw new UsageError("--topic is empty");
      return { kind: "topic", topic: values.topic.trim() };
    }
    if (values["from-tools"] !== undefined) return await readToolsFile(resolve(cwd, values["from-tools"]));
    if (values["from-questions"] !== undefined) return await readQuestionsFile(resolve(cwd, values["from-questions"]));
    if (values["from-mcp"] !== undefined) return await listMcpTools(splitCommand(values["from-mcp"]), { cwd });
  } catch (err) {
    if (err instanceof SourceError) throw new UsageError(err.message);
    throw err;
  }
  return { kind: "world" };
}

/** What the build command has already read from the shared flags. */
export interface CommonBuild {
  out: string;
  /** 0 when --count was not given (a question set then builds one environment per question). */
  count: number;
  seed: number;
  scenario: Scenario | "mixed";
  complexity: Complexity | "mixed";
  domain?: Domain;
  suite: boolean;
  showBar: boolean;
  json: boolean;
  formatSummary(s: BuildSummary, out: string, removed: number): string;
}

export async function runLlmBuild(values: LlmValues, io: Io, c: CommonBuild): Promise<number> {
  const dryRun = values["dry-run"] === true;
  if (c.suite) throw new UsageError("--suite is the procedural shipped suite; drop --generator llm");
  if (!values.model) throw new UsageError("--generator llm needs --model M");
  if (!values["base-url"] && !dryRun) throw new UsageError("--generator llm needs --base-url URL (an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1)");
  if (values.cache !== undefined && values["no-cache"]) throw new UsageError("--cache and --no-cache contradict each other");
  const llmStages = parseStages(values["llm-stages"] ?? "all");
  const source = await readSource(values, io.cwd);
  const problem = stageChoiceError(source, llmStages);
  if (problem) throw new UsageError(problem);
  if (c.count === 0 && source.kind !== "questions") throw new UsageError("give --count N");
  const keyVar = values["api-key-env"] ?? "OPENAI_API_KEY";
  const apiKey = io.env[keyVar];
  if (values["api-key-env"] !== undefined && !apiKey) throw new UsageError(`--api-key-env ${keyVar}: that environment variable is not set`);
  const model: ChatModel = values["base-url"] ? httpModel({ baseUrl: values["base-url"], model: values.model, ...(apiKey ? { apiKey } : {}) }) : { name: values.model, complete: () => Promise.reject(new Error("a dry run sends nothing")) };
  const rateLimit = number(values["rate-limit"], "--rate-limit", (n) => n > 0, "a positive number of requests per minute");
  const temperature = number(values.temperature, "--temperature", (n) => n >= 0 && n <= 2, "a number from 0 to 2");
  const maxTokens = whole(values["max-tokens"], "--max-tokens", 1);
  const bar = c.showBar && !dryRun ? new SingleBar({ stream: io.stderr, format: "building {bar} {value}/{total} environments | {candidates} candidates | {requests} sent, {cached} cached | {tokens} tokens | {duration}s", hideCursor: true, noTTYOutput: true, notTTYSchedule: 1000 }) : null;
  let started = false;
  const options: LlmBuildToDirectoryOptions = {
    out: c.out,
    model,
    llmStages,
    source,
    count: c.count === 0 ? Number.MAX_SAFE_INTEGER : c.count,
    seed: c.seed,
    scenario: c.scenario,
    complexity: c.complexity,
    ...(c.domain ? { domain: c.domain } : {}),
    attempts: whole(values.attempts, "--attempts", 1) ?? 3,
    turns: whole(values.turns, "--turns", 1) ?? 3,
    concurrency: whole(values.concurrency, "--concurrency", 1) ?? 4,
    rateLimit: rateLimit ?? null,
    cacheDir: values["no-cache"] ? null : resolve(io.cwd, values.cache ?? ".envforge/cache"),
    auditFile: resolve(io.cwd, values.audit ?? `${c.out}/llm-audit.jsonl`),
    dryRun,
    ...(temperature !== undefined ? { temperature } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    onProgress: (p) => {
      if (!bar) return;
      const payload = { candidates: p.candidates, requests: p.requests, cached: p.cached, tokens: p.prompt_tokens + p.completion_tokens };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      }
      bar.update(p.done, payload);
    },
  };
  try {
    const result = await buildToDirectoryWithLlm(options).catch((err: unknown) => {
      if (!(err instanceof ModelError)) throw err;
      bar?.stop();
      write(io.stderr, `envforge build: the model failed: ${err.message}\nNothing was written.${options.cacheDir ? " Every reply received so far is in the cache, so a re-run resumes from there." : ""}`);
      return null;
    });
    if (!result) return 1;
    bar?.stop();
    if (c.json) write(io.stdout, JSON.stringify({ summary: result.summary, llm: result.llm, written: result.written.length, ...(dryRun ? { dry_run: result.dryRun } : {}) }));
    else if (dryRun) write(io.stdout, formatDryRun(result.dryRun, result.llm));
    else write(io.stdout, `${c.formatSummary(result.summary, c.out, 0)}\n${formatLlmReport(result.llm)}\n  audit log: ${options.auditFile}`);
    return dryRun || result.llm.unbuilt.length === 0 ? 0 : 1;
  } finally {
    bar?.stop();
  }
}
