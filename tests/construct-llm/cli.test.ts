// `envforge build --generator llm` in process: flags, the printed report, the dry run's prompts, the API
// key from the environment, and usage errors that name the flag.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildCommand } from "../../src/cli/build.ts";
import { UsageError } from "../../src/cli/io.ts";
import { memoryIo } from "../helpers/io.ts";
import { startFakeOpenAI } from "../run/openai-server.ts";
import { startScriptedServer } from "./scripted.ts";

const TEMP = mkdtempSync(join(tmpdir(), "envforge-llm-cli-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const m = memoryIo({ cwd: TEMP, env });
  const code = await buildCommand.run(argv, m.io);
  return { code, out: m.out(), err: m.err() };
}

describe("envforge build --generator llm", () => {
  it("builds, prints per-stage acceptance and tokens, and sends the API key from the named variable", async () => {
    const server = await startScriptedServer({ deploy: ["wrong-answer"] });
    try {
      const r = await run(["--generator", "llm", "--base-url", server.baseUrl, "--model", "m1", "--api-key-env", "MY_KEY", "--topic", "city libraries", "--count", "1", "--scenario", "single-hop", "--complexity", "0", "--out", "out1", "--cache", "c1", "--rate-limit", "6000", "--llm-stages", "decompose,deploy"], { MY_KEY: "sk-local" });
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^built 1 environment \(\d+ tasks\) from 2 candidates/);
      expect(r.out).toMatch(/rejected candidates: gate:replay 1/);
      expect(r.out).toMatch(/decompose +llm +ran +2, accepted +2 \(100\.0%\)/);
      expect(r.out).toMatch(/document +procedural/);
      expect(r.out).toMatch(/gate: 2 candidates, 1 passed \(50\.0%\); rejected: gate:replay 1/);
      expect(r.out).toContain(`audit log: ${join(TEMP, "out1", "llm-audit.jsonl")}`);
      expect(server.requests.every((q) => q.authorization === "Bearer sk-local")).toBe(true);
      expect(server.requests.map((q) => q.body.model)).toEqual(["m1", "m1", "m1", "m1"]);
      const again = await run(["--generator", "llm", "--base-url", server.baseUrl, "--model", "m1", "--topic", "city libraries", "--count", "1", "--scenario", "single-hop", "--complexity", "0", "--out", "out2", "--cache", "c1", "--llm-stages", "decompose,deploy", "--json"]);
      const json = JSON.parse(again.out) as { llm: { requests: number; cached: number }; written: number };
      expect(json.llm).toMatchObject({ requests: 0, cached: 4 });
      expect(json.written).toBe(1);
      expect(server.requests).toHaveLength(4);
    } finally {
      await server.close();
    }
  });

  it("prints the prompts in a dry run and sends nothing, with no endpoint needed", async () => {
    const questions = join(TEMP, "qs.jsonl");
    writeFileSync(questions, '{"question": "Who founded Brindle Works?", "answer": "Oda Venn"}\n');
    const r = await run(["--generator", "llm", "--model", "m1", "--from-questions", questions, "--dry-run", "--out", "dry", "--no-cache"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^=== qs-jsonl-q1-[0-9a-f]{8}: stage decompose \(prompts system@1\+decompose@1\+source-questions@1, model m1, \d+ characters\) ===\n--- system ---\nenvforge build stage: decompose/);
    expect(r.out).toContain("Question: Who founded Brindle Works?");
    expect(r.out).toMatch(/dry run: 1 prompt\(s\) would be sent first; 0 environment\(s\) complete from the cache; nothing was sent or written\n$/);
    expect(() => readFileSync(join(TEMP, "dry", "llm-audit.jsonl"))).toThrow();
  });

  it("stops with a clear message when the endpoint refuses, and writes nothing", async () => {
    const server = await startFakeOpenAI(() => ({ status: 401, error: "invalid api key" }));
    try {
      const r = await run(["--generator", "llm", "--base-url", server.baseUrl, "--model", "m1", "--count", "2", "--concurrency", "1", "--out", "refused", "--no-cache"]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^envforge build: the model failed: HTTP 401 from .*invalid api key[\s\S]*Nothing was written\.\n$/);
      expect(server.requests).toHaveLength(1);
      expect(() => readFileSync(join(TEMP, "refused", "llm-audit.jsonl"), "utf8")).not.toThrow();
      expect(readdirSync(join(TEMP, "refused"))).toEqual(["llm-audit.jsonl"]);
    } finally {
      await server.close();
    }
  });

  it.each([
    [["--topic", "x", "--count", "1", "--out", "o"], /--topic needs --generator llm/],
    [["--generator", "gpt", "--count", "1", "--out", "o"], /--generator is procedural or llm/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--base-url", "http://127.0.0.1:1/v1"], /needs --model/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m"], /needs --base-url/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m", "--dry-run", "--llm-stages", "decompose,plan"], /unknown stage "plan"/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m", "--dry-run", "--topic", "x", "--llm-stages", "deploy"], /needs the decompose stage on the LLM/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m", "--dry-run", "--topic", "x", "--from-questions", "q.jsonl"], /give one source/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m", "--dry-run", "--from-tools", "missing.json"], /missing\.json: ENOENT/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m", "--dry-run", "--rate-limit", "0"], /--rate-limit takes a positive number/],
    [["--generator", "llm", "--count", "1", "--out", "o", "--model", "m", "--dry-run", "--api-key-env", "NOPE"], /NOPE: that environment variable is not set/],
    [["--generator", "llm", "--out", "o", "--model", "m", "--dry-run"], /give --count N/],
    [["--generator", "llm", "--suite", "--out", "o", "--model", "m"], /--suite is the procedural shipped suite/],
  ])("refuses %j", async (argv, message) => {
    await expect(run(argv)).rejects.toThrow(UsageError);
    await expect(run(argv)).rejects.toThrow(message);
  });
});
