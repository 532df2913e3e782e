// MCP sampling: the builder server's envforge_build tool runs the LLM stages on the connected client's
// model, here an SDK Client that declares sampling and answers sampling/createMessage with scripted replies.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { CreateMessageRequestSchema, ErrorCode, McpError, type CreateMessageRequest } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { BUILD_TOOL, createBuilderServer, samplingModel, validateEnvironment } from "../../src/construct/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { inputsOf, replyText, stageOf, type Variant } from "./scripted.ts";

const BIN = resolve(import.meta.dirname, "../../bin/envforge.js");
const TEMP = mkdtempSync(join(tmpdir(), "envforge-llm-sampling-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

type Answer = (req: CreateMessageRequest["params"]) => Promise<{ model: string; role: "assistant"; content: { type: "text"; text: string } }>;

/** A client whose "model" plays the scripted replies (or `answer`), connected to a fresh builder server. */
async function connect(out: string, o: { sampling: boolean; answer?: Answer; variants?: Variant[] }) {
  const server = createBuilderServer({ out, cacheDir: null });
  const client = new Client({ name: "test-client", version: "1.0.0" }, { capabilities: o.sampling ? { sampling: {} } : {} });
  const seen: CreateMessageRequest["params"][] = [];
  const variants = [...(o.variants ?? [])];
  if (o.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      seen.push(req.params);
      if (o.answer) return o.answer(req.params);
      const first = req.params.messages[0]!.content as { type: string; text: string };
      const stage = stageOf(req.params.systemPrompt ?? "");
      return { model: "scripted-sampler", role: "assistant" as const, content: { type: "text" as const, text: replyText(stage, inputsOf(first.text), variants.shift() ?? "good") } };
    });
  }
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), client.connect(b)]);
  return { client, server, seen, close: () => Promise.all([client.close(), server.close()]) };
}

describe("envforge_build over MCP sampling", () => {
  it("builds with the client's model: each stage is one sampling request, and the kept environment is written", async () => {
    const out = join(TEMP, "ok");
    const c = await connect(out, { sampling: true, variants: ["good", "invalid-json"] });
    try {
      const tools = await c.client.listTools();
      expect(tools.tools.map((t) => t.name)).toEqual([BUILD_TOOL]);
      const result = await c.client.callTool({ name: BUILD_TOOL, arguments: { topic: "hotel bookings", scenario: "single-hop", complexity: 1 } });
      expect(result.isError).toBeFalsy();
      const s = result.structuredContent as { summary: { built: number }; written: string[]; llm: { stages: Record<string, { replies: number; invalid: { json: number } }> } };
      expect(s.summary.built).toBe(1);
      expect(s.llm.stages.document).toMatchObject({ replies: 2, invalid: { json: 1 } });
      // Five stages, one repair turn; the system prompt travels as systemPrompt, never as a message.
      expect(c.seen).toHaveLength(6);
      expect(c.seen.map((p) => stageOf(p.systemPrompt ?? ""))).toEqual(["decompose", "document", "document", "integrate", "scale", "deploy"]);
      expect(c.seen.every((p) => p.includeContext === "none" && p.maxTokens > 0)).toBe(true);
      expect(c.seen[2]!.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
      const env = Environment.parse(JSON.parse(readFileSync(s.written[0]!, "utf8")));
      expect(await validateEnvironment(env)).toEqual([]);
      expect((env.provenance.stages.llm as { model: string }).model).toBe("mcp-sampling");
      expect(readFileSync(join(out, "llm-audit.jsonl"), "utf8").trim().split("\n").length).toBeGreaterThanOrEqual(6);
    } finally {
      await c.close();
    }
  });

  it("says so when the client offers no sampling, and builds nothing", async () => {
    const c = await connect(join(TEMP, "none"), { sampling: false });
    try {
      const result = await c.client.callTool({ name: BUILD_TOOL, arguments: { topic: "hotel bookings" } });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toMatch(/does not offer MCP sampling/);
    } finally {
      await c.close();
    }
  });

  it("stops when the human declines a request", async () => {
    const c = await connect(join(TEMP, "declined"), {
      sampling: true,
      answer: () => Promise.reject(new McpError(ErrorCode.InvalidRequest, "User rejected sampling request")),
    });
    try {
      const result = await c.client.callTool({ name: BUILD_TOOL, arguments: { topic: "hotel bookings" } });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toMatch(/could not be reached: .*User rejected/);
      expect(c.seen).toHaveLength(1);
    } finally {
      await c.close();
    }
  });

  it("checks its arguments before asking the model anything", async () => {
    const c = await connect(join(TEMP, "args"), { sampling: true });
    try {
      const both = await c.client.callTool({ name: BUILD_TOOL, arguments: { topic: "x", questions: [{ question: "q", answer: "a" }] } });
      expect((both.content as { text: string }[])[0]!.text).toMatch(/at most one of topic, tools and questions/);
      const partial = await c.client.callTool({ name: BUILD_TOOL, arguments: { topic: "x", llm_stages: ["deploy"] } });
      expect((partial.content as { text: string }[])[0]!.text).toMatch(/needs the decompose stage/);
      const many = await c.client.callTool({ name: BUILD_TOOL, arguments: { count: 500 } });
      expect((many.content as { text: string }[])[0]!.text).toMatch(/above this server's limit of 20/);
      expect(c.seen).toHaveLength(0);
    } finally {
      await c.close();
    }
  });

  it("sends a sampling model's conversation with the system text split off", async () => {
    const c = await connect(join(TEMP, "model"), { sampling: true, answer: async (p) => ({ model: "m", role: "assistant", content: { type: "text", text: `echo:${(p.messages[0]!.content as { text: string }).text}` } }) });
    try {
      const model = samplingModel(c.server, { hints: ["claude"] });
      const reply = await model.complete([
        { role: "system", content: "be brief" },
        { role: "user", content: "hello" },
      ]);
      expect(reply).toEqual({ text: "echo:hello", usage: null });
      expect(c.seen[0]).toMatchObject({ systemPrompt: "be brief", modelPreferences: { hints: [{ name: "claude" }] } });
    } finally {
      await c.close();
    }
  });

  it("serves envforge_build from `envforge builder` over stdio, and builds with the client's model", async () => {
    const out = join(TEMP, "stdio");
    const client = new Client({ name: "stdio-client", version: "1.0.0" }, { capabilities: { sampling: {} } });
    let asked = 0;
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked++;
      const first = req.params.messages[0]!.content as { type: string; text: string };
      return { model: "scripted-sampler", role: "assistant" as const, content: { type: "text" as const, text: replyText(stageOf(req.params.systemPrompt ?? ""), inputsOf(first.text), "good") } };
    });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "builder", "--out", out, "--no-cache"], stderr: "pipe" }));
    try {
      const result = await client.callTool({ name: BUILD_TOOL, arguments: { topic: "ferry timetables", scenario: "single-hop", complexity: 0, seed: 3 } });
      expect(result.isError).toBeFalsy();
      const written = (result.structuredContent as { written: string[] }).written;
      expect(written).toHaveLength(1);
      expect(written[0]!.startsWith(join(out, "single-hop", "ferry-timetables-sh-c0000-"))).toBe(true);
      expect(asked).toBeGreaterThanOrEqual(5);
      expect(await validateEnvironment(Environment.parse(JSON.parse(readFileSync(written[0]!, "utf8"))))).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
