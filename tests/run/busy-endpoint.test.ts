// The llm policy against a one-slot model server (llama.cpp with one slot, a small vLLM): the gate adapts, every rollout finishes, time queued here is not timed.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, expect, it } from "vitest";
import { getEventListeners } from "node:events";
import { chatCompletion, EndpointGate, llmFactory, type ChatEndpoint } from "../../src/run/index.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "./helpers.ts";
import { startFakeOpenAI, type ChatRequest } from "./openai-server.ts";

const tmp = tempDir("envforge-busy-endpoint-");
afterAll(() => tmp.cleanup());

interface Arrival {
  /** The rollout's episode id, from the `{episode}` part of the base URL. */
  episode: string;
  /** 0 for the tool turn, 1 for the answer turn. */
  turn: number;
  /** What the server held (queued or working on) with this request, itself included, once the hang-ups sent before it are in. */
  held: number;
  /** The gate's limit when the request arrived. */
  limit: number;
  /** "answered", or "gone" when the client hung up before the answer (it timed out). */
  fate: "answered" | "gone" | "pending";
}

interface Job {
  arrival: Arrival;
  body: ChatRequest;
  res: ServerResponse;
}

/**
 * Works one request at a time, each for `serviceMs`; the others wait in its own queue. A client that
 * hangs up is dropped, queued or in progress (as vLLM and llama.cpp cancel a request whose connection closed).
 * Turn 1 calls the first tool; once a tool result is in the conversation, it answers.
 */
