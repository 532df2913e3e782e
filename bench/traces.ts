// Trace formats: export rows/s for atif, inspect, hf and otlp at 10,000 episodes beside the ftrl export (the baseline) in the same run, and import rows/s for atif, hf and ftrl.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadEnvironments } from "../src/load/index.ts";
import { openDb, Recorder, Records } from "../src/store/index.ts";
import { EXPORT_FORMATS, exportRecords, importTrajectories, type ExportFormat, type ImportFormat } from "../src/export/index.ts";
import { oracleFactory, runRollouts } from "../src/run/index.ts";

const ROOT = resolve(import.meta.dirname, "..");
const EPISODES = Number(process.env.BENCH_TRACE_EPISODES ?? 10_000);
const environments = (await loadEnvironments([join(ROOT, "environments/examples"), join(ROOT, "environments/multi-hop")])).environments.map((e) => e.env);
const tmp = mkdtempSync(join(tmpdir(), "envforge-bench-traces-"));
const db = join(tmp, "episodes.db");

try {
  // Real oracle rollouts, then copies of them under new ids up to EPISODES (exports read every row the same way).
  const recorder = Recorder.open(db);
  const summary = await runRollouts({ environments, policy: oracleFactory(), target: { kind: "memory", recorder }, n: 1, concurrency: 8 });
  const base = summary.rollouts;
  for (let copy = 1; base * copy < EPISODES; copy++) {
    recorder.db.transaction(() => {
      recorder.db.exec(`INSERT INTO episodes (id, kind, env_id, env_sha256, task_id, transport, session_id, client_name, client_version, protocol_version, status, started_at, ended_at, needed, call_count, solved_ftrl, solved_strict, final_answer, final_meta, score, owner, meta)
        SELECT id || '~${copy}', kind, env_id, env_sha256, task_id, transport, session_id, client_name, client_version, protocol_version, status, started_at + ${copy}, ended_at + ${copy}, needed, call_count, solved_ftrl, solved_strict, final_answer, final_meta, score, owner, meta FROM episodes WHERE id NOT LIKE '%~%' LIMIT ${Math.min(base, EPISODES - base * copy)}`);
      recorder.db.exec(`INSERT INTO calls SELECT episode_id || '~${copy}', seq, request_id, tool, arguments, output, is_error, error_kind, solved_ftrl, solved_strict, started_at + ${copy}, latency_ms, assistant_meta FROM calls
        WHERE episode_id IN (SELECT substr(id, 1, length(id) - ${String(copy).length + 1}) FROM episodes WHERE id LIKE '%~${copy}')`);
    })();
  }
  const total = recorder.db.prepare("SELECT count(*) FROM episodes").pluck().get() as number;
  recorder.close();
  console.log(`trace formats: ${total} episodes (${base} oracle rollouts on ${environments.length} environments, copied)`);

  const rows: string[][] = [];
  const records = Records.open(db);
  const out: Partial<Record<ExportFormat, string>> = {};
  let baseline = 0;
  for (const format of EXPORT_FORMATS) {
    const file = join(tmp, `out.${format}`);
    const started = performance.now();
    const stats = await exportRecords({ records, environments, format, out: file });
    const seconds = (performance.now() - started) / 1000;
    out[format] = file;
    const rate = stats.exported / seconds;
    if (format === "ftrl") baseline = rate;
    rows.push(["export", format, String(stats.exported), String(stats.rows), rate.toFixed(0), (rate / baseline).toFixed(2)]);
  }
  records.close();

  // HF rows carry no environment ids: import one task's row repeated, with --env/--task.
  const hfLine = readFileSync(out.hf!, "utf8").split("\n")[0]!;
  const first = JSON.parse(hfLine) as { messages: { content: string }[] };
  const env = environments.find((e) => e.tasks.some((t) => t.question === first.messages[0]!.content))!;
  const task = env.tasks.find((t) => t.question === first.messages[0]!.content)!;
  const hfFile = join(tmp, "one-task.hf.jsonl");
  writeFileSync(hfFile, `${Array.from({ length: total }, () => hfLine).join("\n")}\n`);
  const inputs: [ImportFormat, string, { envId?: string; taskId?: string }][] = [["ftrl", out.ftrl!, {}], ["atif", out.atif!, {}], ["hf", hfFile, { envId: env.id, taskId: task.id }]];
  for (const [format, file, ids] of inputs) {
    const target = openDb(join(tmp, `import-${format}.db`));
    const started = performance.now();
    const result = await importTrajectories({ db: target, environments, file, format, ...ids });
    const seconds = (performance.now() - started) / 1000;
    target.close();
    const rate = result.episodes / seconds;
    rows.push(["import", format, String(result.episodes), String(result.calls), rate.toFixed(0), (rate / baseline).toFixed(2)]);
  }
  const header = ["direction", "format", "episodes", "rows/calls", "episodes/s", "vs ftrl export"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
