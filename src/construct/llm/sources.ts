// What an LLM build starts from: the planned fictional world, a free-text topic, an existing toolset
// (OpenAI tools JSON, or a live MCP server's tools/list), or an existing question set (JSON Lines).
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { z } from "zod";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolName, type ChatTool } from "../../schema/index.ts";

export interface SourceQuestion {
  question: string;
  answer: string;
}

export type Source =
  | { kind: "world" }
  | { kind: "topic"; topic: string }
  | { kind: "tools"; tools: ChatTool[]; origin: string }
  | { kind: "questions"; questions: SourceQuestion[]; origin: string };

/** A bad source file or server: the message says where. */
export class SourceError extends Error {}

const Parameters = z.looseObject({ type: z.literal("object") });
/** Either format, read into one shape. */
const AnyTool = z.union([
  z.looseObject({
    type: z.literal("function"),
    function: z.looseObject({ name: ToolName, description: z.string().optional(), parameters: Parameters.optional() }),
  }).transform((t) => t.function),
  z.looseObject({ name: ToolName, description: z.string().optional(), inputSchema: Parameters }).transform((t) => ({ name: t.name, description: t.description, parameters: t.inputSchema })),
]);
const ToolList = z.union([z.array(AnyTool), z.looseObject({ tools: z.array(AnyTool) }).transform((l) => l.tools)]);

const EMPTY_PARAMETERS = { type: "object", properties: {} };

function toChatTool(t: z.infer<typeof AnyTool>): ChatTool {
  return { type: "function", function: { name: t.name, description: t.description?.trim() || t.name, parameters: (t.parameters ?? EMPTY_PARAMETERS) as Record<string, unknown> } };
}

const issues = (e: z.ZodError): string => e.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");

/** Tools in the OpenAI function-calling format, or MCP tool documents, as an array or under `tools`. */
export function parseTools(value: unknown, origin: string): ChatTool[] {
  const r = ToolList.safeParse(value);
  if (!r.success) throw new SourceError(`${origin}: not a list of OpenAI function tools or MCP tools: ${issues(r.error)}`);
  const tools = r.data.map(toChatTool);
  if (tools.length === 0) throw new SourceError(`${origin}: the toolset is empty`);
  const seen = new Set<string>();
  for (const t of tools) {
    if (seen.has(t.function.name)) throw new SourceError(`${origin}: tool "${t.function.name}" is listed twice`);
    seen.add(t.function.name);
  }
  return tools;
}

export async function readToolsFile(file: string): Promise<Source & { kind: "tools" }> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new SourceError(`${file}: ${(err as Error).message}`);
  }
  return { kind: "tools", tools: parseTools(value, file), origin: basename(file) };
}

const QuestionLine = z.looseObject({ question: z.string().trim().min(1), answer: z.union([z.string().trim().min(1), z.number()]) });

/** JSON Lines, one `{"question": ..., "answer": ...}` per line; blank lines are skipped. */
export function parseQuestions(text: string, origin: string): SourceQuestion[] {
  const out: SourceQuestion[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new SourceError(`${origin}:${i + 1}: ${(err as Error).message}`);
    }
    const r = QuestionLine.safeParse(value);
    if (!r.success) throw new SourceError(`${origin}:${i + 1}: wants {"question": "...", "answer": "..."}: ${issues(r.error)}`);
    out.push({ question: r.data.question.trim(), answer: String(r.data.answer).trim() });
  }
  if (out.length === 0) throw new SourceError(`${origin}: no questions`);
  return out;
}

export async function readQuestionsFile(file: string): Promise<Source & { kind: "questions" }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new SourceError(`${file}: ${(err as Error).message}`);
  }
  return { kind: "questions", questions: parseQuestions(text, file), origin: basename(file) };
}

/** Splits a command line into words: whitespace separates, single or double quotes group, backslash escapes. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i]!;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < line.length) word = (word ?? "") + line[++i]!;
    else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? "") + c;
  }
  if (quote) throw new SourceError(`unclosed ${quote} in ${JSON.stringify(line)}`);
  if (word !== null) words.push(word);
  return words;
}

/** Spawns a stdio MCP server, pages through `tools/list`, and closes it. */
export async function listMcpTools(command: readonly string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<Source & { kind: "tools" }> {
  const [program, ...args] = command;
  if (!program) throw new SourceError("--from-mcp needs a command");
  const origin = `mcp:${basename(program)}${args.length > 0 ? ` ${args.join(" ")}` : ""}`;
  const transport = new StdioClientTransport({ command: program, args, stderr: "pipe", ...(options.cwd ? { cwd: options.cwd } : {}) });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString("utf8");
  });
  const client = new Client({ name: "envforge-build", version: "0.1.0" });
  const timeout = options.timeoutMs ?? 30_000;
  try {
    await client.connect(transport, { timeout });
    const listed: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
      listed.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return { kind: "tools", tools: parseTools(listed, origin), origin };
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`${origin}: ${(err as Error).message}${stderr.trim() ? `\n${stderr.trim()}` : ""}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** A short label for ids and titles: lower-case words joined by dashes. */
export function slug(text: string, max = 32): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, max)
      .replace(/-+$/, "") || "source"
  );
}
