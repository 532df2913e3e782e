// `envforge run`: rollouts of a policy (oracle, random, or any OpenAI-compatible model) through MCP, recorded in the database.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { openRecorder } from "../store/index.ts";
import { calibrationPath, DEFAULT_MAX_TURNS, llmFactory, oracleFactory, randomFactory, readCalibration, runCurriculum, runRollouts, type CurriculumOptions, type PolicyFactory, type RolloutResult, type Target } from "../run/index.ts";
import { applyBand, BAND_FLAGS, BAND_USAGE } from "./band.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { dbLocation, PACKAGE_ENVIRONMENTS, shownDb } from "./serve.ts";
import { plural } from "../schema/index.ts";

export function count(name: string, value: string | undefined, min = 1): number | undefined {
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

/** The policy and its model endpoint (run and calibrate). */
export const POLICY_FLAGS = {
  policy: { type: "string" },
  seed: { type: "string" },
  "base-url": { type: "string" },
  model: { type: "string" },
  "api-key-env": { type: "string" },
  raw: { type: "boolean" },
  temperature: { type: "string" },
  "max-tokens": { type: "string" },
  timeout: { type: "string" },
  retries: { type: "string" },
  logprobs: { type: "string" },
  "no-logprobs": { type: "boolean" },
  "token-ids": { type: "boolean" },
} as const;

/** Which tasks, how many rollouts, and where they are recorded (run and calibrate). */
export const ROLLOUT_FLAGS = {
  dir: { type: "string" },
  env: { type: "string", multiple: true },
  task: { type: "string", multiple: true },
  limit: { type: "string" },
  n: { type: "string" },
  concurrency: { type: "string" },
  "max-turns": { type: "string" },
  db: { type: "string" },
} as const;

export type Values = Record<string, string | boolean | string[] | undefined>;

export function policyOf(values: Values, io: Io): PolicyFactory {
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
  // The run's --concurrency is also the most requests the model endpoint gets at once (the gate's ceiling).
  const concurrency = count("concurrency", values.concurrency as string | undefined);
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
      ...(concurrency !== undefined ? { concurrency } : {}),
    },
    values.raw ? "raw" : "native",
    (line) => write(io.stderr, `envforge run: ${line}`),
  );
}

const fmt = (x: number): string => x.toFixed(3);

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...POLICY_FLAGS,
      ...ROLLOUT_FLAGS,
      url: { type: "string" },
      token: { type: "string" },
      progress: { type: "boolean" },
      json: { type: "boolean" },
      ...BAND_FLAGS,
      curriculum: { type: "string" },
      rounds: { type: "string" },
      batch: { type: "string" },
    },
  });
  const policy = policyOf(values, io);
  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const loaded = await loadEnvironments([dir]);
  for (const p of loaded.problems) write(io.stderr, `envforge run: skipping ${formatProblem(p)}`);
  const environments = applyBand(values, loaded.environments.map((e) => e.env), dir, io, "run");
  const unknown = (values.env ?? []).filter((id) => !environments.some((e) => e.id === id));
  if (unknown.length > 0) throw new UsageError(`no environment ${unknown.map((u) => JSON.stringify(u)).join(", ")} in ${dir}`);

  // In process the database is ours; against a server it is the server's, opened only when named (to resume and mark failures).
  const location = values.db !== undefined || !values.url ? dbLocation(values.db, io) : null;
  const dbFile = location === null ? null : shownDb(location);
  const recorder = location === null ? null : await openRecorder(location);
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
  // Ctrl-C, or SIGTERM from a timeout or a CI runner, stops starting rollouts and cuts off the running ones:
  // they end as closed (not left running) and are retried when the run is resumed.
  const stop = new AbortController();
  const onInterrupt = (signal: NodeJS.Signals): void => {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onInterrupt);
    stop.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", onInterrupt);
  process.on("SIGTERM", onInterrupt);
  try {
    if (values.curriculum !== undefined) return await curriculum(values, { environments, policy, target, n: count("n", values.n) ?? 4, concurrency: count("concurrency", values.concurrency) ?? 4, maxTurns: count("max-turns", values["max-turns"]) ?? DEFAULT_MAX_TURNS, onRollout, signal: stop.signal }, dir, io);
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
      `${policy.label}: ${plural(summary.rollouts, "rollout")} of ${plural(summary.tasks, "task")}: ${summary.done} done, ${summary.skipped} skipped (already in the database), ${summary.failed} failed; ` +
        `mean solve precision ${avg((s) => s.solve_precision)}, rate ${avg((s) => s.solve_rate)}, f1 ${avg((s) => s.solve_f1)}` +
        (dbFile ? `\nrecorded in ${dbFile}; tables: envforge score --db ${dbFile}` : ""),
    );
    return summary.failed > 0 ? 1 : 0;
  } finally {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onInterrupt);
    bar?.stop();
    recorder?.close();
  }
}

/** `run --curriculum TARGET`: rounds of the tasks nearest the target pass rate, estimates from the calibration sidecar. */
async function curriculum(values: Values, options: Omit<CurriculumOptions, "targetRate" | "rounds" | "batch" | "prior">, dir: string, io: Io): Promise<number> {
  const targetRate = Number(values.curriculum);
  if (!Number.isFinite(targetRate) || targetRate < 0 || targetRate > 1) throw new UsageError(`--curriculum wants a target pass rate in [0, 1], got ${JSON.stringify(values.curriculum)}`);
  const file = values.calibration ? resolve(io.cwd, values.calibration as string) : calibrationPath(dir);
  const calibration = readCalibration(file);
  const prior = calibration.models[(values["calibrated-model"] as string | undefined) ?? options.policy.label] ?? null;
  if (!prior) write(io.stderr, `envforge run: no calibration for ${options.policy.label} in ${file}; every task starts unestimated`);
  const { rounds, results } = await runCurriculum({ ...options, targetRate, rounds: count("rounds", values.rounds as string | undefined) ?? 4, batch: count("batch", values.batch as string | undefined) ?? 8, prior });
  for (const r of rounds) write(io.stdout, `round ${r.round}: ${r.tasks.map((t) => `${t.key} (est ${fmt(t.estimate)} -> ${fmt(t.rate)})`).join(", ")}`);
  return results.some((r) => r.status === "failed") ? 1 : 0;
}

export const runCommand: Command = {
  usage:
    `run --policy oracle|random|llm [--dir DIR] [--env ID]... [--task ID]... [--limit N] [--n K] [--concurrency C] [--max-turns 20] [--db FILE | --url URL [--token T] [--db FILE]] [--seed S] [--progress] [--json] ${BAND_USAGE} [--curriculum TARGET [--rounds 4] [--batch 8]]\n` +
    "    llm: --base-url URL --model NAME [--api-key-env OPENAI_API_KEY] [--raw] [--temperature T] [--max-tokens N] [--timeout MS] [--retries 4] [--logprobs TOP_N | --no-logprobs] [--token-ids]",
  run,
};
