// serve --otlp: spans sent with the OpenTelemetry SDK to an OTLP/HTTP receiver started here, checked for MCP semantic-convention attributes, parentage from params._meta.traceparent, tool errors and reward events.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvironmentRegistry, otlpTracer, startHttpServer } from "../../src/serve/index.ts";
import { Recorder } from "../../src/store/index.ts";
import { EXAMPLES, tempDir } from "../run/helpers.ts";
import { ENV } from "./fixtures.ts";

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
  status?: { code?: number };
}

const tmp = tempDir("envforge-otel-");
let receiver: Server;
let receiverUrl: string;
const bodies: { path: string; type: string; body: { resourceSpans: { resource: { attributes: Span["attributes"] }; scopeSpans: { spans: Span[] }[] }[] } }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      bodies.push({ path: req.url ?? "", type: String(req.headers["content-type"]), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  tmp.cleanup();
});

const attrs = (s: { attributes: Span["attributes"] }): Record<string, unknown> => Object.fromEntries(s.attributes.map((a) => [a.key, Object.values(a.value)[0]]));

describe("serve --otlp", () => {
  it("sends a server span per MCP request joined to the client's trace, execute_tool spans, tool errors and the reward", async () => {
    const { registry } = await EnvironmentRegistry.load([EXAMPLES]);
    const recorder = Recorder.open(`${tmp.dir}/otel.db`);
    const otel = otlpTracer(receiverUrl, "9.9.9");
    const server = await startHttpServer({ registry, recorder, port: 0, tracer: otel.tracer });
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parent = "00f067aa0ba902b7";
    try {
      const client = new Client({ name: "otel-test", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?env=${ENV}&task=director-birth-year`)));
      const _meta = { traceparent: `00-${trace}-${parent}-01` };
      await client.callTool({ name: "get_film", arguments: { title: "Crimson Harbor" }, _meta });
      const bad = await client.callTool({ name: "get_weather", arguments: { city: "Paris" }, _meta });
      expect(bad.isError).toBe(true);
      await client.callTool({ name: "get_person", arguments: { name: "Elena Vastrova" } });
      await client.callTool({ name: "submit_answer", arguments: { answer: "1961" }, _meta });
      await client.close();
    } finally {
      await server.close();
      await otel.shutdown();
      recorder.close();
    }
    expect(bodies.every((b) => b.path === "/v1/traces" && b.type.startsWith("application/json"))).toBe(true);
    expect(attrs(bodies[0]!.body.resourceSpans[0]!.resource)).toMatchObject({ "service.name": "envforge", "service.version": "9.9.9" });
    const spans = bodies.flatMap((b) => b.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
    const named = (name: string): Span[] => spans.filter((s) => s.name === name);

    const init = named("initialize")[0]!;
    expect(attrs(init)).toMatchObject({ "mcp.method.name": "initialize", "network.transport": "tcp", "network.protocol.name": "http" });

    const [film] = named("tools/call get_film");
    expect(film).toMatchObject({ traceId: trace, parentSpanId: parent, kind: 2 });
    const a = attrs(film!);
    expect(a).toMatchObject({ "mcp.method.name": "tools/call", "gen_ai.tool.name": "get_film", "gen_ai.operation.name": "execute_tool", "mcp.protocol.version": expect.any(String), "network.transport": "tcp" });
    expect(a["jsonrpc.request.id"]).toMatch(/^\d+$/);
    expect(a["error.type"]).toBeUndefined();
    const [tool] = named("execute_tool get_film");
    expect(tool).toMatchObject({ traceId: trace, parentSpanId: film!.spanId, kind: 1 });

    const [weather] = named("tools/call get_weather");
    expect(attrs(weather!)["error.type"]).toBe("tool_error");
    expect(weather!.status?.code).toBe(2);

    // Without a traceparent, a call starts a trace of its own.
    const [person] = named("tools/call get_person");
    expect(person!.traceId).not.toBe(trace);
    expect(person!.parentSpanId ?? "").toBe("");

    const [submit] = named("tools/call submit_answer");
    const events = submit!.events!.filter((e) => e.name === "gen_ai.evaluation.result").map(attrs);
    expect(events).toEqual([
      expect.objectContaining({ "gen_ai.evaluation.name": "envforge.solve_f1.ftrl", "gen_ai.evaluation.score.value": 0.8, "gen_ai.evaluation.score.label": "pass" }),
      expect.objectContaining({ "gen_ai.evaluation.name": "envforge.solve_f1.strict" }),
    ]);
  });
});
