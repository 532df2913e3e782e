// The model proxy: OpenAI chat completions and responses, streamed and not, relayed byte for byte and recorded under the episode in the path; the viewer puts model calls and tool calls on one timeline.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelTurn, sseEvents } from "../../src/export/index.ts";
import { llmFactory } from "../../src/run/index.ts";
import { startModelProxy, type ModelProxy } from "../../src/serve/index.ts";
import { listModelCalls, ModelCallLog, Recorder, Records } from "../../src/store/index.ts";
import { EnvIndex, episodeView } from "../../src/view/index.ts";
import { episodeBody } from "../../src/view/pages.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "../run/helpers.ts";
import { ENV } from "./fixtures.ts";
import { startWireServer, tokensOf, type WireReply, type WireServer } from "./openai-wire.ts";

const tmp = tempDir("envforge-proxy-");
const db = `${tmp.dir}/proxy.db`;
let upstream: WireServer;
let recorder: Recorder;
let proxy: ModelProxy;

const REPLIES: WireReply[] = [
  { content: "", tool_calls: [{ id: "call_f", name: "get_film", arguments: '{"title": "Crimson Harbor"}' }] },
  { content: "", tool_calls: [{ id: "call_p", name: "get_person", arguments: '{"name": "Elena Vastrova"}' }] },
  { content: "He was born in 1961." },
];
const script = (body: Record<string, unknown>): WireReply =>
  Array.isArray(body.messages) ? REPLIES[Math.min((body.messages as { role: string }[]).filter((m) => m.role === "assistant").length, 2)]! : { content: "Hello from responses." };

beforeAll(async () => {
  upstream = await startWireServer(script);
  recorder = Recorder.open(db);
  proxy = await startModelProxy({ upstream: upstream.baseUrl, log: new ModelCallLog(recorder.db) });
});
afterAll(async () => {
  await proxy.close();
  await upstream.close();
  recorder.close();
  tmp.cleanup();
});

