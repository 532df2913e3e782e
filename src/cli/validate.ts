// `envforge validate PATH...`: checks environment files and folders, printing every problem.
import { parseArgs } from "node:util";
import { validateEnvironments } from "../construct/index.ts";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { plural } from "../schema/index.ts";
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
      // The gate runs an environment's code, which needs a file that parses: say so rather than look clean.
      const unparsed = new Set(report.problems.map((p) => p.file).filter((f) => !report.environments.some((e) => e.file === f))).size;
      const gateNote = !values.static && unparsed > 0 ? `; the validation gate did not run on ${plural(unparsed, "file")} that did not load (fix those, then validate again)` : "";
      write(io.stdout, `${plural(valid.length, "environment")} valid (${plural(tasks, "task")}), ${plural(report.problems.length, "problem")}${gateNote}`);
    }
    return report.problems.length === 0 ? 0 : 1;
  },
};
