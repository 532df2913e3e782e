// envforge record wrapping a third-party stdio MCP server: byte-identical traffic, every message recorded, exit codes, scoring.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Readable, Writable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { Records } from "../../src/store/index.ts";
import { BIN, tempDir, type TempDir } from "./fixtures.ts";

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")), "dist/index.js");
let tmp: TempDir;

beforeAll(() => {
  tmp = tempDir("envforge-proxy-");
});
afterAll(() => tmp.cleanup());

/**
 * Runs a command with the given stdin bytes, closing stdin once `answered` holds for its
 * stdout (so a server that exits at EOF has answered everything first); resolves with its
 * stdout bytes, stderr text and exit code.
 */
function runWith(cmd: string, args: string[], input: string, answered: (stdout: string) => boolean = () => true): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    const endIfAnswered = (): void => {
      if (!child.stdin.writableEnded && answered(Buffer.concat(out).toString("utf8"))) child.stdin.end();
    };
    child.stdout.on("data", (d: Buffer) => (out.push(d), endIfAnswered()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code }));
    child.stdin.write(input);
    endIfAnswered();
  });
}

/** Whether stdout holds a response to each of these request ids (complete lines only). */
const answersTo = (ids: (string | number)[]) => (stdout: string): boolean => {
  const seen = new Set(stdout.split("\n").slice(0, -1).filter((l) => l.trim() !== "").map((l) => (JSON.parse(l) as { id?: unknown }).id));
  return ids.every((id) => seen.has(id));
};

/** Runs the CLI in this process with empty stdin. */
async function inProcess(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const sink = () => new Writable({ write: (chunk, _enc, cb) => ((stderr += chunk.toString()), cb()) });
  const out = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const code = await main(argv, { stdout: out, stderr: sink(), stdin: Readable.from([]), cwd: tmp.path, env: process.env });
  return { code, stderr };
}

const record = (db: string, ...rest: string[]) => [BIN, "record", "--db", db, ...rest];

const LINES = [
  { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-client", version: "3.1" } } },
  { jsonrpc: "2.0", method: "notifications/initialized" },
  { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "héllo, wörld ✓" } } },
  { jsonrpc: "2.0", id: "three", method: "tools/call", params: { name: "get-sum", arguments: { a: 2, b: 40 } } },
  { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "no-such-tool", arguments: {} } },
].map((m) => JSON.stringify(m));

