// `envforge import`: datasets in other layouts -> environment files; one row per source in IMPORT_SOURCES.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { environmentText, importTaubenchDomain } from "../construct/index.ts";
import { readTaubench } from "../load/taubench.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";

/** What an import source gives back: environments written, tasks left out, problems. */
interface ImportReport {
  written: string[];
  skipped: string[];
  problems: string[];
}

/** Each `--from` source: reads DIR, writes environment files under OUT. */
const IMPORT_SOURCES: Record<string, { summary: string; run: (dir: string, out: string) => Promise<ImportReport> }> = {
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
};

export const importCommand: Command = {
  name: "import",
  summary: "Turn a dataset in another layout into environments (--from ftrl-taubench)",
  usage: `import --from ${Object.keys(IMPORT_SOURCES).join("|")} DIR --out DIR`,
  async run(argv, io: Io) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { from: { type: "string" }, out: { type: "string" } } });
    const source = values.from ? IMPORT_SOURCES[values.from] : undefined;
    if (!source) throw new UsageError(`--from is one of ${Object.keys(IMPORT_SOURCES).join(", ")}`);
    if (positionals.length !== 1) throw new UsageError("give one folder to import");
    if (!values.out) throw new UsageError("--out DIR is required");
    const report = await source.run(resolve(io.cwd, positionals[0]!), resolve(io.cwd, values.out));
    for (const w of report.written) write(io.stdout, `wrote ${w}`);
    for (const s of report.skipped) write(io.stderr, `envforge import: skipped task ${s}`);
    for (const p of report.problems) write(io.stderr, `envforge import: ${p}`);
    return report.problems.length === 0 && report.written.length > 0 ? 0 : 1;
  },
};
