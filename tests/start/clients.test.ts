// The client lines `npm start` prints and the README gives, run where a test can: the MCP Inspector 2.x CLI over HTTP and over the stdio command Claude Code and Desktop get, and the Vercel AI SDK's MCP client (both pinned devDependencies).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createMCPClient } from "@ai-sdk/mcp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLAUDE_CODE_NAMES, connectHelp } from "../../src/cli/start.ts";
import { buildReport } from "../../src/export/index.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { runNode, type Finished } from "../helpers/spawn.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const EXAMPLES = join(ROOT, "environments/examples");
const INSPECTOR_DIR = join(ROOT, "node_modules/@modelcontextprotocol/inspector");
const INSPECTOR = join(INSPECTOR_DIR, (JSON.parse(readFileSync(join(INSPECTOR_DIR, "package.json"), "utf8")) as { bin: Record<string, string> }).bin["mcp-inspector"]!);

let tmp: string;
let db: string;
let recorder: Recorder;
let server: HttpServer;
let help: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "envforge-clients-"));
  db = join(tmp, "clients.db");
  recorder = Recorder.open(db);
  const { registry } = await EnvironmentRegistry.load([EXAMPLES]);
  server = await startHttpServer({ registry, recorder, port: 0 });
  help = connectHelp(server, registry.list()[0]!.env, EXAMPLES, db);
});
afterAll(async () => {
  await server?.close();
  recorder?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Splits a line printed for a POSIX shell into words (the printer quotes with '...' only). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.trim().matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) words.push(m[1] !== undefined ? m[1].replaceAll(`'\\''`, "'") : m[2]!);
  return words;
}

/** The printed line that starts with `prefix`, as words. */
function printed(prefix: string): string[] {
  const line = help.split("\n").find((l) => l.trim().startsWith(prefix));
  expect(line, `a line starting with ${prefix}`).toBeDefined();
  return shellWords(line!);
}

/** Runs the Inspector as `npx @modelcontextprotocol/inspector ARGS` would, from the pinned devDependency. */
const inspector = (args: string[]): Promise<Finished> => runNode(INSPECTOR, args, { cwd: tmp, env: { ...process.env, MCP_INSPECTOR_SECRET_STORE: "memory", HOME: tmp } });

describe("the printed client lines", () => {
  it("give the two Claude Code servers different names, so both can be added", () => {
    expect(CLAUDE_CODE_NAMES.http).not.toBe(CLAUDE_CODE_NAMES.stdio);
    const http = printed("claude mcp add --transport http");
    const stdio = printed(`claude mcp add ${CLAUDE_CODE_NAMES.stdio}`);
    // Options go before the name; the name is the word after them.
    expect(http.slice(0, 6)).toEqual(["claude", "mcp", "add", "--transport", "http", CLAUDE_CODE_NAMES.http]);
    expect(http[6]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp\?env=.+&task=.+$/);
    expect(stdio.slice(0, 5)).toEqual(["claude", "mcp", "add", CLAUDE_CODE_NAMES.stdio, "--"]);
  });

  it("the Inspector CLI line lists the episode's tools over Streamable HTTP, and the connection is recorded as a health check", async () => {
    const words = printed("npx @modelcontextprotocol/inspector --cli");
    expect(words.slice(0, 2)).toEqual(["npx", "@modelcontextprotocol/inspector"]);
    const { code, stdout, stderr } = await inspector(words.slice(2));
    expect(code, stderr).toBe(0);
    const names = (JSON.parse(stdout) as { tools: { name: string }[] }).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["get_film", "get_person", "submit_answer"]));
    // Connected and left without a call (and without an HTTP DELETE, so it runs until the idle timeout): recorded, but not in the score tables.
    const records = Records.open(db);
    try {
      const checks = records.listEpisodes({ kind: "episode" }).episodes.filter((e) => e.callCount === 0 && e.transport === "http");
      expect(checks.length).toBeGreaterThanOrEqual(1);
      expect(checks[0]!.clientName).toMatch(/inspector/i);
      expect(buildReport(records, []).episodes.excluded["no calls"]).toBeGreaterThanOrEqual(1);
    } finally {
      records.close();
    }
  });

  it("the same line with --method tools/call calls a tool, and the call is recorded", async () => {
    const words = printed("npx @modelcontextprotocol/inspector --cli").slice(2);
    const call = [...words.slice(0, words.indexOf("--method")), "--method", "tools/call", "--tool-name", "get_film", "--tool-arg", "title=Crimson Harbor"];
    const { code, stdout, stderr } = await inspector(call);
    expect(code, stderr).toBe(0);
    expect((JSON.parse(stdout) as { content: { text: string }[] }).content[0]!.text).toContain("Elena Vastrova");
    const records = Records.open(db);
    try {
      const called = records.listEpisodes({ kind: "episode" }).episodes.filter((e) => e.callCount === 1);
      expect(called).toHaveLength(1);
      expect(called[0]!.clientName).toMatch(/inspector/i);
    } finally {
      records.close();
    }
  });

  it("the stdio command given to Claude Code (and Claude Desktop) serves the episode to the Inspector over stdio", async () => {
    const words = printed(`claude mcp add ${CLAUDE_CODE_NAMES.stdio}`);
    const command = words.slice(words.indexOf("--") + 1);
    const desktop = JSON.parse(help.slice(help.indexOf("{"), help.lastIndexOf("}") + 1)) as { mcpServers: { envforge: { command: string; args: string[] } } };
    expect([desktop.mcpServers.envforge.command, ...desktop.mcpServers.envforge.args]).toEqual(command);
    const { code, stdout, stderr } = await inspector(["--cli", ...command, "--method", "tools/list"]);
    expect(code, stderr).toBe(0);
    expect((JSON.parse(stdout) as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain("submit_answer");
  });

  it("the Inspector web UI line uses flags this Inspector takes", async () => {
    const words = printed("npx @modelcontextprotocol/inspector --transport http");
    expect(words.slice(2, 5)).toEqual(["--transport", "http", "--server-url"]);
    expect(words[5]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp\?env=/);
    // The web UI binds fixed ports, so a test only checks that its options exist.
    const { code, stdout } = await inspector(["--web", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--transport <type>/);
    expect(stdout).toMatch(/--server-url <url>/);
  });
});

describe("the README's Vercel AI SDK lines", () => {
  it("list the episode's tools and call one through @ai-sdk/mcp (a 2026-07-28 client: the URL names its episode), and DELETE ends it", async () => {
    // The README's URL: the printed episode URL plus an episode id of the client's choosing.
    const url = `${printed("claude mcp add --transport http")[6]!}&episode=ai-sdk-1`;
    const mcp = await createMCPClient({ transport: { type: "http", url } });
    let output: unknown;
    try {
      const tools = await mcp.tools();
      expect(Object.keys(tools)).toEqual(expect.arrayContaining(["get_film", "get_person", "submit_answer"]));
      output = await tools.get_person!.execute({ name: "Elena Vastrova" });
    } finally {
      await mcp.close();
    }
    expect(JSON.stringify(output)).toContain("1961");
    const status = async () => {
      const records = Records.open(db);
      try {
        return records.getEpisode("ai-sdk-1");
      } finally {
        records.close();
      }
    };
    // No session to close: the episode outlives the client until it submits, is deleted, or idles out.
    expect(await status()).toMatchObject({ callCount: 1, status: "running" });
    const deleted = await fetch(`${server.origin}/v1/episodes/ai-sdk-1`, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(await status()).toMatchObject({ callCount: 1, status: "closed" });
  });
});
