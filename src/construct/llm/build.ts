// Building environments with LLM stages: one request per environment from the source, each candidate's
// five stages run on the model or procedurally (chosen per stage), the same gate as the procedural
// build, and only what passes is kept; a rejected candidate is retried with a derived seed.
import { DOMAINS, type BuildRequest, type BuildSummary, type Decomposition, type Documentation, type Environment, type Integration, type SandboxLimitsInput, type Scaling } from "../../schema/index.ts";
import { summarize, type Built } from "../build.ts";
import { decompose } from "../decompose.ts";
import { deploy } from "../deploy.ts";
import { document } from "../document.ts";
import { integrate } from "../integrate.ts";
import { writeEnvironments, type WriteReport } from "../files.ts";
import { environmentText, provenanceStages } from "../pipeline.ts";
import { planRequest, type BuildOptions } from "../plan.ts";
import { Rejection } from "../reject.ts";
import { hashSeed } from "../rng.ts";
import { scale } from "../scale.ts";
import { gate, GATE_CHECKS } from "../validate.ts";
import { AuditLog, ReplyCache } from "./cache.ts";
import { checkCalls, checkDecomposition, checkEnvironment, checkIntegration, checkScaling } from "./checks.ts";
import { pool, RateLimiter } from "./limit.ts";
import type { ChatModel, PromptMessage } from "./model.ts";
import { render } from "./prompts.ts";
import { slug, type Source, type SourceQuestion } from "./sources.ts";
import { DryRunStop, emptyStats, runModelStage, STAGE_NAMES, STAGE_OUTPUT, type Candidate, type Session, type StageName, type StagePrompt, type StageStats } from "./stage.ts";

export const LLM_GENERATOR = "envforge-llm";
export const LLM_GENERATOR_VERSION = "1";

/** The gate's checks an LLM build runs (it replays candidates from the cache, not twice from scratch). */

