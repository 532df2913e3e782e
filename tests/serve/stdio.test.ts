// `envforge serve` over stdio as a real subprocess: the SDK client, raw protocol lines, EOF, and running from any folder.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { BIN, tempDir, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

/** Environment for the subprocess without a database override inherited from the caller. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "ENVFORGE_DB") env[k] = v;
  return { ...env, ...extra };
}

const readEpisode = (db: string, id: string) => {
  const records = Records.open(db);
  try {
    return records.getEpisodeDetail(id);
  } finally {
    records.close();
  }
};

describe("stdio", () => {
  it("plays a whole episode with the SDK client and records it", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "serve", "--dir", tmp.envDir, "--env", "test-counter", "--task", "code-alpha", "--episode", "stdio-1", "--db", tmp.db],
      cwd: tmp.path,
      env: childEnv(),
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-test", version: "3.1.4" });
    await client.connect(transport);
    expect(client.getInstructions()).toContain("vault named alpha");
    expect(JSON.parse(((await client.callTool({ name: "add", arguments: { n: 5 } })).content as { text: string }[])[0]!.text)).toEqual({ count: 5 });
    await client.callTool({ name: "lookup_code", arguments: { name: "alpha" } });
    const submitted = await client.callTool({ name: "submit_answer", arguments: { answer: "K-7731-QZ" } });
    expect(JSON.parse((submitted.content as { text: string }[])[0]!.text).score.ftrl).toMatchObject({ solved: 1, calls: 2, answer_correct: true });
    await client.close();

    const detail = readEpisode(tmp.db, "stdio-1")!;
    expect(detail.episode).toMatchObject({ transport: "stdio", status: "submitted", clientName: "stdio-test", clientVersion: "3.1.4", callCount: 2 });
    expect(detail.calls.map((c) => c.tool)).toEqual(["add", "lookup_code"]);
    expect(detail.messages.filter((m) => m.direction === "out" && m.type === "response")).toHaveLength(4);
  });

  it("writes nothing but JSON-RPC to stdout, answers malformed lines, and exits at stdin EOF with the episode closed", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--dir", tmp.envDir, "--env", "test-counter", "--task", "code-beta", "--episode", "stdio-raw", "--db", tmp.db], {
      cwd: tmp.path,
      env: childEnv(),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const lines = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-stdio", version: "0.0.1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      "this is not json",
      { jsonrpc: "2.0", id: 2, params: {} },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "add", arguments: { n: 7 } } },
      { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "add", arguments: "seven" } },
      { jsonrpc: "2.0", id: 5, method: "no/such/method" },
    ];
    child.stdin.write(lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
    // Every request above gets exactly one answer; wait for all five before closing stdin.
    while (stdout.split("\n").filter(Boolean).length < 6) await new Promise((r) => child.stdout.once("data", r));
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, stderr).toBe(0);

    const out = stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: unknown; result?: unknown; error?: { code: number } });
    for (const m of out) expect(m).toMatchObject({ jsonrpc: "2.0" });
    const byId = (id: unknown) => out.find((m) => m.id === id);
    expect(byId(1)?.result).toMatchObject({ serverInfo: { name: "envforge" } });
    expect(out.find((m) => m.id === null)?.error?.code).toBe(-32700);
    expect(byId(2)?.error?.code).toBe(-32600);
    expect(byId(3)?.result).toMatchObject({ content: [{ type: "text", text: '{"count": 7}' }] });
    expect(byId(4)?.error?.code).toBe(-32602);
    expect(byId(5)?.error?.code).toBe(-32601);
    expect(stderr).toMatch(/episode stdio-raw ended \(closed\)/);

    const detail = readEpisode(tmp.db, "stdio-raw")!;
    expect(detail.episode).toMatchObject({ status: "closed", clientName: "raw-stdio", callCount: 1 });
    expect(detail.messages.filter((m) => m.type === "invalid").map((m) => m.body)).toEqual(["this is not json", JSON.stringify(lines[3])]);
    expect(detail.messages.filter((m) => m.direction === "out")).toHaveLength(out.length);
  });

  it("runs from any folder with the package's environments, recording to ~/.envforge by default", async () => {
    const home = join(tmp.path, "home");
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "serve", "--env", "example-films-director-birth", "--task", "director-birth-year"],
      cwd: tmp.path,
      env: childEnv({ HOME: home, USERPROFILE: home }),
      stderr: "pipe",
    });
    const client = new Client({ name: "anywhere", version: "1" });
    await client.connect(transport);
    const film = await client.callTool({ name: "get_film", arguments: { title: "Crimson Harbor" } });
    expect((film.content as { text: string }[])[0]!.text).toContain("Elena Vastrova");
    await client.close();
    const db = join(home, ".envforge", "envforge.db");
    expect(existsSync(db)).toBe(true);
    const records = Records.open(db);
    expect(records.listEpisodes().episodes).toEqual([expect.objectContaining({ envId: "example-films-director-birth", status: "closed", callCount: 1 })]);
    records.close();
  });

  it("reports an unknown environment on stderr and exits non-zero without touching stdout", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--dir", tmp.envDir, "--env", "nope", "--db", tmp.db], { cwd: tmp.path, env: childEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).not.toBe(0);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/unknown environment "nope"/);
  });
});
