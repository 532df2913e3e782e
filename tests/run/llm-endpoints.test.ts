// The llm policy against endpoints that answer badly: a server that does not parse tool calls is noticed, and retries leave no listeners on the run's signal.
import { getEventListeners } from "node:events";
import { afterAll, afterEach, expect, it } from "vitest";
import { chatCompletion, llmFactory } from "../../src/run/index.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "./helpers.ts";
import { startFakeOpenAI, type FakeOpenAI } from "./openai-server.ts";
import { RAW_TURNS } from "./scripted.ts";

const tmp = tempDir("envforge-llm-endpoints-");
afterAll(() => tmp.cleanup());
let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it("warns once when native mode gets <tool_call> markup in the text instead of structured calls", async () => {
  // What vLLM sends without --enable-auto-tool-choice: the model's markup, unparsed, in content.
  server = await startFakeOpenAI(() => ({ content: RAW_TURNS[0]! }));
  const warnings: string[] = [];
  const summary = await runInMemory(`${tmp.dir}/markup.db`, {
    environments: await environmentsIn(EXAMPLES),
    policy: llmFactory({ baseUrl: server.baseUrl, model: "unparsed", backoffMs: 1 }, "native", (line) => warnings.push(line)),
    n: 2,
  });
  expect(summary.done).toBeGreaterThan(1);
  // The scripted endpoint gives no token logprobs either: that notice is not a warning.
  expect(warnings.filter((w) => w.startsWith("warning:"))).toEqual([expect.stringMatching(/warning: .* answered with <tool_call> markup in the message text and no structured tool_calls: the server is not parsing tool calls .*run with --raw$/)]);
});

it("leaves no abort listener on the run's signal, however many retries and timeouts it takes", async () => {
  server = await startFakeOpenAI((_, i) => (i % 2 === 0 ? { status: 503, error: "busy" } : { hang: true }));
  const run = new AbortController();
  await expect(chatCompletion({ baseUrl: server.baseUrl, model: "m", retries: 12, backoffMs: 1, timeoutMs: 50 }, [{ role: "user", content: "hi" }], null, run.signal)).rejects.toThrow(
    /gave up after 13 attempts/,
  );
  expect(server.requests).toHaveLength(13);
  expect(getEventListeners(run.signal, "abort")).toHaveLength(0);
});
