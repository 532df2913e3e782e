// `score --db` over oracle, random and a health check: rows per model or client by default, empty episodes left out, and a filter that matches nothing.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { buildReport, type Report } from "../../src/export/index.ts";
import { oracleFactory, randomFactory } from "../../src/run/index.ts";
import { EnvironmentRegistry, openInProcessEpisode } from "../../src/serve/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import type { Environment } from "../../src/schema/index.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "../run/helpers.ts";
import { memoryIo } from "../helpers/io.ts";

const tmp = tempDir("envforge-score-db-");
const db = `${tmp.dir}/mixed.db`;
let environments: Environment[];

beforeAll(async () => {
  environments = await environmentsIn(EXAMPLES);
  await runInMemory(db, { environments, policy: oracleFactory(), n: 2 });
  await runInMemory(db, { environments, policy: randomFactory("3"), n: 2 });
  // A health check, as `claude mcp list` makes one: connect, list the tools, leave.
  const recorder = Recorder.open(db);
  try {
    const { registry } = await EnvironmentRegistry.load([EXAMPLES]);
    const env = environments[0]!;
    const ip = await openInProcessEpisode({ registry, recorder, envId: env.id, taskId: env.tasks[0]!.id, episodeId: "health-check" });
    const client = new Client({ name: "claude-code", version: "2.1.0" });
    await client.connect(ip.transport);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    await ip.close();
  } finally {
    recorder.close();
  }
});
afterAll(() => tmp.cleanup());

function report(options: Parameters<typeof buildReport>[2] = {}): Report {
  const records = Records.open(db);
  try {
    return buildReport(records, environments, options);
  } finally {
    records.close();
  }
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const m = memoryIo({ cwd: process.cwd() });
  const code = await main(argv, m.io);
  return { code, out: m.out(), err: m.err() };
}

describe("score --db groups by model or client", () => {
  it("gives oracle and random their own rows in every table, and pools them only with --pool", () => {
    const r = report();
    for (const table of [r.tables.environment, r.tables.scenario, r.tables.complexity]) {
      const models = table.map((row) => row.model);
      expect(new Set(models)).toEqual(new Set(["oracle", "random"]));
      for (const row of table.filter((x) => x.model === "oracle")) expect(row.solve_f1.mean).toBe(1);
      // The random policy's rows are its own: not pulled up by the oracle's perfect scores.
      for (const row of table.filter((x) => x.model === "random")) expect(row.solve_f1.mean).toBeLessThan(1);
    }
    const pooled = report({ pool: true });
    expect(pooled.tables.scenario.map((row) => row.model)).toEqual([null]);
    const [row] = pooled.tables.scenario;
    expect(row!.episodes).toBe(r.tables.scenario.reduce((n, x) => n + x.episodes, 0));
  });

  it("prints a model column next to each key", async () => {
    const { code, out } = await cli(["score", "--db", db, "--dir", EXAMPLES]);
    expect(code).toBe(0);
    expect(out).toMatch(/^scenario\s+model\s+n\s+precision/m);
    expect(out).toMatch(/^multi-hop\s+oracle\s+\d+\s+1\.000/m);
    expect(out).toMatch(/^multi-hop\s+random\s+\d+\s+0\.\d{3}/m);
    const pooled = await cli(["score", "--db", db, "--dir", EXAMPLES, "--pool"]);
    expect(pooled.out).toMatch(/^scenario\s+n\s+precision/m);
  });
});

describe("episodes without a tool call", () => {
  it("are recorded, but left out of the tables unless --include-empty", () => {
    const records = Records.open(db);
    expect(records.getEpisode("health-check")).toMatchObject({ callCount: 0, clientName: "claude-code" });
    records.close();
    const r = report();
    expect(r.episodes.excluded["no calls"]).toBe(1);
    expect(r.tables.model.map((row) => row.key)).toEqual(["oracle", "random"]);
    const all = report({ includeEmpty: true });
    expect(all.episodes.excluded["no calls"]).toBeUndefined();
    expect(all.episodes.scored).toBe(r.episodes.scored + 1);
    expect(all.tables.model.map((row) => row.key)).toEqual(["client:claude-code", "oracle", "random"]);
  });

  it("are counted in the summary line with the flag that includes them", async () => {
    const { out } = await cli(["score", "--db", db, "--dir", EXAMPLES]);
    expect(out).toContain("left out: 1 episode without a tool call (health checks; --include-empty counts them)");
  });
});

describe("a filter that matches nothing", () => {
  it("says so, names what the database holds, and exits 1", async () => {
    const { code, out, err } = await cli(["score", "--db", db, "--dir", EXAMPLES, "--model", "nosuch"]);
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err).toMatch(/no episodes in .*mixed\.db match --model nosuch; models and clients there: .*oracle/);
    expect(err).toContain("random");
    const env = await cli(["score", "--db", db, "--dir", EXAMPLES, "--env", "nosuch-env"]);
    expect(env.code).toBe(1);
    expect(env.err).toMatch(/match --env nosuch-env; environments there: example-/);
  });

  it("an empty database says it holds nothing yet and exits 1", async () => {
    const empty = `${tmp.dir}/empty.db`;
    Recorder.open(empty).close();
    const { code, err } = await cli(["score", "--db", empty, "--dir", EXAMPLES]);
    expect(code).toBe(1);
    expect(err).toContain(`no episodes recorded in ${empty} yet`);
  });
});
