// `envforge validate PATH...`: checks environment files and folders, printing every problem.
import { parseArgs } from "node:util";
import { validateEnvironments } from "../construct/index.ts";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write } from "./io.ts";

export const validateCommand: Command = {
  usage: "validate PATH... [--static] [--quiet]",
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { quiet: { type: "boolean", short: "q" }, static: { type: "boolean" } } });
    if (positionals.length === 0) throw new UsageError("give at least one file or folder");
    const report = await loadEnvironments(positionals, io.cwd);
    // Beyond the schema: replay every gold plan and probe every tool (skipped with --static).
    if (!values.static) report.problems.push(...(await validateEnvironments(report.environments)));
    for (const p of report.problems) write(io.stderr, formatProblem(p));
    if (!values.quiet) {
      const bad = new Set(report.problems.map((p) => p.file));
      const valid = report.environments.filter((e) => !bad.has(e.file));
      const tasks = valid.reduce((n, e) => n + e.env.tasks.length, 0);
      write(io.stdout, `${valid.length} environments valid (${tasks} tasks), ${report.problems.length} problems`);
    }
    return report.problems.length === 0 ? 0 : 1;
  },
};
