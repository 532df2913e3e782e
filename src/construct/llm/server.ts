// The builder MCP server: one tool, `envforge_build`, that runs the LLM stages on the connected client's
// own model through `sampling/createMessage` (no API key; the human at the client approves each
// request) and writes the environments that pass the gate into the folder the server was started with.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { Level, plural, SCENARIOS, Scenario, type SandboxLimitsInput } from "../../schema/index.ts";
import { uniformComplexity } from "../plan.ts";
import { buildToDirectoryWithLlm, stageChoiceError } from "./build.ts";
import { ModelError } from "./model.ts";
import { formatLlmReport } from "./report.ts";
import { samplingModel } from "./sampling.ts";
import { parseTools, SourceError, type Source } from "./sources.ts";
import { STAGE_NAMES } from "./stage.ts";

export const BUILD_TOOL = "envforge_build";

export interface BuilderOptions {
  /** Where environments are written (`<out>/<scenario>/<id>.json`) and the audit log goes. */
  out: string;
  cacheDir: string | null;
  /** The most environments one call may ask for: each costs several approved requests. */
  maxCount?: number;
  attempts?: number;
  turns?: number;
  maxTokens?: number;
  limits?: SandboxLimitsInput;
}

const BuildArgs = z.strictObject({
  topic: z.string().trim().min(1).optional(),
  tools: z.unknown().optional(),
  questions: z.array(z.strictObject({ question: z.string().trim().min(1), answer: z.union([z.string().trim().min(1), z.number()]) })).min(1).optional(),
  count: z.number().int().min(1).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  scenario: z.union([Scenario, z.literal("mixed")]).optional(),
  complexity: Level.optional(),
  llm_stages: z.array(z.enum(STAGE_NAMES)).min(1).optional(),
});

const TOOL_DOC: McpTool = {
  name: BUILD_TOOL,
  title: "Build tool-use environments",
  description:
    "Builds envforge training environments with your model (through MCP sampling): it decomposes questions, writes tool documents and local JavaScript implementations, and keeps only environments whose gold plans replay to a perfect reward in the sandbox. Give at most one source: a topic, an existing toolset (OpenAI function tools or MCP tools), or question/answer pairs; with none, it builds fictional worlds. Each environment takes several sampling requests.",
  inputSchema: {
    type: "object",
    properties: {
      topic: { type: "string", description: 'What the environments are about, e.g. "hotel bookings".' },
      tools: { type: "array", items: { type: "object" }, description: "An existing toolset to localize: OpenAI function-calling tools or MCP tool documents." },
      questions: { type: "array", items: { type: "object", properties: { question: { type: "string" }, answer: { type: "string" } }, required: ["question", "answer"] }, description: "Questions with answers to decompose, one environment each." },
      count: { type: "integer", minimum: 1, description: "How many environments (default 1; with questions, one per question)." },
      seed: { type: "integer", minimum: 0, description: "Seed of the plan (default 1)." },
      scenario: { type: "string", enum: [...SCENARIOS, "mixed"], description: "Scenario type (default mixed)." },
      complexity: { type: "integer", minimum: 0, maximum: 3, description: "Level of all four scaling strategies (default: cycle 0-3)." },
      llm_stages: { type: "array", items: { type: "string", enum: [...STAGE_NAMES] }, description: "Stages to run on the model (default all five)." },
    },
    additionalProperties: false,
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
};

const failure = (text: string): CallToolResult => ({ isError: true, content: [{ type: "text", text }] });

function sourceOf(args: z.infer<typeof BuildArgs>): Source {
  const given = [args.topic !== undefined, args.tools !== undefined, args.questions !== undefined].filter(Boolean).length;
  if (given > 1) throw new SourceError("give at most one of topic, tools and questions");
  if (args.topic !== undefined) return { kind: "topic", topic: args.topic };
  if (args.tools !== undefined) return { kind: "tools", tools: parseTools(args.tools, "tools argument"), origin: "client toolset" };
  if (args.questions !== undefined) return { kind: "questions", questions: args.questions.map((q) => ({ question: q.question, answer: String(q.answer) })), origin: "client questions" };
  return { kind: "world" };
}

export function createBuilderServer(o: BuilderOptions): Server {
  const server = new Server({ name: "envforge-builder", version: "0.1.0" }, { capabilities: { tools: { listChanged: false } }, instructions: `Call ${BUILD_TOOL} to build environments with your own model; they are written to ${o.out}.` });
  const model = samplingModel(server, o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {});
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [TOOL_DOC] }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    if (req.params.name !== BUILD_TOOL) throw new McpError(ErrorCode.InvalidParams, `unknown tool "${req.params.name}"`);
    const parsed = BuildArgs.safeParse(req.params.arguments ?? {});
    if (!parsed.success) return failure(`invalid arguments: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
    const args = parsed.data;
    if (!server.getClientCapabilities()?.sampling) return failure("this client does not offer MCP sampling, which envforge_build needs to reach a model");
    let source: Source;
    try {
      source = sourceOf(args);
    } catch (err) {
      return failure((err as Error).message);
    }
    const llmStages = args.llm_stages ?? [...STAGE_NAMES];
    const problem = stageChoiceError(source, llmStages);
    if (problem) return failure(problem);
    const count = args.count ?? (source.kind === "questions" ? source.questions.length : 1);
    const max = o.maxCount ?? 20;
    if (count > max) return failure(`count ${count} is above this server's limit of ${max}`);
    const token = req.params._meta?.progressToken;
    try {
      const result = await buildToDirectoryWithLlm({
        out: o.out,
        model,
        llmStages,
        source,
        count,
        seed: args.seed ?? 1,
        scenario: args.scenario ?? "mixed",
        complexity: args.complexity === undefined ? "mixed" : uniformComplexity(args.complexity),
        attempts: o.attempts ?? 2,
        turns: o.turns ?? 3,
        // One request at a time: a person approves each.
        concurrency: 1,
        cacheDir: o.cacheDir,
        auditFile: `${o.out}/llm-audit.jsonl`,
        ...(o.limits ? { limits: o.limits } : {}),
        onProgress: (p) => {
          if (token === undefined) return;
          void extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: p.done, total: p.total, message: `${plural(p.requests, "request")}, ${p.cached} cached` } });
        },
      });
      const s = result.summary;
      const text = [`built ${s.built} of ${plural(count, "environment")} (${plural(s.tasks, "task")}) from ${plural(s.candidates, "candidate")} into ${o.out}`, formatLlmReport(result.llm), ...result.written.map((f) => `wrote ${f}`)].join("\n");
      return { content: [{ type: "text", text }], structuredContent: { summary: s, llm: result.llm, written: result.written }, ...(s.built === 0 ? { isError: true } : {}) };
    } catch (err) {
      if (err instanceof ModelError || err instanceof McpError) return failure(`the model could not be reached: ${err.message}`);
      throw err;
    }
  });
  return server;
}

/** Serves the builder over stdio until the client disconnects. */
export async function serveBuilderStdio(o: BuilderOptions): Promise<void> {
  const server = createBuilderServer(o);
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  await server.connect(new StdioServerTransport());
  await closed;
}
