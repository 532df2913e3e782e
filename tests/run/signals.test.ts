// SIGTERM to a real `envforge run` process (a CI timeout, a runner stopping): the episodes in flight end, none is left running.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { EXAMPLES, ROOT, tempDir } from "./helpers.ts";
import { startFakeOpenAI } from "./openai-server.ts";

const tmp = tempDir("envforge-run-signals-");
afterAll(() => tmp.cleanup());

it("ends its in-flight episodes as closed at SIGTERM, so a resumed run retries them", async () => {
  // The model never answers: both rollouts sit in flight until the signal.
  const model = await startFakeOpenAI(() => ({ hang: true }));
  const db = join(tmp.dir, "run.db");
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin/envforge.js"), "run", "--policy", "llm", "--base-url", model.baseUrl, "--model", "m", "--dir", EXAMPLES, "--n", "2", "--limit", "1", "--concurrency", "2", "--db", db],
    { cwd: ROOT },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  while (model.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
  child.kill("SIGTERM");
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.once("exit", (c, s) => r([c, s])));
  await model.close();
  expect(signal).toBeNull();
  expect(code).toBe(1);
  expect(stderr).toContain("interrupted by SIGTERM");

  const records = Records.open(db);
  const rows = records.listEpisodes({ limit: 100 }).episodes;
  records.close();
  expect(rows.map((r) => r.status)).toEqual(["closed", "closed"]);
});