export interface LlmProgress {
  /** Environments finished (built or given up) out of `total`. */
  done: number;
  total: number;
  candidates: number;
  requests: number;
  cached: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export interface LlmBuildOptions extends Omit<BuildOptions, "stages" | "validate" | "onProgress"> {
  model: ChatModel;
  /** Stages that run on the model; the others run procedurally. */
  llmStages: readonly StageName[];
  source?: Source;
  /** Candidates per environment before it is given up (default 3). */
  attempts?: number;
  /** Replies per stage, the first one included, before a candidate is given up (default 3). */
  turns?: number;
  /** Environments in flight at once (default 4). */
  concurrency?: number;
  /** Requests per minute, or null for no limit. */
  rateLimit?: number | null;
  /** Reply cache folder, or null for none. */
  cacheDir?: string | null;
  /** Audit log (JSON Lines), or null for none. */
  auditFile?: string | null;
  /** Show the prompts that would be sent (following cached replies as far as they go); send nothing. */
  dryRun?: boolean;
  temperature?: number;
  maxTokens?: number;
  /** Sandbox limits for the gate (tests use short ones). */
  limits?: SandboxLimitsInput;
  onProgress?: (p: LlmProgress) => void;
}

export interface DryRunPrompt {
  env: string;
  stage: StageName;
  prompt: string;
  messages: PromptMessage[];
}

export interface LlmReport {
  model: string;
  source: string;
  /** Per stage; `acceptance` is accepted / runs (null when it never ran). */
  stages: Record<StageName, StageStats & { acceptance: number | null }>;
  gate: { candidates: number; passed: number; rejected: Record<string, number> };
  requests: number;
  cached: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Environments given up after every attempt, and why each attempt failed. */
  unbuilt: { id: string; reasons: string[] }[];
  /** In a dry run: environments whose every reply came from the cache. */
  complete_from_cache: number;
}

export interface LlmBuildResult {
  environments: Built[];
  summary: BuildSummary;
  llm: LlmReport;
  dryRun: DryRunPrompt[];
}

/** Why this choice of stages cannot build from this source, or null. */
export function stageChoiceError(source: Source, llmStages: readonly StageName[]): string | null {
  if (llmStages.length === 0) return "name at least one stage to run on the LLM";
  if (source.kind !== "world" && !llmStages.includes("decompose")) return `building from a ${source.kind === "topic" ? "topic" : source.kind === "tools" ? "toolset" : "question set"} needs the decompose stage on the LLM`;
  if (source.kind === "tools" && llmStages.length < STAGE_NAMES.length) return "building from a toolset needs every stage on the LLM: the procedural stages write their own tool documents and code";
  return null;
}

export function sourceLabel(source: Source): string {
  switch (source.kind) {
    case "world":
      return "world";
    case "topic":
      return `topic: ${source.topic}`;
    case "tools":
      return `tools: ${source.origin} (${source.tools.length})`;
    case "questions":
      return `questions: ${source.origin} (${source.questions.length})`;
  }
}

/** One request per environment: planned as the procedural build plans them, with ids naming an outside source. */
export function planLlmRequests(o: Pick<LlmBuildOptions, "count" | "seed" | "scenario" | "complexity" | "domain">, source: Source): BuildRequest[] {
  if (source.kind === "world") return Array.from({ length: o.count }, (_, i) => planRequest(o, i));
  const label = slug(source.kind === "topic" ? source.topic : source.origin);
  if (source.kind === "questions") {
    return source.questions.slice(0, o.count).map((_, i) => {
      const r = planRequest({ ...o, scenario: "single-hop" }, i);
      return { ...r, id: `${label}-q${i + 1}-${r.seed.toString(16).padStart(8, "0")}`, tasks: 1 };
    });
  }
  return Array.from({ length: o.count }, (_, i) => {
    const r = planRequest(o, i);
    // Planned ids open with the domain, which the model may change here; the source names the environment instead.
    return { ...r, id: r.id.replace(/^[a-z]+/, label) };
  });
}

const DOMAIN_LIST = DOMAINS.join(", ");

/** The source section of a stage's prompt: the whole source for decomposition, what later stages must keep after. */
function sourcePrompt(source: Source, stage: StageName, request: BuildRequest, question: SourceQuestion | null): StagePrompt["source"] {
  const first = stage === "decompose";
  switch (source.kind) {
    case "world":
      return first ? render("source-world", { domain: request.domain }) : null;
    case "topic":
      return first ? render("source-topic", { topic: source.topic, domains: DOMAIN_LIST }) : render("context-topic", { topic: source.topic });
    case "tools":
      return render(first ? "source-tools" : "context-tools", { origin: source.origin, tools: JSON.stringify(source.tools), domains: DOMAIN_LIST });
    case "questions":
      return first ? render("source-questions", { origin: source.origin, question: question!.question, answer: question!.answer, domains: DOMAIN_LIST }) : null;
  }
}

interface Ctx {
  session: Session;
  llm: Set<StageName>;
  source: Source;
  limits: SandboxLimitsInput | undefined;
  dryRun: boolean;
}

type CandidateResult = { built: Built } | { reason: string; detail: string } | { dry: DryRunPrompt };

async function runCandidate(ctx: Ctx, index: number, base: BuildRequest, attempt: number): Promise<CandidateResult> {
  const request = attempt === 0 ? base : { ...base, seed: hashSeed(base.seed, "retry", attempt) };
  const cand: Candidate = { env: request.id, attempt, exchanges: [] };
  const question = ctx.source.kind === "questions" ? ctx.source.questions[index]! : null;
  let modelSoFar = false;
  const run = async <T>(stage: StageName, procedural: () => T, inputs: Record<string, unknown>, check: (out: T) => string[]): Promise<T> => {
    if (ctx.llm.has(stage)) {
      modelSoFar = true;
      return runModelStage(ctx.session, cand, stage, { source: sourcePrompt(ctx.source, stage, request, question), inputs }, check);
    }
    const stats = ctx.session.stats[stage];
    stats.runs++;
    try {
      const parsed = STAGE_OUTPUT[stage].safeParse(procedural());
      if (!parsed.success) throw new Error(`broke its contract: ${parsed.error.issues[0]?.message}`);
      stats.accepted++;
      return parsed.data as T;
    } catch (err) {
      // A procedural stage failing on its own output is a bug; failing on a model's output rejects the candidate.
      if (!(err instanceof Rejection) && !modelSoFar) throw err;
      const reason = err instanceof Rejection ? err.reason : `${stage}:error`;
      stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1;
      throw err instanceof Rejection ? err : new Rejection(reason, `procedural ${stage} on the model's output: ${(err as Error).message}`);
    }
  };
  let env: Environment;
  let artifacts: { decomposition: Decomposition; documentation: Documentation; integration: Integration; scaling: Scaling };
  try {
    const d = await run("decompose", () => decompose(request), { request }, (out: Decomposition) => checkDecomposition(request, out, ctx.source, question));
    const doc = await run("document", () => document(d), { decomposition: d }, (out: Documentation) => checkCalls(d, out.tools, out.calls, ctx.source));
    const integ = await run("integrate", () => integrate(d, doc), { decomposition: d, documentation: doc }, (out: Integration) => checkIntegration(d, out, ctx.source));
    const scaling = await run("scale", () => scale(d, integ), { decomposition: d, integration: integ }, (out: Scaling) => checkScaling(d, out, ctx.source));
    env = await run("deploy", () => deploy(d, scaling), { decomposition: d, scaling }, (out: Environment) => checkEnvironment(d, scaling, out, ctx.source));
    artifacts = { decomposition: d, documentation: doc, integration: integ, scaling };
  } catch (err) {
    if (err instanceof Rejection) return { reason: err.reason, detail: err.message };
    if (err instanceof DryRunStop) return { dry: { env: request.id, stage: err.stage, prompt: err.prompt, messages: err.messages } };
    throw err;
  }
  env.provenance = {
    generator: LLM_GENERATOR,
    version: LLM_GENERATOR_VERSION,
    seed: request.seed,
    stages: {
      ...provenanceStages(artifacts, env),
      llm: {
        model: ctx.session.model.name,
        source: sourceLabel(ctx.source),
        stages: Object.fromEntries(STAGE_NAMES.map((s) => [s, ctx.llm.has(s) ? "llm" : "procedural"])),
        exchanges: cand.exchanges.map((e) => ({ ...e, usage: e.usage ? { ...e.usage } : null })),
      },
    },
  };
  if (ctx.dryRun) return { built: { env, text: environmentText(env) } };
  const report = await gate(env, ctx.limits);
  if (!report.ok) {
    const first = report.issues[0]!;
    return { reason: `gate:${first.check}`, detail: report.issues.slice(0, 5).map((i) => `${i.check} at ${i.path}: ${i.message}`).join("; ") };
  }
  env.provenance.stages.validate = { replayed_steps: report.replayed_steps, probes: report.probes, checks: GATE_CHECKS };
  return { built: { env, text: environmentText(env) } };
}

/**
 * Builds environments with the chosen stages on the model. Environments come back in plan order; no
 * two share a question (a later one that repeats an earlier one's question is rebuilt). Nothing is
 * written here: `buildToDirectoryWithLlm` writes the kept environments.
 */
export async function buildWithLlm(o: LlmBuildOptions): Promise<LlmBuildResult> {
  const source = o.source ?? { kind: "world" };
  const problem = stageChoiceError(source, o.llmStages);
  if (problem) throw new Error(problem);
  const requests = planLlmRequests(o, source);
  const llm = new Set(o.llmStages);
  const dryRun = o.dryRun === true;
  const controller = new AbortController();
  const attempts = dryRun ? 1 : Math.max(1, o.attempts ?? 3);
  const stats = Object.fromEntries(STAGE_NAMES.map((s) => [s, emptyStats(llm.has(s) ? "llm" : "procedural")])) as Record<StageName, StageStats>;
  const audit = o.auditFile && !dryRun ? AuditLog.create(o.auditFile) : null;
  let done = 0;
  let candidates = 0;
  const totals = () => {
    const all = Object.values(stats);
    const sum = (k: "requests" | "cached" | "prompt_tokens" | "completion_tokens") => all.reduce((n, s) => n + s[k], 0);
    return { requests: sum("requests"), cached: sum("cached"), prompt_tokens: sum("prompt_tokens"), completion_tokens: sum("completion_tokens") };
  };
  const progress = () => o.onProgress?.({ done, total: requests.length, candidates, ...totals() });
  const session: Session = {
    model: o.model,
    cache: o.cacheDir ? new ReplyCache(o.cacheDir) : null,
    audit,
    limiter: o.rateLimit ? new RateLimiter(o.rateLimit) : null,
    temperature: o.temperature,
    maxTokens: o.maxTokens,
    turns: Math.max(1, o.turns ?? 3),
    dryRun,
    stats,
    signal: controller.signal,
    onRequest: progress,
  };
  const ctx: Ctx = { session, llm, source, limits: o.limits, dryRun };
  const rejected: Record<string, number> = {};
  const gateStats = { candidates: 0, passed: 0, rejected: {} as Record<string, number> };
  const dry: (DryRunPrompt | undefined)[] = [];
  const nextAttempt = new Map<number, number>();
  const reasons = new Map<number, string[]>();
  const reject = async (i: number, attempt: number, reason: string, detail: string) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    reasons.set(i, [...(reasons.get(i) ?? []), reason]);
    await audit?.write({ kind: "candidate", env: requests[i]!.id, attempt, outcome: "rejected", reason, detail });
  };