describe("envforge record", () => {
  it("passes bytes through unchanged both ways and records every message", async () => {
    const db = join(tmp.path, "raw.db");
    const input = `${LINES.join("\n")}\n`;
    const all = answersTo([1, 2, "three", 4]);
    const direct = await runWith(process.execPath, [EVERYTHING, "stdio"], input, all);
    const proxied = await runWith(process.execPath, [...record(db, "--episode", "raw-1"), "--", process.execPath, EVERYTHING, "stdio"], input, all);
    expect(proxied.code).toBe(direct.code);
    expect(proxied.stdout.equals(direct.stdout)).toBe(true);
    expect(proxied.stdout.toString()).toContain("héllo, wörld ✓");
    // The server's stderr comes through.
    expect(proxied.stderr).toContain(direct.stderr.trim());

    const records = Records.open(db);
    const episode = records.getEpisode("raw-1")!;
    expect(episode).toMatchObject({ kind: "proxy", transport: "stdio", status: "closed", clientName: "raw-client", clientVersion: "3.1", score: null });
    const messages = records.listMessages("raw-1");
    expect(messages.filter((m) => m.direction === "in").map((m) => m.body)).toEqual(LINES);
    const outLines = proxied.stdout.toString("utf8").split("\n").filter((l) => l !== "");
    expect(messages.filter((m) => m.direction === "out").map((m) => m.body)).toEqual(outLines);
    const sum = messages.find((m) => m.direction === "out" && m.requestId === "three")!;
    expect(sum.type).toBe("response");
    expect(sum.latencyMs).toBeGreaterThanOrEqual(0);
    expect(messages.find((m) => m.method === "tools/call" && m.requestId === "2")!.type).toBe("request");
    records.close();
  });

  it("gives an SDK client the same results as a direct connection", async () => {
    const db = join(tmp.path, "sdk.db");
    const connect = async (command: string, args: string[]): Promise<Client> => {
      const client = new Client({ name: "sdk-client", version: "1.0.0" });
      await client.connect(new StdioClientTransport({ command, args, stderr: "pipe" }));
      return client;
    };
    const direct = await connect(process.execPath, [EVERYTHING, "stdio"]);
    const proxied = await connect(process.execPath, [...record(db, "--episode", "sdk-1"), "--", process.execPath, EVERYTHING, "stdio"]);
    const session = async (c: Client) => ({
      tools: await c.listTools(),
      echo: await c.callTool({ name: "echo", arguments: { message: "same bytes" } }),
      sum: await c.callTool({ name: "get-sum", arguments: { a: 1.5, b: -7 } }),
      prompts: await c.listPrompts(),
    });
    const [a, b] = [await session(direct), await session(proxied)];
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    await direct.close();
    await proxied.close();

    const records = Records.open(db);
    const messages = records.listMessages("sdk-1");
    const methods = messages.filter((m) => m.direction === "in").map((m) => m.method);
    expect(methods).toEqual(["initialize", "notifications/initialized", "tools/list", "tools/call", "tools/call", "prompts/list"]);
    // Every request has its response, and each response is recorded verbatim.
    const requests = messages.filter((m) => m.type === "request");
    for (const r of requests) expect(messages.some((m) => m.direction === "out" && m.requestId === r.requestId && m.type === "response")).toBe(true);
    const echo = messages.find((m) => m.direction === "out" && m.requestId === requests[2]!.requestId)!;
    expect(JSON.parse(echo.body).result).toEqual(a.echo);
    expect(records.getEpisode("sdk-1")!.status).toBe("closed");
    records.close();
  });

  it("exits with the server's exit code and reports a command that cannot start", async () => {
    const db = join(tmp.path, "codes.db");
    const failing = await inProcess(["record", "--db", db, "--", process.execPath, "-e", "console.error('server says boom'); process.exit(3)"]);
    expect(failing.code).toBe(3);
    expect(failing.stderr).toContain("server says boom");
    const missing = await inProcess(["record", "--db", db, "--", join(tmp.path, "no-such-server")]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/could not start/);
    expect((await inProcess(["record", "--db", db])).code).toBe(2);
    expect((await inProcess(["record", "--db", db, "--task", "t", "--", "x"])).code).toBe(2);
    const records = Records.open(db);
    expect(records.listEpisodes({ kind: "proxy" }).episodes.map((e) => e.status)).toEqual(["closed", "closed"]);
    records.close();
  });

  it("scores calls to the environment's tools with --env and --task", async () => {
    const db = join(tmp.path, "scored.db");
    const env = "example-films-director-birth";
    const task = "director-birth-year";
    const server = [process.execPath, BIN, "serve", "--dir", tmp.envDir, "--env", env, "--task", task, "--db", join(tmp.path, "inner.db")];
    const client = new Client({ name: "scoring-client", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: [...record(db, "--dir", tmp.envDir, "--env", env, "--task", task, "--episode", "scored-1"), "--", ...server], stderr: "pipe" }),
    );
    await client.callTool({ name: "get_film", arguments: { title: "Crimson Harbor" } });
    await client.callTool({ name: "get_film", arguments: { title: "No Such Film" } });
    await client.callTool({ name: "get_person", arguments: { name: "Elena Vastrova" } });
    await client.close();
    const records = Records.open(db);
    const episode = records.getEpisode("scored-1")!;
    expect(episode).toMatchObject({ kind: "proxy", envId: env, taskId: task, needed: 2, callCount: 3, solvedFtrl: 2 });
    expect(episode.score!.ftrl).toMatchObject({ calls: 3, solved: 2, needed: 2, solve_rate: 1, solve_precision: 2 / 3 });
    expect(records.listCalls("scored-1").map((c) => [c.tool, c.solvedFtrl])).toEqual([
      ["get_film", "Elena Vastrova"],
      ["get_film", null],
      ["get_person", "1961"],
    ]);
    records.close();
  });
});
