// `envforge validate PATH...`: checks environment files and folders, printing every problem.
import { parseArgs } from "node:util";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write } from "./io.ts";

export const validateCommand: Command = {
  name: "validate",
  summary: "Check environment files or folders; exit 1 on any problem",
  usage: "validate PATH... [--quiet]",
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { quiet: { type: "boolean", short: "q" } } });
    if (positionals.length === 0) throw new UsageError("give at least one file or folder");
    const report = await loadEnvironments(positionals, io.cwd);
    for (const p of report.problems) write(io.stderr, formatProblem(p));
    if (!values.quiet) {
      const tasks = report.environments.reduce((n, e) => n + e.env.tasks.length, 0);
      write(io.stdout, `${report.environments.length} environments valid (${tasks} tasks), ${report.problems.length} problems`);
    }
    return report.problems.length === 0 ? 0 : 1;
  },
};
