// `envforge list`: the environments in a folder with their scenario, complexity, tool count and task ids.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { listEnvironments } from "../construct/index.ts";
import { formatProblem } from "../load/index.ts";
import type { Command } from "./command.ts";
import { write } from "./io.ts";
import { plural } from "../schema/index.ts";

/** The package's own environments/ folder, wherever envforge is run from. */
export const PACKAGE_ENVIRONMENTS = resolve(dirname(fileURLToPath(import.meta.url)), "../../environments");

export const listCommand: Command = {
  usage: "list [--dir DIR] [--json]",
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { dir: { type: "string" }, json: { type: "boolean" } } });
    const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
    const { environments, problems } = await listEnvironments(dir);
    for (const p of problems) write(io.stderr, formatProblem(p));
    if (values.json) {
      write(io.stdout, JSON.stringify(environments.map((e) => ({ id: e.id, scenario: e.scenario, complexity: e.complexity, tools: e.tools, tasks: e.tasks }))));
    } else {
      const rows = environments.map((e) => [e.id, e.scenario, Object.values(e.complexity).join(","), String(e.tools), e.tasks.join(" ")]);
      const head = ["id", "scenario", "complexity", "tools", "tasks"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) write(io.stdout, r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "));
      write(io.stdout, plural(environments.length, "environment"));
    }
    return problems.length === 0 ? 0 : 1;
  },
};
