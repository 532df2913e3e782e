// `envforge serve` over stdio as a person at a terminal meets it: one line on stderr saying what it serves, flag wording in its errors, and nothing but JSON-RPC on stdout.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { memoryIo } from "../helpers/io.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/envforge.js");
const EXAMPLES = join(ROOT, "environments/examples");
const TEMP = mkdtempSync(join(tmpdir(), "envforge-stdio-"));
const DB = join(TEMP, "episodes.db");
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

/** Starts a stdio server; resolves once its first stderr line is in, before any client has written a byte. */
async function started(args: string[]) {
  const child = spawn(process.execPath, [BIN, "serve", "--dir", EXAMPLES, "--db", DB, ...args], { cwd: TEMP });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const firstLine = new Promise<string>((resolvePromise, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("\n")) resolvePromise(err.slice(0, err.indexOf("\n")));
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
  return { child, line: await firstLine, out: () => out, err: () => err };
}

describe("stdio serve", () => {
  it("says which episode it serves and that it waits, on stderr; stdout carries only JSON-RPC", async () => {
    const s = await started(["--env", "example-films-director-birth", "--task", "director-birth-year", "--episode", "terminal-1"]);
    expect(s.line).toBe(
      `envforge serve: serving episode terminal-1 (environment example-films-director-birth, task director-birth-year) over MCP stdio, recording to ${DB}; waiting for a client on stdin (Ctrl-C or end of input stops)`,
    );
    expect(s.out()).toBe("");
    const requests = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get_film", arguments: { title: "Crimson Harbor" } } },
    ];
    s.child.stdin.write(requests.map((r) => JSON.stringify(r)).join("\n") + "\n");
    while (!s.out().includes('"id":3')) await once(s.child.stdout, "data");
    s.child.stdin.end();
    const [code] = (await once(s.child, "exit")) as [number | null];
    expect(code).toBe(0);
    const lines = s.out().split("\n").filter((l) => l !== "");
    expect(lines.map((l) => (JSON.parse(l) as { jsonrpc: string; id: number }).id)).toEqual([1, 2, 3]);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ jsonrpc: "2.0" });
    expect(s.err()).toContain("envforge serve: episode terminal-1 ended");
  });

  it("without --env says it serves the catalog", async () => {
    const s = await started([]);
    expect(s.line).toMatch(/^envforge serve: serving the catalog of 1 environment over MCP stdio, recording to .*; waiting for a client on stdin/);
    s.child.stdin.end();
    expect((await once(s.child, "exit"))[0]).toBe(0);
    expect(s.out()).toBe("");
  });
});

describe("stdio serve errors name the flags", () => {
  const cases: [string, string[], string][] = [
    ["an unknown --env", ["--env", "nope"], `envforge serve: unknown environment "nope" (--env): not among the 1 in ${EXAMPLES}; \`npx envforge list --dir ${EXAMPLES}\` shows their ids`],
    ["an unknown --task", ["--env", "example-films-director-birth", "--task", "nope"], 'envforge serve: environment "example-films-director-birth" has no task "nope" (--task); its tasks are: director-birth-year, director-birthplace'],
    ["a missing --task", ["--env", "example-films-director-birth"], 'envforge serve: environment "example-films-director-birth" has 2 tasks; choose one with --task ID: director-birth-year, director-birthplace'],
    ["--task without --env", ["--task", "director-birth-year"], "envforge serve: --task and --episode need --env ID: the environment of the episode"],
  ];
  it.each(cases)("%s", async (_name, args, line) => {
    const m = memoryIo({ cwd: TEMP });
    expect(await main(["serve", "--dir", EXAMPLES, "--db", DB, ...args], m.io)).toBe(2);
    expect(m.out()).toBe("");
    expect(m.err().split("\n")[0]).toBe(line);
    expect(m.err()).not.toMatch(/\?env=|task=ID/);
  });

  it("record --env uses the same words", async () => {
    const m = memoryIo({ cwd: TEMP });
    expect(await main(["record", "--dir", EXAMPLES, "--db", DB, "--env", "nope", "--", process.execPath, "-e", ""], m.io)).toBe(2);
    expect(m.err().split("\n")[0]).toBe(`envforge record: unknown environment "nope" (--env): not among the 1 in ${EXAMPLES}; \`npx envforge list --dir ${EXAMPLES}\` shows their ids`);
  });
});