async function startOneSlot(serviceMs: number, gate: EndpointGate) {
  const arrivals: Arrival[] = [];
  const queue: Job[] = [];
  let busy: { job: Job; timer: NodeJS.Timeout } | null = null;
  const answer = (job: Job): void => {
    const body = job.body;
    const toolTurn = !body.messages.some((m) => m.role === "tool");
    const message = toolTurn
      ? { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: body.tools![0]!.function.name, arguments: "{}" } }] }
      : { role: "assistant", content: "I do not know." };
    job.arrival.fate = "answered";
    job.res.writeHead(200, { "content-type": "application/json" });
    job.res.end(JSON.stringify({ id: "c", object: "chat.completion", created: 0, model: body.model, choices: [{ index: 0, message, finish_reason: toolTurn ? "tool_calls" : "stop" }] }));
  };
  const work = (): void => {
    if (busy) return;
    const job = queue.shift();
    if (!job) return;
    busy = {
      job,
      timer: setTimeout(() => {
        busy = null;
        answer(job);
        work();
      }, serviceMs),
    };
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const episode = decodeURIComponent(/^\/(.+)\/v1\/chat\/completions$/.exec(req.url ?? "")?.[1] ?? "");
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequest;
      const arrival: Arrival = { episode, turn: body.messages.filter((m) => m.role === "tool").length, held: 0, limit: gate.limit, fate: "pending" };
      const job: Job = { arrival, body, res };
      res.on("close", () => {
        if (res.writableFinished) return;
        arrival.fate = "gone";
        const i = queue.indexOf(job);
        if (i !== -1) queue.splice(i, 1);
        if (busy?.job === job) {
          clearTimeout(busy.timer);
          busy = null;
          work();
        }
      });
      queue.push(job);
      arrivals.push(arrival);
      work();
      // A client that timed out hung up before it sent the next request, but the two come in on different
      // connections: count once the close of the earlier one has been read.
      setTimeout(() => (arrival.held = queue.length + (busy ? 1 : 0)), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/{episode}/v1`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

it("against a one-slot server with --concurrency 4, every rollout finishes and none times out once the gate has adapted", async () => {
  // A timeout well above the service time (a margin of 600 ms for a busy CI machine), and below twice it: enough
  // for a request the server works on at once, not for one queued there behind another.
  const serviceMs = 800;
  const timeoutMs = 1400;
  const concurrency = 4;
  const gate = new EndpointGate(concurrency);
  const server = await startOneSlot(serviceMs, gate);
  close = server.close;
  const summary = await runInMemory(`${tmp.dir}/busy.db`, {
    environments: await environmentsIn(EXAMPLES),
    policy: llmFactory({ baseUrl: server.baseUrl, model: "one-slot", timeoutMs, backoffMs: 1, retries: 4, logprobs: false, gate }),
    n: 4,
    concurrency,
  });

  // 2 tasks x 4 rollouts, each a tool turn and an answer turn.
  expect([summary.rollouts, summary.done, summary.failed]).toEqual([8, 8, 0]);
  expect(summary.results.every((r) => r.turns === 2 && r.calls === 1)).toBe(true);
  const { arrivals } = server;
  const gone = arrivals.filter((a) => a.fate === "gone");
  const answered = arrivals.filter((a) => a.fate === "answered");
  expect(answered).toHaveLength(16);
  // The first burst of 4 overloaded the server: some timed out, and each was sent again.
  expect(gone.length).toBeGreaterThan(0);
  expect(arrivals).toHaveLength(16 + gone.length);
  // The gate adapted down to one request at a time and stayed there (a success never had room for two).
  expect(gate.limit).toBe(1);
  const adapted = arrivals.findIndex((a) => a.limit < 2);
  expect(adapted).toBeGreaterThan(0);
  const after = arrivals.slice(adapted);
  // From then on nothing timed out, and the server never held more than the one request the gate let through.
  expect(after.map((a) => a.fate)).toEqual(after.map(() => "answered"));
  expect(after.map((a) => a.held)).toEqual(after.map(() => 1));
  // Before it, never more than --concurrency.
  expect(Math.max(...arrivals.map((a) => a.held))).toBeLessThanOrEqual(concurrency);
});

/** The text of each request the fake server got, in arrival order. */
const said = (requests: { body: ChatRequest }[]): string[] => requests.map((r) => String(r.body.messages[0]!.content));
const ask = (endpoint: ChatEndpoint, text: string, signal?: AbortSignal) => chatCompletion(endpoint, [{ role: "user", content: text }], null, signal);

it("sends a timed-out request again ahead of those still waiting behind it, and does not time the waiting", async () => {
  // The first request is never answered; the others wait in the gate longer than the timeout, then are answered at once.
  // Its timeout frees the slot for "second" while the retry backs off (0 ms: a turn of the event loop, shorter than any
  // round trip); the retry then goes ahead of "third" and "fourth", which were waiting before it.
  const server = await startFakeOpenAI((req, i) => (i === 0 ? { hang: true } : { content: `re: ${String(req.messages[0]!.content)}` }));
  close = server.close;
  const endpoint: ChatEndpoint = { baseUrl: server.baseUrl, model: "m", timeoutMs: 300, backoffMs: 0, gate: new EndpointGate(1) };
  const first = ask(endpoint, "first");
  const rest = ["second", "third", "fourth"].map((text) => ask(endpoint, text));
  const out = await Promise.all([first, ...rest]);
  expect(said(server.requests)).toEqual(["first", "second", "first", "third", "fourth"]);
  expect(out.map((c) => [c.message.content, c.attempts])).toEqual([
    ["re: first", 2],
    ["re: second", 1],
    ["re: third", 1],
    ["re: fourth", 1],
  ]);
});

it("gives up waiting in the gate at once when the run is aborted, and leaves no listener", async () => {
  const server = await startFakeOpenAI(() => ({ hang: true }));
  close = server.close;
  const run = new AbortController();
  const endpoint: ChatEndpoint = { baseUrl: server.baseUrl, model: "m", timeoutMs: 60_000, gate: new EndpointGate(1) };
  const all = ["out", "w1", "w2"].map((text) => ask(endpoint, text, run.signal).catch((e: Error) => e.message));
  // Once the first is at the server, the other two are waiting in the gate.
  while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  expect([endpoint.gate!.inFlight, endpoint.gate!.waiting]).toEqual([1, 2]);
  run.abort(new Error("interrupted by SIGINT"));
  expect(await Promise.all(all)).toEqual(["interrupted by SIGINT", "interrupted by SIGINT", "interrupted by SIGINT"]);
  expect([endpoint.gate!.inFlight, endpoint.gate!.waiting]).toEqual([0, 0]);
  expect(said(server.requests)).toEqual(["out"]);
  expect(getEventListeners(run.signal, "abort")).toHaveLength(0);
});
