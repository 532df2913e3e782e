// A real model end to end: Gemma 3 270M from PyPI, served by node-llama-cpp behind the OpenAI API, drives run --policy llm (native and raw); every turn is recorded, parsed and scored.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWithLlm, httpModel } from "../../src/construct/index.ts";
import { llmFactory, type RunSummary } from "../../src/run/index.ts";
import { parseOpenAIMessage, parseResponse } from "../../src/score/index.ts";
import { ASSISTANT_META_KEY, AssistantTurnMeta, type Environment } from "../../src/schema/index.ts";
import { Records } from "../../src/store/index.ts";
import { ensureModel, startLlamaServer, type LlamaServer } from "../helpers/llama.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "./helpers.ts";

const tmp = tempDir("envforge-real-model-");
let server: LlamaServer;
let environments: Environment[];

beforeAll(async () => {
  environments = await environmentsIn(EXAMPLES);
  server = await startLlamaServer(ensureModel(), { maxTokens: 40 });
}, 600_000);
afterAll(async () => {
  await server?.close();
  tmp.cleanup();
});

const turnOf = (meta: unknown) => AssistantTurnMeta.safeParse((meta as Record<string, unknown> | null)?.[ASSISTANT_META_KEY]);

describe("a real model through run --policy llm", { timeout: 600_000 }, () => {
  it("answers the OpenAI API with token logprobs", async () => {
    const res = await fetch(`${server.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: server.model, messages: [{ role: "user", content: "Name a colour." }], max_tokens: 8, logprobs: true }),
    });
    const json = (await res.json()) as { choices: { message: { content: string }; logprobs: { content: { token: string; logprob: number }[] } }[]; usage: { completion_tokens: number } };
    const lp = json.choices[0]!.logprobs.content;
    expect(lp.length).toBe(json.usage.completion_tokens);
    expect(lp.length).toBeGreaterThan(0);
    for (const t of lp) expect(t.logprob).toBeLessThanOrEqual(0);
  });

  for (const mode of ["native", "raw"] as const) {
    it(`records, parses and scores every turn (${mode})`, async () => {
      const db = join(tmp.dir, `${mode}.db`);
      const before = server.requests;
      const summary: RunSummary = await runInMemory(db, {
        environments,
        policy: llmFactory({ baseUrl: server.baseUrl, model: `gemma-3-270m-${mode}`, maxTokens: 40, temperature: 0, retries: 0 }, mode),
        n: 1,
        maxTurns: 3,
      });
      const asked = server.requests - before;
      expect(summary.failed).toBe(0);
      const records = Records.open(db);
      try {
        const episodes = records.listEpisodes({ kind: "episode", limit: 100 }).episodes;
        expect(episodes).toHaveLength(summary.results.length);
        let turns = 0;
        for (const ep of episodes) {
          expect(ep.status, ep.id).not.toBe("running");
          expect(ep.score, ep.id).not.toBeNull();
          expect(ep.score!.ftrl.solve_rate).toBeGreaterThanOrEqual(0);
          const calls = records.listCalls(ep.id);
          const seen = new Set<number>();
          for (const c of calls) {
            const meta = turnOf(c.assistantMeta);
            expect(meta.success, `${ep.id} call ${c.seq}`).toBe(true);
            seen.add(meta.data!.turn);
            // Parsed as the reward parses it: the call the server ran is one the turn's message holds.
            const parsed = mode === "raw" && meta.data!.raw !== undefined ? parseResponse(meta.data!.raw) : parseOpenAIMessage(meta.data!.message);
            expect(parsed.tool_calls.map((t) => t.name)).toContain(c.tool);
            expect(typeof c.output).toBe("string");
          }
          const final = turnOf(ep.finalMeta);
          turns += seen.size + (final.success ? 1 : 0);
        }
        // Every request the model answered is a turn in the store.
        expect(turns).toBe(asked);
      } finally {
        records.close();
      }
    });
  }

  it("runs one construction stage on it: the reply is read, judged and audited, and the build ends cleanly", async () => {
    const audit = join(tmp.dir, "llm-audit.jsonl");
    const before = server.requests;
    const result = await buildWithLlm({
      model: httpModel({ baseUrl: server.baseUrl, model: "gemma-3-270m", retries: 0 }),
      llmStages: ["document"],
      count: 1,
      seed: 3,
      scenario: "single-hop",
      complexity: "mixed",
      attempts: 1,
      turns: 1,
      concurrency: 1,
      maxTokens: 64,
      temperature: 0,
      cacheDir: null,
      auditFile: audit,
    });
    expect(server.requests - before).toBe(1);
    expect(result.llm.requests).toBe(1);
    expect(result.llm.stages.document.runs).toBe(1);
    // Kept or given up with a reason: whatever the model wrote, the build accounts for the environment.
    expect(result.environments.length + result.llm.unbuilt.length).toBe(1);
    const lines = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const request = lines.find((l) => l.kind === "request")!;
    expect(request).toMatchObject({ stage: "document", turn: 1, model: "gemma-3-270m", cached: false });
    expect(typeof request.reply).toBe("string");
    expect(typeof request.outcome).toBe("string");
    expect(request.usage).toMatchObject({ completion_tokens: expect.any(Number) });
  });
});
