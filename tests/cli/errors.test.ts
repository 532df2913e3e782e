// Ordinary mistakes give one line on stderr, what failed and what to do, and exit 1: no stack trace, and no work done first.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { memoryIo } from "../helpers/io.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/envforge.js");
const EXAMPLES = join(ROOT, "environments/examples");
const TEMP = mkdtempSync(join(tmpdir(), "envforge-errors-"));
const A_FILE = join(TEMP, "a-file");
let taken: Server;
let port: number;

beforeAll(async () => {
  writeFileSync(A_FILE, "not a folder\n");
  writeFileSync(join(TEMP, "text.db"), "not a database\n");
  taken = createServer().listen(0, "127.0.0.1");
  await once(taken, "listening");
  port = (taken.address() as { port: number }).port;
});

afterAll(async () => {
  taken.close();
  rmSync(TEMP, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const m = memoryIo({ cwd: TEMP });
  const code = await main(argv, m.io);
  return { code, out: m.out(), err: m.err() };
}

/** Exactly one line, naming the command; no stack frame. */
function oneLine(err: string): string {
  const lines = err.split("\n").filter((l) => l !== "");
  expect(lines, err).toHaveLength(1);
  expect(err).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe("a taken port", () => {
  it("serve --http, as a real process: one line and exit 1", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--http", `127.0.0.1:${port}`, "--dir", EXAMPLES, "--db", join(TEMP, "serve.db")], { cwd: TEMP });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(oneLine(err)).toBe(`envforge serve: 127.0.0.1:${port} is already in use: stop the program using it, or choose another port (0 picks a free one)`);
  });

  it("view --port", async () => {
    const r = await run(["view", "--port", String(port), "--dir", EXAMPLES, "--db", join(TEMP, "serve.db")]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toMatch(new RegExp(`^envforge view: 127\\.0\\.0\\.1:${port} is already in use: .*choose another port`));
  });
});

describe("build --out under a file", () => {
  it("fails before building anything", async () => {
    const r = await run(["build", "--count", "50", "--progress", "--out", "a-file/envs"]);
    expect(r).toEqual({ code: 1, out: "", err: `envforge build: --out a-file/envs: ${A_FILE} is a file, so no folder can be made in it; give a folder path\n` });
  });

  it("fails when --out is the file itself", async () => {
    const r = await run(["build", "--count", "1", "--out", "a-file"]);
    expect(r).toEqual({ code: 1, out: "", err: "envforge build: --out a-file: a-file is a file; give a folder path\n" });
  });

  it("the LLM build checks it too, before reading any source", async () => {
    const r = await run(["build", "--generator", "llm", "--model", "M", "--topic", "hotels", "--count", "1", "--dry-run", "--out", "a-file/deeper/envs"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(oneLine(r.err)).toBe(`envforge build: --out a-file/deeper/envs: ${A_FILE} is a file, so no folder can be made in it; give a folder path`);
  });
});

describe("--db that cannot be a database", () => {
  const underFile = join(A_FILE, "episodes.db");
  it.each([
    ["score --db", ["score", "--db", underFile, "--dir", EXAMPLES]],
    ["export --db", ["export", "--format", "ftrl", "--out", join(TEMP, "rows.jsonl"), "--db", underFile, "--dir", EXAMPLES]],
    ["run --db", ["run", "--policy", "oracle", "--dir", EXAMPLES, "--db", underFile]],
    ["serve --http --db", ["serve", "--http", "127.0.0.1:0", "--dir", EXAMPLES, "--db", underFile]],
    ["record --db", ["record", "--db", underFile, "--", process.execPath, "-e", ""]],
  ])("%s under a file: one line naming the file in the way", async (_name, argv) => {
    const r = await run(argv);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toMatch(new RegExp(`^envforge \\w+: cannot open the database ${underFile}: ${A_FILE} is a file, not a folder; give --db another file$`));
    expect(existsSync(join(TEMP, "rows.jsonl"))).toBe(false);
  });

  it("a file that is not SQLite", async () => {
    const r = await run(["score", "--db", "text.db", "--dir", EXAMPLES]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toBe(`envforge score: cannot open the database ${join(TEMP, "text.db")}: the file is not an SQLite database; give --db another file`);
  });

  it("a database that does not exist, for a command that only reads", async () => {
    const r = await run(["score", "--db", "missing.db", "--dir", EXAMPLES]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toBe(`envforge score: cannot open the database ${join(TEMP, "missing.db")}: no such file; give --db another file`);
    expect(existsSync(join(TEMP, "missing.db"))).toBe(false);
  });
});

describe("a bug", () => {
  it("keeps its stack, to be reported", async () => {
    const { errorLine } = await import("../../src/cli/errors.ts");
    const line = errorLine(new TypeError("x is not a function"));
    expect(line).toMatch(/^TypeError: x is not a function\n\s+at /);
    expect(errorLine(new Error("a message meant for the user"))).toBe("a message meant for the user");
  });
});
