// `envforge import`: trajectories from a file (ATIF, HF chat rows, FTRL rows) stored as imported episodes and scored in both reward modes.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { IMPORT_FORMATS, ImportError, importTrajectories, type ImportFormat } from "../export/index.ts";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { Recorder } from "../store/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write } from "./io.ts";
import { defaultDb, PACKAGE_ENVIRONMENTS } from "./serve.ts";

export const importCommand: Command = {
  usage: `import --format ${Object.keys(IMPORT_FORMATS).join("|")} FILE [--env ID] [--task ID] [--db FILE] [--dir DIR] [--progress]`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { format: { type: "string" }, env: { type: "string" }, task: { type: "string" }, db: { type: "string" }, dir: { type: "string" }, progress: { type: "boolean" } },
    });
    const format = values.format as ImportFormat | undefined;
    if (!format || !Object.hasOwn(IMPORT_FORMATS, format)) throw new UsageError(`--format is one of ${Object.keys(IMPORT_FORMATS).join(", ")}`);
    if (positionals.length !== 1) throw new UsageError("give exactly one FILE to import");
    const file = resolve(io.cwd, positionals[0]!);
    const dir = values.dir ? resolve(io.cwd, values.dir) : PACKAGE_ENVIRONMENTS;
    const loaded = await loadEnvironments([dir]);
    for (const p of loaded.problems) write(io.stderr, `envforge import: skipping ${formatProblem(p)}`);
    const dbFile = values.db ? resolve(io.cwd, values.db) : defaultDb(io.env);
    const recorder = Recorder.open(dbFile);
    try {
      const result = await importTrajectories({
        db: recorder.db,
        environments: loaded.environments.map((e) => e.env),
        file,
        format,
        ...(values.env !== undefined ? { envId: values.env } : {}),
        ...(values.task !== undefined ? { taskId: values.task } : {}),
        ...(values.progress || (io.stderr as { isTTY?: boolean }).isTTY ? { onProgress: (n: number) => write(io.stderr, `envforge import: ${n} read`) } : {}),
      });
      const f = (x: number): string => x.toFixed(3);
      write(io.stdout, `imported ${result.episodes} episode${result.episodes === 1 ? "" : "s"} (${result.calls} calls) from ${file} into ${dbFile} as ${result.batch}; mean solve_f1 ${f(result.mean.ftrl)} (ftrl), ${f(result.mean.strict)} (strict)`);
      return 0;
    } catch (err) {
      if (!(err instanceof ImportError)) throw err;
      write(io.stderr, `envforge import: ${err.message}`);
      return 1;
    } finally {
      recorder.close();
    }
  },
};
