// npm start smoke test: `envforge start --once` serves, rolls out oracle and random over HTTP, prints the table and exits by the oracle's result.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable, Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { pickTasks } from "../../src/cli/start.ts";
import { loadEnvironments } from "../../src/load/index.ts";
import { Records } from "../../src/store/index.ts";
import { COUNTER_INPUT } from "../serve/fixtures.ts";
import { runNode, type Finished } from "../helpers/spawn.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/envforge.js");
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "envforge-start-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (args: string[], cwd: string): Promise<Finished> => runNode(BIN, args, { cwd });

const columns = (line: string): string[] => line.trim().split(/\s{2,}/);

describe("envforge start --once", () => {
  it("scores oracle perfectly and random lower on every scenario x complexity of the shipped suite, and exits 0", async () => {
    const { code, stdout, stderr } = await run(["start", "--once", "--limit", "small", "--port", "0"], tmp);
    expect(stderr).not.toMatch(/failed/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/serving \d+ environments from .* at http:\/\/127\.0\.0\.1:\d+\/mcp/);
    const lines = stdout.split("\n");
    const head = lines.findIndex((l) => l.startsWith("scenario"));
    expect(columns(lines[head]!)).toEqual(["scenario", "complexity", "policy", "episodes", "precision", "rate", "f1", "answer acc", "state"]);
    const body = lines.slice(head + 2);
    const rows = body.slice(0, body.indexOf("")).map(columns);

    const { environments } = await loadEnvironments([join(ROOT, "environments")]);
    const chosen = pickTasks(environments.map((e) => e.env), 2);
    const cells = new Set(chosen.map((e) => e.scenario));
    expect(new Set(rows.map((r) => r[0]))).toEqual(cells);
    const oracle = rows.filter((r) => r[2] === "oracle (self-check)");
    const random = rows.filter((r) => r[2] === "random (floor)");
    expect(oracle.length).toBe(random.length);
    expect(oracle.reduce((n, r) => n + Number(r[3]!.split("/")[0]), 0)).toBe(chosen.reduce((n, e) => n + e.tasks.length, 0));
    for (const r of oracle) expect(r.slice(4)).toEqual(["1.000", "1.000", "1.000", "1.000", r[1] === "write tasks" ? "1.000" : "-"]);
    // The write tasks have rows of their own, in every scenario.
    expect(new Set(oracle.filter((r) => r[1] === "write tasks").map((r) => r[0])).size).toBe(4);
    expect(random.some((r) => Number(r[6]) < 1)).toBe(true);
    expect(stdout).toContain("oracle: perfect on every task");
    // The table says what the two policies are for, so random's low scores do not read as a failure.
    expect(stdout).toContain("random (floor): calls random tools with schema-valid arguments");
    expect(stdout).toContain("oracle (self-check): replays each task's gold plan");
    // --once ends with what to do next (the same database), prints no connection help, and the database holds every episode, ended.
    const db = join(tmp, ".envforge", "start.db");
    expect(stdout.trimEnd().split("\n").slice(-5)).toEqual([
      "Next:",
      `  npx envforge score --db ${db}    (the same episodes as tables with 95% intervals and GRPO groups)`,
      `  npx envforge view --db ${db}     (every episode call by call, and the charts, in a browser)`,
      `  npx envforge export --db ${db} --format ftrl --out rows.jsonl    (training rows)`,
      "  npm start    (keep serving, and print how to connect Claude Desktop, Claude Code and the MCP Inspector)",
    ]);
    expect(stdout).toMatch(/on \d+ tasks \(/);
    expect(stdout).not.toContain("Serving until Ctrl-C");
    const records = Records.open(join(tmp, ".envforge", "start.db"));
    const counts = records.counts();
    expect(counts.episodes).toBe(2 * oracle.reduce((n, r) => n + Number(r[3]!.split("/")[1]), 0));
    expect(counts.byStatus.running ?? 0).toBe(0);
    records.close();
  });

  it("exits 1 when the oracle is not perfect (an implementation that disagrees with its task)", async () => {
    const dir = join(tmp, "broken");
    mkdirSync(dir);
    const broken = structuredClone(COUNTER_INPUT);
    // Without the tool that never returns, so random rollouts stay quick.
    broken.tools = broken.tools.filter((t) => t.name !== "spin");
    delete broken.implementation.tools.spin;
    broken.implementation.tools.lookup_code = "function lookup_code(args) { return { name: args.name, code: 'WRONG' }; }";
    writeFileSync(join(dir, "broken.json"), JSON.stringify(broken));
    let stdout = "";
    const sink = new Writable({ write: (c, _e, cb) => ((stdout += c.toString()), cb()) });
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const code = await main(["start", "--once", "--all", "--port", "0", "--dir", dir, "--db", join(tmp, "broken.db")], { stdout: sink, stderr: quiet, stdin: Readable.from([]), cwd: tmp, env: process.env });
    expect(code).toBe(1);
    expect(stdout).toContain("oracle: NOT perfect");
    const oracle = stdout.split("\n").map(columns).find((r) => r[2] === "oracle (self-check)")!;
    expect(oracle.slice(3, 6)).toEqual(["2/2", "0.000", "0.000"]);
  });
});
