// The recording transport around a real in-memory MCP connection: both directions, latency, client identity.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, expect, it } from "vitest";
import { Recorder, RecordingTransport, Records } from "../../src/store/index.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "envforge-rt-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("commits every message in both directions, each response with its request before it is sent, with latency and the client's identity", async () => {
  const file = join(dir, "t.db");
  const recorder = Recorder.open(file);
  const server = new Server({ name: "echo", version: "0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: "echo", inputSchema: { type: "object" } }] }));
  server.setRequestHandler(CallToolRequestSchema, (req) => ({ content: [{ type: "text", text: JSON.stringify(req.params.arguments) }] }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  let firsts = 0;
  const recording = new RecordingTransport(serverSide, {
    recorder,
    episodeId: "s1",
    onFirstMessage: () => {
      firsts++;
      recorder.beginEpisode({ id: "s1", kind: "proxy", transport: "memory" });
    },
  });
  await server.connect(recording);
  const client = new Client({ name: "probe-client", version: "9.8.7" });
  await client.connect(clientSide);
  // Another connection sees only what is committed: by the time the client has a response,
  // that response and the request behind it must be there.
  const committed = Records.open(file);
  const result = await client.callTool({ name: "echo", arguments: { n: 1 } });
  expect(committed.listMessages("s1").slice(-2).map((m) => `${m.direction}:${m.method ?? m.requestId}`)).toEqual(["in:tools/call", "out:1"]);
  await client.callTool({ name: "echo", arguments: { n: 2 } });
  await client.listTools();
  await client.close();
  committed.close();

  expect(firsts).toBe(1);
  const records = new Records(recorder.db);
  const messages = records.listMessages("s1");
  // initialize, its result, notifications/initialized, two calls and their results, tools/list and its result.
  expect(messages.map((m) => `${m.direction}:${m.type}:${m.method ?? m.requestId}`)).toEqual([
    "in:request:initialize", "out:response:0", "in:notification:notifications/initialized",
    "in:request:tools/call", "out:response:1", "in:request:tools/call", "out:response:2",
    "in:request:tools/list", "out:response:3",
  ]);
  const outs = messages.filter((m) => m.direction === "out");
  for (const m of outs) expect(m.latencyMs).toBeGreaterThanOrEqual(0);
  for (const m of messages.filter((m) => m.direction === "in")) expect(m.latencyMs).toBeNull();
  const callResult = JSON.parse(outs[1]!.body) as { result: unknown };
  expect(callResult.result).toEqual(result);
  expect(records.getEpisode("s1")).toMatchObject({ clientName: "probe-client", clientVersion: "9.8.7", protocolVersion: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
  recorder.close();
});

it("does not send a response it could not record, and answers with an error instead", async () => {
  const recorder = Recorder.open(join(dir, "t.db"));
  const server = new Server({ name: "echo", version: "0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(CallToolRequestSchema, () => {
    recorder.db.exec(`DROP TABLE messages`);
    return { content: [{ type: "text", text: "secret result" }] };
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const errors: Error[] = [];
  await server.connect(
    new RecordingTransport(serverSide, { recorder, episodeId: "s2", onFirstMessage: () => recorder.beginEpisode({ id: "s2", transport: "memory" }), onRecordError: (e) => errors.push(e) }),
  );
  const client = new Client({ name: "c", version: "1" });
  await client.connect(clientSide);
  await expect(client.callTool({ name: "x", arguments: {} })).rejects.toThrow(/the store failed \(no such table: messages.*\), so this request did not take effect/);
  expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/no such table: messages/)]);
  await client.close();
  recorder.close();
});
