// The chat-completions client against a real local HTTP server: requests on the wire, retries, give-ups, timeouts.
import { afterEach, describe, expect, it } from "vitest";
import { chatCompletion, ModelEndpointError } from "../../src/run/openai.ts";
import { startFakeOpenAI, type FakeOpenAI, type ScriptedReply } from "./openai-server.ts";

let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const start = async (script: (index: number) => ScriptedReply): Promise<FakeOpenAI> => (server = await startFakeOpenAI((_, i) => script(i)));

describe("chatCompletion", () => {
  it("posts model, messages, tools, temperature and the bearer key, and reads choices[0]", async () => {
    const s = await start(() => ({ content: null, tool_calls: [{ id: "c1", name: "get_film", arguments: { title: "X" } }] }));
    const tools = [{ type: "function" as const, function: { name: "get_film", description: "d", parameters: { type: "object" } } }];
    const out = await chatCompletion({ baseUrl: s.baseUrl, model: "m1", apiKey: "sk-test", temperature: 0.5 }, [{ role: "user", content: "q" }], tools);
    expect(out.message.tool_calls).toEqual([{ id: "c1", type: "function", function: { name: "get_film", arguments: '{"title":"X"}' } }]);
    expect(out.finishReason).toBe("tool_calls");
    expect(out.attempts).toBe(1);
    expect(out.usage).toMatchObject({ completion_tokens: 7 });
    expect(s.requests[0]!.body).toMatchObject({ model: "m1", temperature: 0.5, stream: false, messages: [{ role: "user", content: "q" }], tools });
    expect(s.requests[0]!.authorization).toBe("Bearer sk-test");
  });

  it("retries a 500 and a 429 with backoff, then succeeds", async () => {
    const s = await start((i) => (i === 0 ? { status: 500, error: "boom" } : i === 1 ? { status: 429, error: "slow down", retryAfter: 0 } : { content: "fine" }));
    const out = await chatCompletion({ baseUrl: s.baseUrl, model: "m", backoffMs: 1 }, [{ role: "user", content: "q" }], null);
    expect(out.message.content).toBe("fine");
    expect(out.attempts).toBe(3);
    expect(s.requests).toHaveLength(3);
    expect(s.requests[0]!.body.tools).toBeUndefined();
  });

  it("gives up after the retries with the last error", async () => {
    const s = await start(() => ({ status: 503, error: "down" }));
    const err = await chatCompletion({ baseUrl: s.baseUrl, model: "m", retries: 2, backoffMs: 1 }, [], null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelEndpointError);
    expect((err as ModelEndpointError).attempts).toBe(3);
    expect((err as ModelEndpointError).status).toBe(503);
    expect((err as Error).message).toMatch(/HTTP 503.*down.*gave up after 3 attempts/);
    expect(s.requests).toHaveLength(3);
  });

  it("does not retry a 400", async () => {
    const s = await start(() => ({ status: 400, error: "bad tools" }));
    const err = await chatCompletion({ baseUrl: s.baseUrl, model: "m", backoffMs: 1 }, [], null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelEndpointError);
    expect((err as ModelEndpointError).attempts).toBe(1);
    expect(s.requests).toHaveLength(1);
  });

  it("times out a request that never answers and retries it", async () => {
    const s = await start((i) => (i === 0 ? { hang: true } : { content: "late but here" }));
    const out = await chatCompletion({ baseUrl: s.baseUrl, model: "m", timeoutMs: 200, backoffMs: 1 }, [], null);
    expect(out.message.content).toBe("late but here");
    expect(out.attempts).toBe(2);
  });

  it("reports an endpoint nobody listens on as a failure, not a crash", async () => {
    const s = await start(() => ({ content: "x" }));
    const url = s.baseUrl;
    await s.close();
    server = undefined;
    const err = await chatCompletion({ baseUrl: url, model: "m", retries: 1, backoffMs: 1 }, [], null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelEndpointError);
    expect((err as Error).message).toMatch(/request failed/);
  });
});
