// `envforge build`: builds validated environments into a folder and prints what was made and rejected.
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import { buildToDirectory, type BuildToDirectoryOptions } from "../construct/index.ts";
import { Complexity, Domain, ImplementationLanguage, plural, DOMAINS, Scenario, SCENARIOS, STRATEGIES, type BuildSummary } from "../schema/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write } from "./io.ts";
import { checkOutputFolder } from "./paths.ts";
import { LLM_FLAGS, LLM_USAGE, runLlmBuild, wantsLlm } from "./build-llm.ts";

function parseComplexity(text: string): Complexity | "mixed" {
  if (text === "mixed") return "mixed";
  const parts = text.split(",").map((p) => Number(p.trim()));
  const levels = parts.length === 1 ? STRATEGIES.map(() => parts[0]!) : parts;
  const parsed = Complexity.safeParse(Object.fromEntries(STRATEGIES.map((s, i) => [s, levels[i]])));
  if (levels.length !== STRATEGIES.length || !parsed.success) throw new UsageError(`--complexity takes a level 0-3, four comma-separated levels (${STRATEGIES.join(",")}), or "mixed"; got "${text}"`);
  return parsed.data;
}

function int(text: string | undefined, flag: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > 0xffffffff) throw new UsageError(`${flag} takes a whole number >= ${min}; got "${text}"`);
  return n;
}

const table = (counts: Record<string, number>): string => Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ") || "none";

export function formatSummary(s: BuildSummary, out: string, removed: number): string {
  return [
    `built ${plural(s.built, "environment")} (${plural(s.tasks, "task")}) from ${plural(s.candidates, "candidate")} into ${out}${removed > 0 ? `, removed ${plural(removed, "stale file")}` : ""}`,
    `  by scenario:   ${table(s.by_scenario)}`,
    `  by complexity: ${table(s.by_complexity)}`,
    `  by domain:     ${table(s.by_domain)}`,
    `  tools per environment: min ${s.tools_per_environment.min}, mean ${s.tools_per_environment.mean}, max ${s.tools_per_environment.max}`,
    `  rejected candidates: ${table(s.rejected)}`,
  ].join("\n");
}

export const buildCommand: Command = {
  usage: `build (--count N | --suite) --out DIR [--seed S] [--scenario ${SCENARIOS.join("|")}|mixed] [--complexity 0-3|a,b,c,d|mixed] [--domain ${DOMAINS.join("|")}] [--language javascript|python] [--jobs N] [--progress] [--json] ${LLM_USAGE}`,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        count: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        scenario: { type: "string" },
        complexity: { type: "string" },
        domain: { type: "string" },
        language: { type: "string" },
        suite: { type: "boolean" },
        jobs: { type: "string" },
        progress: { type: "boolean" },
        json: { type: "boolean" },
        ...LLM_FLAGS,
      },
    });
    if (!values.out) throw new UsageError("--out DIR is required");
    if (!values.suite && values.count === undefined && values["from-questions"] === undefined) throw new UsageError("give --count N, or --suite for the shipped suite");
    if (values.suite && (values.count !== undefined || values.scenario || values.complexity || values.domain)) throw new UsageError("--suite fixes count, scenarios, levels and domains; drop the other flags");
    const scenario = values.scenario ?? "mixed";
    if (scenario !== "mixed" && !Scenario.safeParse(scenario).success) throw new UsageError(`unknown scenario "${scenario}"`);
    if (values.domain !== undefined && !Domain.safeParse(values.domain).success) throw new UsageError(`unknown domain "${values.domain}"; one of ${DOMAINS.join(", ")}`);
    const count = int(values.count, "--count", 0, 1);
    const language = values.language ?? "javascript";
    if (!ImplementationLanguage.safeParse(language).success) throw new UsageError(`--language takes javascript or python; got "${language}"`);
    if (language !== "javascript" && wantsLlm(values)) throw new UsageError("--language python deploys the procedural generator's tools; LLM-built environments are JavaScript");
    await checkOutputFolder(resolve(io.cwd, values.out), "--out", values.out);
    const showBar = values.progress === true || (io.stderr as { isTTY?: boolean }).isTTY === true;
    if (wantsLlm(values)) return runLlmBuild(values, io, { out: resolve(io.cwd, values.out), count, seed: int(values.seed, "--seed", 1, 0), scenario: scenario as Scenario | "mixed", complexity: parseComplexity(values.complexity ?? "mixed"), ...(values.domain ? { domain: values.domain as Domain } : {}), suite: values.suite === true, showBar, json: values.json === true, formatSummary });
    const bar = showBar ? new SingleBar({ stream: io.stderr, format: "building {bar} {value}/{total} environments | {duration}s", hideCursor: true, noTTYOutput: true, notTTYSchedule: 1000 }) : null;
    let started = false;
    const options: BuildToDirectoryOptions = {
      out: resolve(io.cwd, values.out),
      count,
      seed: int(values.seed, "--seed", 1, 0),
      scenario: scenario as Scenario | "mixed",
      complexity: parseComplexity(values.complexity ?? "mixed"),
      ...(values.domain ? { domain: values.domain as Domain } : {}),
      suite: values.suite === true,
      language: language as ImplementationLanguage,
      jobs: int(values.jobs, "--jobs", availableParallelism(), 1),
      onProgress: (done, total) => {
        if (!bar) return;
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    };
    try {
      const result = await buildToDirectory(options);
      bar?.stop();
      if (values.json) write(io.stdout, JSON.stringify({ summary: result.summary, written: result.written.length, removed: result.removed.length }));
      else write(io.stdout, formatSummary(result.summary, values.out, result.removed.length));
      return 0;
    } finally {
      bar?.stop();
    }
  },
};