  /** Candidates of environment i from its next attempt on, until one passes the gate or attempts run out. */
  const next = async (i: number): Promise<Built | null> => {
    for (let a = nextAttempt.get(i) ?? 0; a < attempts; a = nextAttempt.get(i)!) {
      nextAttempt.set(i, a + 1);
      candidates++;
      const r = await runCandidate(ctx, i, requests[i]!, a);
      if ("dry" in r) {
        dry[i] = r.dry;
        return null;
      }
      if ("built" in r) {
        if (!dryRun) {
          gateStats.candidates++;
          gateStats.passed++;
        }
        await audit?.write({ kind: "candidate", env: requests[i]!.id, attempt: a, outcome: "passed" });
        return r.built;
      }
      if (r.reason.startsWith("gate:")) {
        gateStats.candidates++;
        gateStats.rejected[r.reason] = (gateStats.rejected[r.reason] ?? 0) + 1;
      }
      await reject(i, a, r.reason, r.detail);
    }
    return null;
  };

  const found: (Built | null)[] = requests.map(() => null);
  try {
    await pool(requests, o.concurrency ?? 4, async (_, i) => {
      try {
        found[i] = await next(i);
      } catch (err) {
        controller.abort(err);
        throw err;
      }
      done++;
      progress();
    });
    // In plan order, so which environment keeps a shared question does not depend on timing.
    const questions = new Set<string>();
    const environments: Built[] = [];
    const unbuilt: LlmReport["unbuilt"] = [];
    for (const [i, request] of requests.entries()) {
      let b = found[i] ?? null;
      while (b && b.env.tasks.some((t) => questions.has(t.question))) {
        await reject(i, (nextAttempt.get(i) ?? 1) - 1, "duplicate-question", "another environment of this build asks the same question");
        b = await next(i);
      }
      if (b) {
        for (const t of b.env.tasks) questions.add(t.question);
        environments.push(b);
        if (!dryRun) await audit?.write({ kind: "kept", env: request.id, attempt: (nextAttempt.get(i) ?? 1) - 1 });
      } else if (!dryRun) unbuilt.push({ id: request.id, reasons: reasons.get(i) ?? [] });
    }
    const report: LlmReport = {
      model: o.model.name,
      source: sourceLabel(source),
      stages: Object.fromEntries(STAGE_NAMES.map((s) => [s, { ...stats[s], acceptance: stats[s].runs === 0 ? null : Math.round((stats[s].accepted / stats[s].runs) * 1000) / 1000 }])) as LlmReport["stages"],
      gate: gateStats,
      ...totals(),
      unbuilt,
      complete_from_cache: dryRun ? environments.length : 0,
    };
    return { environments: dryRun ? [] : environments, summary: summarize(dryRun ? [] : environments, candidates, rejected), llm: report, dryRun: dry.filter((p) => p !== undefined) };
  } finally {
    await audit?.flush();
  }
}

export interface LlmBuildToDirectoryOptions extends LlmBuildOptions {
  out: string;
}

/** `envforge build --generator llm` as one call: build, then write the kept environments (none in a dry run). */
export async function buildToDirectoryWithLlm(o: LlmBuildToDirectoryOptions): Promise<LlmBuildResult & WriteReport> {
  const result = await buildWithLlm(o);
  const files = o.dryRun ? { written: [], removed: [] } : await writeEnvironments(o.out, result.environments);
  return { ...result, ...files };
}
