// MCP in both eras over real transports: SDK 1.x, and SDK 2.x in legacy, auto and pinned 2026-07-28 modes, each running a stateful episode whose score equals the in-process run.
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client as Client1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as Http1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport as Stdio1 } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client as Client2, StreamableHTTPClientTransport as Http2 } from "@modelcontextprotocol/client";
import { StdioClientTransport as Stdio2 } from "@modelcontextprotocol/client/stdio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, openInProcessEpisode, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Environment, type EpisodeScores } from "../../src/schema/index.ts";
import { BIN, ROOT, tempDir, type TempDir } from "./fixtures.ts";

/** A booking, then a conversion of the price it returned: the second call depends on the first's state and output. */
const HOTELS = Environment.parse(JSON.parse(readFileSync(join(ROOT, "environments/multi-hop/hotels-mh-c1111-8bc28c4a.json"), "utf8")));
const TASK = HOTELS.tasks[0]!;
const TOKEN = "eras-token";

let tmp: TempDir;
let recorder: Recorder;
let records: Records;
let registry: EnvironmentRegistry;
let server: HttpServer;
let inProcess: EpisodeScores;

/** What any MCP client needs here: call a tool, list tools. */
interface AnyClient {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  listTools(): Promise<{ tools: { name: string }[] }>;
  close(): Promise<void>;
}

/** Runs the gold plan, then submits the answer; returns the outputs the client saw. */
async function runEpisode(client: AnyClient): Promise<string[]> {
  expect((await client.listTools()).tools.map((t) => t.name)).toEqual([...HOTELS.tools.map((t) => t.name), "submit_answer"]);
  const outputs: string[] = [];
  for (const step of TASK.gold_plan) outputs.push(JSON.stringify(await client.callTool({ name: step.tool, arguments: step.arguments })));
  outputs.push(JSON.stringify(await client.callTool({ name: "submit_answer", arguments: { answer: TASK.answer } })));
  await client.close();
  return outputs;
}

beforeAll(async () => {
  tmp = tempDir("envforge-eras-");
  recorder = Recorder.open(tmp.db);
  records = new Records(recorder.db);
  registry = new EnvironmentRegistry([{ env: HOTELS }]);
  copyFileSync(join(ROOT, "environments/multi-hop/hotels-mh-c1111-8bc28c4a.json"), join(tmp.envDir, "hotels.json"));
  server = await startHttpServer({ registry, recorder, port: 0, token: TOKEN });
  const ip = await openInProcessEpisode({ registry, recorder, envId: HOTELS.id, taskId: TASK.id, episodeId: "in-process" });
  const local = new Client1({ name: "local", version: "1" });
  await local.connect(ip.transport);
  await runEpisode(local);
  await ip.close();
  inProcess = records.getEpisode("in-process")!.score!;
  expect(inProcess.ftrl).toMatchObject({ solve_rate: 1, solve_precision: 1, answer_correct: true });
});
afterAll(async () => {
  await server.close();
  recorder.close();
  tmp.cleanup();
});

const url = (episode: string) => new URL(`${server.url}?env=${HOTELS.id}&task=${TASK.id}&episode=${episode}`);
const headers = { authorization: `Bearer ${TOKEN}` };
const modes = [["legacy", "legacy"], ["auto", "auto"], ["pinned", { pin: "2026-07-28" }]] as const;

