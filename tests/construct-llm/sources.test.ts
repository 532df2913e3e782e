// Sources of an LLM build: a toolset from a file or a live MCP server, a question set, and the readers'
// errors; builds from each against the scripted OpenAI-compatible server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildWithLlm,
  decompose,
  generate,
  httpModel,
  listMcpTools,
  parseQuestions,
  parseTools,
  planLlmRequests,
  readToolsFile,
  splitCommand,
  uniformComplexity,
  type LlmBuildOptions,
  type Source,
} from "../../src/construct/index.ts";
import type { ChatTool } from "../../src/schema/index.ts";
import { startScriptedServer } from "./scripted.ts";

const TEMP = mkdtempSync(join(tmpdir(), "envforge-llm-sources-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));
const FIXTURE = resolve(import.meta.dirname, "fixtures/tools-server.mjs");
const EVERYTHING = resolve(import.meta.dirname, "../../node_modules/@modelcontextprotocol/server-everything/dist/index.js");

const plan = { count: 1, seed: 31, scenario: "multi-hop", complexity: uniformComplexity(0), domain: "films" } as const;

/** The toolset the procedural pipeline makes for the planned request: what the scripted model will localize. */
function plannedTools(): ChatTool[] {
  const [request] = planLlmRequests(plan, { kind: "world" });
  return generate(request!).env.tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } }));
}

describe("tool sources", () => {
  it("reads OpenAI function tools and MCP tool documents, as an array or under tools", () => {
    const openai = { type: "function", function: { name: "get_hotel", description: " Finds a hotel. ", parameters: { type: "object", properties: { name: { type: "string" } } } } };
    const mcp = { name: "book-room", inputSchema: { type: "object" } };
    const tools = parseTools({ tools: [openai, mcp] }, "t.json");
    expect(tools).toEqual([
      { type: "function", function: { name: "get_hotel", description: "Finds a hotel.", parameters: openai.function.parameters } },
      { type: "function", function: { name: "book-room", description: "book-room", parameters: { type: "object" } } },
    ]);
    expect(() => parseTools([openai, openai], "t.json")).toThrow(/"get_hotel" is listed twice/);
    expect(() => parseTools([{ type: "function", function: { name: "bad name" } }], "t.json")).toThrow(/t\.json: not a list/);
    expect(() => parseTools([], "t.json")).toThrow(/empty/);
  });

  it("lists a live MCP server's tools page by page, then closes it", async () => {
    const file = join(TEMP, "tools.json");
    const tools = plannedTools();
    writeFileSync(file, JSON.stringify(tools));
    const listed = await listMcpTools([process.execPath, FIXTURE, file]);
    expect(listed.tools).toEqual(tools);
    expect(listed.origin).toMatch(/^mcp:node /);
    const everything = await listMcpTools([process.execPath, EVERYTHING, "stdio"]);
    expect(everything.tools.map((t) => t.function.name)).toContain("echo");
  });

  it("says which command failed to serve tools", async () => {
    await expect(listMcpTools([process.execPath, "-e", "process.exit(3)"], { timeoutMs: 5000 })).rejects.toThrow(/^mcp:node -e process\.exit\(3\)/);
  });

  it("splits command lines the way a shell would quote them", () => {
    expect(splitCommand(`node "my server.js" --name 'a b' c\\ d`)).toEqual(["node", "my server.js", "--name", "a b", "c d"]);
    expect(() => splitCommand(`node "open`)).toThrow(/unclosed/);
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 6 }), (words) => {
        const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
        expect(splitCommand(quoted)).toEqual(words);
      }),
    );
  });
});

describe("question sources", () => {
  it("reads JSON Lines of questions and answers, naming the line of a bad one", () => {
    expect(parseQuestions('{"question": "Who?", "answer": 1961}\n\n{"question":" Where? ","answer":"Oslo"}\n', "q.jsonl")).toEqual([
      { question: "Who?", answer: "1961" },
      { question: "Where?", answer: "Oslo" },
    ]);
    expect(() => parseQuestions('{"question": "Who?", "answer": "x"}\n{"question": "Who?"}', "q.jsonl")).toThrow(/^q\.jsonl:2: wants/);
    expect(() => parseQuestions("{oops", "q.jsonl")).toThrow(/^q\.jsonl:1: /);
    expect(() => parseQuestions("\n\n", "q.jsonl")).toThrow(/no questions/);
  });
});

