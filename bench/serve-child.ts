// Server process for bench/serve.ts and bench/ops.ts: envforge (sandbox + recording; metrics on, or off as the baseline) or a bare SDK server with one trivial tool.
// Usage: node --expose-gc --import tsx bench/serve-child.ts envforge|envforge-no-metrics|bare ENV_FILE DB_FILE normal|full [OTLP_URL]
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Recorder } from "../src/store/index.ts";
import { EnvironmentRegistry, otlpTracer, startHttpServer } from "../src/serve/index.ts";

const [mode, envFile, dbFile, sync, otlp] = process.argv.slice(2);

/** Heap and RSS after a full collection (so open-session memory is what is really held), and CPU time used so far. */
function stats(): Record<string, number> {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, cpuMicros: cpu.user + cpu.system };
}

async function bare(): Promise<string> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/stats") return void res.end(JSON.stringify(stats()));
    const sid = req.headers["mcp-session-id"];
    let transport = typeof sid === "string" ? transports.get(sid) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      created.onclose = () => transports.delete(created.sessionId ?? "");
      const server = new Server({ name: "bare", version: "0" }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: "echo", inputSchema: { type: "object" } }] }));
      server.setRequestHandler(CallToolRequestSchema, (r) => ({ content: [{ type: "text", text: JSON.stringify(r.params.arguments ?? {}) }] }));
      await server.connect(created);
      transport = created;
    }
    // As the SDK's own examples do (express.json()): the body is parsed before the transport sees it.
    let body: unknown;
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    }
    await transport.handleRequest(req, res, body);
  };
  const http = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
}

async function envforge(): Promise<string> {
  const { registry, problems } = await EnvironmentRegistry.load([envFile!]);
  if (problems.length) throw new Error(JSON.stringify(problems));
  const recorder = Recorder.open(dbFile!, { synchronous: sync === "full" ? "full" : "normal" });
  const server = await startHttpServer({
    registry,
    recorder,
    port: 0,
    maxSessions: 5000,
    maxCallsPerEpisode: 1_000_000,
    admin: { port: 0 },
    metrics: mode !== "envforge-no-metrics",
    ...(otlp ? { tracer: otlpTracer(otlp, "bench").tracer } : {}),
    routes: [{ method: "GET", path: "/stats", handler: (ctx) => ctx.sendJson(200, stats()) }],
  });
  process.stdout.write(`control plane on ${server.adminOrigin}\n`);
  return server.url;
}

const url = mode === "bare" ? await bare() : await envforge();
process.stdout.write(`listening on ${url}\n`);
// Exit normally on SIGTERM, so that --cpu-prof and friends write their output.
process.on("SIGTERM", () => process.exit(0));