const post = (episode: string, path: string, body: unknown): Promise<Response> =>
  fetch(`${proxy.url}/e/${encodeURIComponent(episode)}/v1${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-test" }, body: JSON.stringify(body) });

const calls = (episode: string) => listModelCalls(recorder.db, episode);

describe("model proxy", () => {
  it("relays a chat completion with logprobs unchanged and records request and response under the episode", async () => {
    const request = { model: "m", messages: [{ role: "user", content: "q" }], logprobs: true, top_logprobs: 1 };
    const res = await post("ep/1", "/chat/completions", request);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(upstream.requests.at(-1)).toEqual({ path: "/v1/chat/completions", body: request });
    const [row] = calls("ep/1");
    expect(row).toMatchObject({ episodeId: "ep/1", api: "chat", path: "/v1/chat/completions", model: "m", stream: false, status: 200, response: text, error: null });
    expect(JSON.parse(row!.request)).toEqual(request);
    // The credential is a header: never stored.
    expect(JSON.stringify(row)).not.toContain("sk-test");
    const turn = modelTurn(row!);
    expect(turn.tool_calls).toEqual([{ id: "call_f", name: "get_film", arguments: '{"title": "Crimson Harbor"}' }]);
    expect(turn.logprobs.map((l) => l.logprob)).toEqual(tokensOf('get_film{"title": "Crimson Harbor"}').map((t) => t.logprob));
  });

  it("passes a streamed chat completion through event by event and records the stream it sent", async () => {
    const request = { model: "m", stream: true, logprobs: true, messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }, { role: "tool", content: "t" }, { role: "assistant", content: "b" }] };
    const res = await post("ep-2", "/chat/completions", request);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    const events = sseEvents(text);
    expect(events.map((e) => (e.choices as { delta: { content?: string } }[])[0]!.delta.content ?? "").join("")).toBe("He was born in 1961.");
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const [row] = calls("ep-2");
    expect(row).toMatchObject({ stream: true, status: 200, response: text });
    const turn = modelTurn(row!);
    expect(turn).toMatchObject({ api: "chat", stream: true, text: "He was born in 1961.", input_messages: 4, tool_calls: [] });
    expect(turn.logprobs.map((l) => l.token).join("")).toBe("He was born in 1961.");
  });

  it("relays the responses API, streamed and not", async () => {
    for (const stream of [false, true]) {
      const res = await post("ep-3", "/responses", { model: "r", input: "hi", stream });
      expect(res.status).toBe(200);
      await res.text();
    }
    const rows = calls("ep-3");
    expect(rows.map((r) => [r.api, r.stream])).toEqual([["responses", false], ["responses", true]]);
    expect(rows.map((r) => modelTurn(r).text)).toEqual(["Hello from responses.", "Hello from responses."]);
  });

  it("answers 404 off its routes and 502 when the upstream is down, recording the failure", async () => {
    expect((await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: "{}" })).status).toBe(404);
    const dead = await startModelProxy({ upstream: "http://127.0.0.1:9/v1", log: new ModelCallLog(recorder.db) });
    try {
      const res = await fetch(`${dead.url}/e/ep-4/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
      expect(res.status).toBe(502);
      expect(calls("ep-4")).toMatchObject([{ status: null, response: null, error: expect.stringContaining("upstream request failed") }]);
    } finally {
      await dead.close();
    }
  });

  it("files a rollout's model calls under its episode, and the viewer shows them between its tool calls", async () => {
    const environments = await environmentsIn(EXAMPLES);
    const summary = await runInMemory(db, { environments, policy: llmFactory({ baseUrl: `${proxy.url}/e/{episode}/v1`, model: "proxied" }), envIds: [ENV], taskIds: ["director-birth-year"] });
    const id = summary.results[0]!.episodeId;
    expect(calls(id)).toHaveLength(3);
    const records = Records.open(db);
    try {
      const view = episodeView(records, new EnvIndex(environments), records.getEpisode(id)!);
      expect(view.model_calls.map((m) => m.tool_calls.map((c) => c.name))).toEqual([["get_film"], ["get_person"], []]);
      expect(view.model_calls[2]!.text).toBe("He was born in 1961.");
      const page = String(episodeBody(view));
      const order = [...page.matchAll(/class="turn( model)?"/g)].map((m) => (m[1] ? "model" : "tools"));
      expect(order).toEqual(["model", "tools", "model", "tools", "model"]);
    } finally {
      records.close();
    }
  });
});

describe("reading recorded streams (property)", () => {
  it("assembles a chat completion stream the same way however its bytes were cut into events", () => {
    const row = (response: string) => ({ id: 1, episodeId: "e", api: "chat", path: "/v1/chat/completions", model: "m", stream: true, status: 200, startedAt: 0, latencyMs: 1, request: "{}", response, error: null });
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), fc.constantFrom("\n\n", "\r\n\r\n"), (pieces, args, sep) => {
        const events = [
          ...pieces.map((p) => ({ choices: [{ index: 0, delta: { content: p }, logprobs: { content: [{ token: p, logprob: -0.5 }] } }] })),
          ...(args.length ? [{ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "c1", function: { name: "get_film", arguments: "" } }] } }] }] : []),
          ...args.map((a) => ({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: a } }] } }] })),
        ];
        const text = `${events.map((e) => `data: ${JSON.stringify(e)}`).join(sep)}${sep}data: [DONE]${sep}`;
        const turn = modelTurn(row(text));
        expect(turn.text).toBe(pieces.join(""));
        expect(turn.logprobs.map((l) => l.token)).toEqual(pieces);
        expect(turn.tool_calls).toEqual(args.length ? [{ id: "c1", name: "get_film", arguments: args.join("") }] : []);
        // A stream cut anywhere reads as far as its whole events go, without throwing.
        const cut = modelTurn(row(text.slice(0, Math.floor(text.length / 2))));
        expect(pieces.join("").startsWith(cut.text)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
