// `envforge calibrate`: n rollouts of every task by one policy; per-task pass@1, pass@n, mean solve rate and state_match go to the suite's sidecar.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { Recorder } from "../store/index.ts";
import { calibrate, calibrationPath, DEFAULT_MAX_TURNS, writeCalibration } from "../run/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { count, policyOf, POLICY_FLAGS, ROLLOUT_FLAGS } from "./run.ts";
import { defaultDb, PACKAGE_ENVIRONMENTS } from "./serve.ts";

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...POLICY_FLAGS, ...ROLLOUT_FLAGS, out: { type: "string" } },
  });
  // Calibration counts successes: token logprobs would cost every request and be thrown away.
  const tokens = values.policy === "llm" && values.logprobs === undefined && !values["token-ids"] ? { "no-logprobs": true } : {};
  const policy = policyOf({ ...values, ...tokens }, io);
  const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
  const loaded = await loadEnvironments([dir]);
  for (const p of loaded.problems) write(io.stderr, `envforge calibrate: skipping ${formatProblem(p)}`);
  const environments = loaded.environments.map((e) => e.env);
  const dbFile = values.db ? resolve(io.cwd, values.db) : defaultDb(io.env);
  const out = values.out ? resolve(io.cwd, values.out) : calibrationPath(dir);
  const recorder = Recorder.open(dbFile);
  try {
    const result = await calibrate({
      environments,
      policy,
      target: { kind: "memory", recorder },
      ...(values.env ? { envIds: values.env } : {}),
      ...(values.task ? { taskIds: values.task } : {}),
      ...(values.limit !== undefined ? { limit: count("limit", values.limit)! } : {}),
      n: count("n", values.n) ?? 8,
      concurrency: count("concurrency", values.concurrency) ?? 4,
      maxTurns: count("max-turns", values["max-turns"]) ?? DEFAULT_MAX_TURNS,
    });
    const figures = Object.values(result.calibration.tasks);
    if (figures.length === 0) throw new UsageError("no task matches --env/--task");
    writeCalibration(out, result.model, result.calibration);
    const mean = (f: (t: (typeof figures)[number]) => number) => (figures.reduce((a, t) => a + f(t), 0) / figures.length).toFixed(3);
    const states = figures.filter((t) => t.state_match !== null);
    write(
      io.stdout,
      `${result.model}: ${figures.length} tasks x ${result.calibration.n} rollouts; mean pass@1 ${mean((t) => t.pass_at_1)}, pass@${result.calibration.n} ${mean((t) => t.pass_at_n)}, solve rate ${mean((t) => t.mean_solve_rate)}` +
        (states.length ? `, state_match ${(states.reduce((a, t) => a + t.state_match!, 0) / states.length).toFixed(3)} over ${states.length} write tasks` : "") +
        `${result.failed ? `; ${result.failed} rollouts failed (counted as unsolved)` : ""}\nwrote ${out}; episodes recorded in ${dbFile}`,
    );
    return result.failed > 0 ? 1 : 0;
  } finally {
    await recorder.close();
  }
}

export const calibrateCommand: Command = {
  usage:
    "calibrate --policy oracle|random|llm [--n 8] [--dir DIR] [--env ID]... [--task ID]... [--limit N] [--concurrency C] [--max-turns 20] [--db FILE] [--out FILE] [--seed S]\n" +
    "    llm: --base-url URL --model NAME [--api-key-env OPENAI_API_KEY] [--raw] [--temperature T] [--max-tokens N] [--timeout MS] [--retries 4]",
  run,
};