async function buildFrom(source: Source, extra: Partial<LlmBuildOptions> = {}, givenTools = false) {
  const server = await startScriptedServer({}, givenTools);
  try {
    const result = await buildWithLlm({
      model: httpModel({ baseUrl: server.baseUrl, model: "scripted-model", retries: 0 }),
      llmStages: ["decompose", "document", "integrate", "scale", "deploy"],
      source,
      ...plan,
      concurrency: 2,
      cacheDir: null,
      ...extra,
    });
    return { result, requests: server.requests };
  } finally {
    await server.close();
  }
}

describe("builds from a source", () => {
  it("localizes a given toolset: every given tool is kept and implemented, and later stages are told to keep them", async () => {
    const file = join(TEMP, "given-tools.json");
    const tools = plannedTools();
    writeFileSync(file, JSON.stringify(tools));
    const source = await readToolsFile(file);
    const { result } = await buildFrom(source, {}, true);
    expect(result.summary.built).toBe(1);
    const env = result.environments[0]!.env;
    expect(env.id).toMatch(/^given-tools-json-mh-c0000-/);
    for (const t of tools) expect(env.implementation.tools[t.function.name]).toBeDefined();
    const llm = env.provenance.stages.llm as { source: string; exchanges: { stage: string; prompt: string }[] };
    expect(llm.source).toBe(`tools: given-tools.json (${tools.length})`);
    expect(llm.exchanges.map((e) => e.prompt)).toEqual([
      "system@1+decompose@1+source-tools@1",
      "system@1+document@1+context-tools@1",
      "system@1+integrate@1+context-tools@1",
      "system@1+scale@1+context-tools@1",
      "system@1+deploy@1+context-tools@1",
    ]);
  });

  it("rejects a toolset build whose model drops a given tool", async () => {
    const tools = plannedTools();
    const extra: ChatTool = { type: "function", function: { name: "get_weather_report", description: "Weather.", parameters: { type: "object", properties: {} } } };
    const { result } = await buildFrom({ kind: "tools", tools: [...tools, extra], origin: "more.json" }, { attempts: 1, turns: 2 }, true);
    expect(result.summary.built).toBe(0);
    expect(result.summary.rejected).toEqual({ "document:contract": 1 });
    expect(result.llm.stages.document.invalid.contract).toBe(2);
  });

  it("decomposes a question set, one environment per question, keeping each question and answer", async () => {
    const placeholder: Source = { kind: "questions", questions: [{ question: "?", answer: "?" }, { question: "?", answer: "?" }], origin: "qa.jsonl" };
    const requests = planLlmRequests({ ...plan, count: 10 }, placeholder);
    const lines = requests.map((r) => decompose(r).tasks[0]!).map((t) => ({ question: t.question, answer: t.answer }));
    const file = join(TEMP, "qa.jsonl");
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n"));
    const source: Source = { kind: "questions", questions: parseQuestions(readFileSync(file, "utf8"), "qa.jsonl"), origin: "qa.jsonl" };
    const { result, requests: sent } = await buildFrom(source, { count: 10 });
    expect(result.summary.built).toBe(2);
    expect(result.environments.map((b) => b.env.tasks.map((t) => ({ question: t.question, answer: t.answer })))).toEqual(lines.map((l) => [l]));
    expect(result.environments.map((b) => b.env.id)).toEqual([expect.stringMatching(/^qa-jsonl-q1-/), expect.stringMatching(/^qa-jsonl-q2-/)]);
    expect(sent.filter((r) => (r.body.messages[1]!.content ?? "").includes(`Question: ${lines[0]!.question}`))).toHaveLength(1);
  });

  it("rejects a decomposition that rewrites the source question", async () => {
    const source: Source = { kind: "questions", questions: [{ question: "Which film did Ada Quill direct first?", answer: "Salt Meridian" }], origin: "qa.jsonl" };
    const { result } = await buildFrom(source, { attempts: 1, turns: 1 });
    expect(result.summary.rejected).toEqual({ "decompose:contract": 1 });
  });
});
