// `envforge import`: trajectories from a file (ATIF, HF chat rows, FTRL rows) stored as scored episodes (--format), or datasets in other layouts turned into environment files (--from).
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { environmentText, importTaubenchDomain } from "../construct/index.ts";
import { environmentsFromRows, ftrlRowsIn, IMPORT_FORMATS, ImportError, importTrajectories, type ImportFormat } from "../export/index.ts";
import { formatProblem, loadEnvironments } from "../load/index.ts";
import { readTaubench } from "../load/taubench.ts";
import { Recorder } from "../store/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { defaultDb, PACKAGE_ENVIRONMENTS } from "./serve.ts";

/** What an import source gives back: environments written, tasks left out, problems. */
interface ImportReport {
  written: string[];
  skipped: string[];
  problems: string[];
}

/** Each `--from` source: reads a folder or file, writes environment files under OUT. */
const IMPORT_SOURCES: Record<string, { summary: string; run: (path: string, out: string) => Promise<ImportReport> }> = {
  "ftrl-taubench": {
    summary: "FTRL's tau-bench domains: tools.json, codes.json (Python), data/*.json, tasks*.json per domain folder",
    async run(dir, out) {
      const { domains, problems } = await readTaubench(dir);
      const report: ImportReport = { written: [], skipped: [], problems: [...problems] };
      for (const domain of domains) {
        const imported = await importTaubenchDomain(domain);
        report.problems.push(...imported.problems);
        report.skipped.push(...imported.skipped.map((s) => `${domain.name}/${s.task}: ${s.reason}`));
        if (!imported.env) continue;
        await mkdir(out, { recursive: true });
        const file = join(out, `${imported.env.id}.json`);
        await writeFile(file, environmentText(imported.env));
        report.written.push(`${file} (${imported.env.tasks.length} tasks, ${imported.env.tools.length} tools)`);
      }
      return report;
    },
  },
  "ftrl-rows": {
    summary: "FTRL-format rows (JSON Lines or .parquet): tools, Python codes, unsolved_set, answer; tasks without a gold plan, checked statically",
    async run(file, out) {
      const { environments, problems } = await environmentsFromRows(ftrlRowsIn(file), file);
      const report: ImportReport = { written: [], skipped: [], problems: problems.map((p) => (p.startsWith(file) ? p : `${file}: ${p}`)) };
      // One bad row and nothing is written: a partial import would look whole.
      if (report.problems.length > 0) return report;
      await mkdir(out, { recursive: true });
      for (const env of environments) {
        const target = join(out, `${env.id}.json`);
        await writeFile(target, environmentText(env));
        report.written.push(`${target} (${env.tasks.length} tasks, ${env.tools.length} tools; static checks only: the dynamic gate needs a gold plan, which rows do not carry)`);
      }
      return report;
    },
  },
};

const OPTIONS = {
  format: { type: "string" },
  from: { type: "string" },
  out: { type: "string" },
  env: { type: "string" },
  task: { type: "string" },
  db: { type: "string" },
  dir: { type: "string" },
  progress: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>>["values"];

async function environmentsFrom(values: Values, path: string, io: Io): Promise<number> {
  const source = values.from ? IMPORT_SOURCES[values.from] : undefined;
  if (!source) throw new UsageError(`--from is one of ${Object.keys(IMPORT_SOURCES).join(", ")}`);
  if (!values.out) throw new UsageError("--out DIR is required with --from: the folder the environments are written to");
  const report = await source.run(path, resolve(io.cwd, values.out));
  for (const w of report.written) write(io.stdout, `wrote ${w}`);
  for (const s of report.skipped) write(io.stderr, `envforge import: skipped task ${s}`);
  for (const p of report.problems) write(io.stderr, `envforge import: ${p}`);
  return report.problems.length === 0 && report.written.length > 0 ? 0 : 1;
}

async function trajectoriesFrom(values: Values, file: string, io: Io): Promise<number> {
  const format = values.format as ImportFormat | undefined;
  if (!format || !Object.hasOwn(IMPORT_FORMATS, format)) throw new UsageError(`--format is one of ${Object.keys(IMPORT_FORMATS).join(", ")}`);
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
    await recorder.close();
  }
}

export const importCommand: Command = {
  usage:
    `import --format ${Object.keys(IMPORT_FORMATS).join("|")} FILE [--env ID] [--task ID] [--db FILE] [--dir DIR] [--progress]\n` +
    `  | import --from ${Object.keys(IMPORT_SOURCES).join("|")} DIR|FILE --out DIR`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
    if ((values.format === undefined) === (values.from === undefined)) throw new UsageError("give --format (trajectories into the database) or --from (a dataset into environment files)");
    if (positionals.length !== 1) throw new UsageError(`give exactly one ${values.from ? "folder or file" : "FILE"} to import`);
    const path = resolve(io.cwd, positionals[0]!);
    return values.from !== undefined ? environmentsFrom(values, path, io) : trajectoriesFrom(values, path, io);
  },
};
