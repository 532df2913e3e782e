// Rollouts against a running Streamable HTTP server: the server records them, the runner resumes from its database.
import { afterAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { oracleFactory, randomFactory, runRollouts } from "../../src/run/index.ts";
import { EnvironmentRegistry, startHttpServer } from "../../src/serve/index.ts";
import { environmentsIn, EXAMPLES, tempDir } from "./helpers.ts";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("runner over HTTP", () => {
  it("scores the oracle perfectly through a real server, and resumes from the server's database", async () => {
    const environments = await environmentsIn(EXAMPLES);
    const db = `${tmp.dir}/http.db`;
    const recorder = Recorder.open(db);
    const server = await startHttpServer({ registry: new EnvironmentRegistry(environments.map((env) => ({ env }))), recorder, port: 0 });
    try {
      const summary = await runRollouts({ environments, policy: oracleFactory(), target: { kind: "http", url: server.url }, n: 3, concurrency: 4 });
      expect(summary).toMatchObject({ rollouts: 6, done: 6, failed: 0 });
      for (const r of summary.results) expect(r.score?.ftrl).toMatchObject({ solve_precision: 1, solve_rate: 1, answer_correct: true });
      const records = new Records(recorder.db);
      for (const r of summary.results) {
        const ep = records.getEpisode(r.episodeId)!;
        expect(ep).toMatchObject({ status: "submitted", transport: "http", clientName: "envforge-run" });
      }
      // With the database at hand the runner skips what is done; without it, the server refuses a reused id and the rollout fails as data.
      const resumed = await runRollouts({ environments, policy: oracleFactory(), target: { kind: "http", url: server.url, recorder }, n: 3 });
      expect(resumed).toMatchObject({ skipped: 6, done: 0 });
      const blind = await runRollouts({ environments, policy: oracleFactory(), target: { kind: "http", url: server.url }, n: 1, limit: 1 });
      expect(blind).toMatchObject({ failed: 1 });
      expect(blind.results[0]!.error).toMatch(/already in the database/);
      expect(server.sessionCount()).toBe(0);
    } finally {
      await server.close();
      recorder.close();
    }
  });

  it("records random rollouts the same over HTTP as in process", async () => {
    const environments = await environmentsIn(EXAMPLES);
    const httpDb = Recorder.open(`${tmp.dir}/random-http.db`);
    const memDb = Recorder.open(`${tmp.dir}/random-mem.db`);
    const server = await startHttpServer({ registry: new EnvironmentRegistry(environments.map((env) => ({ env }))), recorder: httpDb, port: 0 });
    try {
      const http = await runRollouts({ environments, policy: randomFactory(3), target: { kind: "http", url: server.url }, n: 2 });
      const mem = await runRollouts({ environments, policy: randomFactory(3), target: { kind: "memory", recorder: memDb }, n: 2 });
      const calls = (recorder: Recorder) => {
        const records = new Records(recorder.db);
        return mem.results.map((r) => records.listCalls(r.episodeId).map((c) => [c.tool, c.arguments, c.output, c.isError]));
      };
      expect(calls(httpDb)).toEqual(calls(memDb));
      expect(http.results.map((r) => r.score)).toEqual(mem.results.map((r) => r.score));
    } finally {
      await server.close();
      httpDb.close();
      memDb.close();
    }
  });
});
