// SIGTERM to a real `envforge serve` process: every episode ends, including one that tried to start while it shut down.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
afterAll(() => tmp?.cleanup());

const initialize = (url: string) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "late", version: "1" } } }),
  });

it("ends every episode at SIGTERM, even with a call in flight and a client starting a new episode meanwhile", async () => {
  tmp = tempDir("envforge-signals-");
  const server = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
  const clients: Client[] = [];
  for (const id of ["busy", "idle"]) {
    const client = new Client({ name: "signals-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?env=test-counter&task=code-alpha&episode=${id}`)));
    await client.callTool({ name: "add", arguments: { n: 1 } });
    clients.push(client);
  }
  // `spin` runs until the sandbox's deadline, so shutting down waits for it.
  const inFlight = clients[0]!.callTool({ name: "spin", arguments: {} }).catch((err: Error) => err);
  await new Promise((r) => setTimeout(r, 100));
  server.child.kill("SIGTERM");
  while (!server.stderr().includes("SIGTERM, closing")) await new Promise((r) => setTimeout(r, 10));
  const late = await initialize(`${server.url}?env=test-counter&task=code-alpha&episode=late`).catch((err: Error) => err);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => server.child.once("exit", (c, s) => r([c, s])));
  await inFlight;
  expect([code, signal]).toEqual([0, null]);
  if (!(late instanceof Error)) expect(late.status).toBe(503);

  const records = Records.open(tmp.db);
  const rows = records.listEpisodes({ kind: "all", limit: 100 }).episodes.map((e) => [e.id, e.status]);
  records.close();
  expect(rows.filter(([, status]) => status === "running")).toEqual([]);
  expect(Object.fromEntries(rows.filter(([id]) => id === "busy" || id === "idle"))).toEqual({ busy: "closed", idle: "closed" });
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
});
