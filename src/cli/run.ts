// `envforge run`: rollouts of a policy (oracle, random, or any OpenAI-compatible model) through MCP, recorded in the database.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { Recorder } from "../store/index.ts";
import { DEFAULT_MAX_TURNS, llmFactory, oracleFactory, randomFactory, runRollouts, type PolicyFactory, type RolloutResult, type Target } from "../run/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { defaultDb, PACKAGE_ENVIRONMENTS } from "./serve.ts";

function count(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} wants an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function real(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} wants a number, got ${JSON.stringify(value)}`);
  return n;
}

type Values = Record<string, string | boolean | string[] | undefined>;

function policyOf(values: Values, io: Io): PolicyFactory {
  const policy = values.policy as string | undefined;
  const llmOnly = ["base-url", "model", "raw", "temperature", "max-tokens", "timeout", "retries", "api-key-env", "logprobs", "no-logprobs", "token-ids"].filter((k) => values[k] !== undefined);
  if (policy !== "llm" && llmOnly.length > 0) throw new UsageError(`--${llmOnly[0]} applies to --policy llm only`);
  if (policy === "oracle") return oracleFactory();
  if (policy === "random") return randomFactory((values.seed as string | undefined) ?? "0");
  if (policy !== "llm") throw new UsageError(`--policy is oracle, random or llm, got ${JSON.stringify(policy ?? null)}`);
  const baseUrl = values["base-url"] as string | undefined;
  const model = values.model as string | undefined;
  if (!baseUrl || !model) throw new UsageError("--policy llm needs --base-url and --model");
  const keyEnv = (values["api-key-env"] as string | undefined) ?? "OPENAI_API_KEY";
  const apiKey = io.env[keyEnv];
  const temperature = real("temperature", values.temperature as string | undefined);
  const maxTokens = count("max-tokens", values["max-tokens"] as string | undefined);
  const timeoutMs = count("timeout", values.timeout as string | undefined);
  const retries = count("retries", values.retries as string | undefined, 0);
  const logprobs = values["no-logprobs"] ? false : count("logprobs", values.logprobs as string | undefined, 0);
  return llmFactory(
    {
      baseUrl,
      model,
      ...(apiKey ? { apiKey } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { maxTokens } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(retries !== undefined ? { retries } : {}),
      ...(logprobs !== undefined ? { logprobs } : {}),
      ...(values["token-ids"] ? { tokenIds: true } : {}),
    },
    values.raw ? "raw" : "native",
    (message) => write(io.stderr, `envforge run: ${message}`),
  );
}

const fmt = (x: number): string => x.toFixed(3);

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      policy: { type: "string" },
      dir: { type: "string" },
      env: { type: "string", multiple: true },
      task: { type: "string", multiple: true },
      limit: { type: "string" },
      n: { type: "string" },
      concurrency: { type: "string" },
      "max-turns": { type: "string" },
      db: { type: "string" },
      url: { type: "string" },
      token: { type: "string" },
      seed: { type: "string" },
      progress: { type: "boolean" },
      json: { type: "boolean" },
      "base-url": { type: "string" },
      model: { type: "string" },
      "api-key-env": { type: "string" },
      raw: { type: "boolean" },
      temperature: { type: "string" },
      logprobs: { type: "string" },
      "no-logprobs": { type: "boolean" },
      "token-ids": { type: "boolean" },
      "max-tokens": { type: "string" },
      timeout: { type: "string" },
      retries: { type: "string" },
    },
  });
  const policy = policyOf(values, io);
  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const loaded = await loadEnvironments([dir]);
  for (const p of loaded.problems) write(io.stderr, `envforge run: skipping ${formatProblem(p)}`);
  const environments = loaded.environments.map((e) => e.env);
  const unknown = (values.env ?? []).filter((id) => !environments.some((e) => e.id === id));
  if (unknown.length > 0) throw new UsageError(`no environment ${unknown.map((u) => JSON.stringify(u)).join(", ")} in ${dir}`);

  // In process the database is ours; against a server it is the server's, opened only when named (to resume and mark failures).
  const dbFile = values.db ? resolve(io.cwd, values.db) : values.url ? null : defaultDb(io.env);
  const recorder = dbFile ? Recorder.open(dbFile) : null;
  if (!values.url && values.token) throw new UsageError("--token applies to --url only");
  const target: Target = values.url
    ? { kind: "http", url: values.url, ...(values.token ? { token: values.token } : {}), ...(recorder ? { recorder } : {}) }
    : { kind: "memory", recorder: recorder! };

  const showBar = values.progress === true || (io.stderr as NodeJS.WriteStream).isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar(
        { stream: io.stderr, format: "rollouts {bar} {value}/{total} | {failed} failed | {eta_formatted} left", noTTYOutput: values.progress === true, hideCursor: true, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let failed = 0;
  let started = false;
  const onRollout = (r: RolloutResult, done: number, total: number): void => {
    if (r.status === "failed") {
      failed++;
      if (!bar) write(io.stderr, `envforge run: ${r.episodeId} failed: ${r.error}`);
    }
    if (values.json) write(io.stdout, JSON.stringify(r));
    if (bar) {
      if (!started) (bar.start(total, 0, { failed: 0 }), (started = true));
      bar.update(done, { failed });
    }
  };
  // Ctrl-C stops starting rollouts and cuts off the running ones; they are retried when the run is resumed.
  const stop = new AbortController();
  const onInterrupt = (): void => stop.abort(new Error("interrupted"));
  process.once("SIGINT", onInterrupt);
  try {
    const summary = await runRollouts({
      environments,
      policy,
      target,
      ...(values.env ? { envIds: values.env } : {}),
      ...(values.task ? { taskIds: values.task } : {}),
      ...(values.limit !== undefined ? { limit: count("limit", values.limit)! } : {}),
      n: count("n", values.n) ?? 1,
      concurrency: count("concurrency", values.concurrency) ?? 4,
      maxTurns: count("max-turns", values["max-turns"]) ?? DEFAULT_MAX_TURNS,
      onRollout,
      signal: stop.signal,
    });
    bar?.stop();
    if (summary.tasks === 0) throw new UsageError("no task matches --env/--task");
    if (bar) for (const r of summary.results.filter((x) => x.status === "failed")) write(io.stderr, `envforge run: ${r.episodeId} failed: ${r.error}`);
    const scored = summary.results.filter((r) => r.status === "done" && r.score).map((r) => r.score!.ftrl);
    const avg = (f: (s: (typeof scored)[number]) => number): string => (scored.length ? fmt(scored.reduce((a, s) => a + f(s), 0) / scored.length) : "-");
    write(
      values.json ? io.stderr : io.stdout,
      `${policy.label}: ${summary.rollouts} rollouts of ${summary.tasks} tasks: ${summary.done} done, ${summary.skipped} skipped (already in the database), ${summary.failed} failed; ` +
        `mean solve precision ${avg((s) => s.solve_precision)}, rate ${avg((s) => s.solve_rate)}, f1 ${avg((s) => s.solve_f1)}` +
        (dbFile ? `\nrecorded in ${dbFile}; tables: envforge score --db ${dbFile}` : ""),
    );
    return summary.failed > 0 ? 1 : 0;
  } finally {
    process.off("SIGINT", onInterrupt);
    bar?.stop();
    recorder?.close();
  }
}

export const runCommand: Command = {
  name: "run",
  summary: "Roll out a policy (oracle, random, or an OpenAI-compatible model) through MCP and record the episodes",
  usage:
    "run --policy oracle|random|llm [--dir DIR] [--env ID]... [--task ID]... [--limit N] [--n K] [--concurrency C] [--max-turns 20] [--db FILE | --url URL [--token T] [--db FILE]] [--seed S] [--progress] [--json]\n" +
    "    llm: --base-url URL --model NAME [--api-key-env OPENAI_API_KEY] [--raw] [--temperature T] [--max-tokens N] [--timeout MS] [--retries 4] [--logprobs TOP_N | --no-logprobs] [--token-ids]",
  run,
};