describe("Streamable HTTP", () => {
  it("SDK 1.x (2025-11-25, a session is an episode)", async () => {
    const client = new Client1({ name: "sdk1", version: "1" });
    await client.connect(new Http1(url("http-sdk1"), { requestInit: { headers } }));
    await runEpisode(client);
    expect(records.getEpisode("http-sdk1")).toMatchObject({ status: "submitted", protocolVersion: "2025-11-25", score: inProcess });
  });

  for (const [label, mode] of modes) {
    it(`SDK 2.x in ${label} mode`, async () => {
      const id = `http-sdk2-${label}`;
      const client = new Client2({ name: "sdk2", version: "2" }, { versionNegotiation: { mode } });
      await client.connect(new Http2(url(id), { requestInit: { headers } }));
      expect(client.getNegotiatedProtocolVersion()).toBe(label === "legacy" ? "2025-11-25" : "2026-07-28");
      await runEpisode(client as unknown as AnyClient);
      expect(records.getEpisode(id)).toMatchObject({ status: "submitted", score: inProcess });
      expect(records.listCalls(id).map((c) => c.tool)).toEqual(TASK.gold_plan.map((s) => s.tool));
      if (label !== "legacy") expect(records.listMessages(id).some((m) => m.method === "tools/call" && m.direction === "in")).toBe(true);
      expect(records.getEpisode(id)).toMatchObject({ clientName: "sdk2", protocolVersion: label === "legacy" ? "2025-11-25" : "2026-07-28" });
    });
  }

  it("tells a 2026-07-28 client without an episode id how to address one, and keeps serving", async () => {
    const client = new Client2({ name: "sdk2", version: "2" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new Http2(new URL(`${server.url}?env=${HOTELS.id}&task=${TASK.id}`), { requestInit: { headers } }));
    await expect(client.listTools()).rejects.toThrow(/has no session, so it must name its episode: use \/mcp\?env=.*&episode=YOUR-EPISODE-ID/);
    await client.close();
    const catalog = new Client2({ name: "sdk2", version: "2" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await catalog.connect(new Http2(new URL(server.url), { requestInit: { headers } }));
    expect((await catalog.listTools()).tools.map((t) => t.name)).toEqual(["list_environments", "describe_environment"]);
    await catalog.close();
  });

  it("answers a mismatched protocol version with -32022 and HTTP 400", async () => {
    const res = await fetch(url("never-opened"), {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2099-01-01", "mcp-method": "tools/list" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01", "io.modelcontextprotocol/clientInfo": { name: "x", version: "1" }, "io.modelcontextprotocol/clientCapabilities": {} } } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number; data: { supported: string[] } } }).error).toMatchObject({ code: -32022, data: { supported: ["2026-07-28"] } });
    expect(records.getEpisode("never-opened")).toBeNull();
  });

  it("lets a 2026-07-28 client continue an episode opened over REST", async () => {
    const opened = (await (await fetch(`${server.origin}/v1/episodes`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ env: HOTELS.id, task: TASK.id, episode: "rest-then-modern" }) })).json()) as { episode: string };
    const client = new Client2({ name: "sdk2", version: "2" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(new Http2(new URL(`${server.url}?episode=${opened.episode}`), { requestInit: { headers } }));
    await runEpisode(client as unknown as AnyClient);
    expect(records.getEpisode("rest-then-modern")).toMatchObject({ status: "submitted", score: inProcess });
  });
});

describe("stdio (one process, one episode)", () => {
  const serverArgs = (episode: string) => [BIN, "serve", "--dir", tmp.envDir, "--env", HOTELS.id, "--task", TASK.id, "--db", tmp.db, "--episode", episode];

  it("SDK 1.x", async () => {
    const client = new Client1({ name: "sdk1-stdio", version: "1" });
    await client.connect(new Stdio1({ command: process.execPath, args: serverArgs("stdio-sdk1"), stderr: "ignore" }));
    await runEpisode(client);
    await expect.poll(() => records.getEpisode("stdio-sdk1")?.status, { timeout: 10_000 }).toBe("submitted");
    expect(records.getEpisode("stdio-sdk1")).toMatchObject({ transport: "stdio", score: inProcess });
  });

  for (const [label, mode] of modes) {
    it(`SDK 2.x in ${label} mode`, async () => {
      // auto probes on a short-lived sibling process started with the same arguments, --episode included: the probe leaves no record.
      const id = `stdio-sdk2-${label}`;
      const client = new Client2({ name: `sdk2-stdio-${label}`, version: "2" }, { versionNegotiation: { mode } });
      await client.connect(new Stdio2({ command: process.execPath, args: serverArgs(id), stderr: "ignore" }));
      expect(client.getNegotiatedProtocolVersion()).toBe(label === "legacy" ? "2025-11-25" : "2026-07-28");
      await runEpisode(client as unknown as AnyClient);
      await expect.poll(() => records.getEpisode(id)?.status, { timeout: 10_000 }).toBe("submitted");
      expect(records.getEpisode(id)).toMatchObject({ transport: "stdio", score: inProcess });
    });
  }
});
