// A reader that closes the pipe early (`envforge ... | head`): the command stops quietly, with no EPIPE stack.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { memoryIo } from "../helpers/io.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/envforge.js");
const EXAMPLES = join(ROOT, "environments/examples");
const TEMP = mkdtempSync(join(tmpdir(), "envforge-pipe-"));
const DB = join(TEMP, "episodes.db");
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

beforeAll(async () => {
  const m = memoryIo({ cwd: TEMP });
  expect(await main(["run", "--policy", "oracle", "--dir", EXAMPLES, "--db", DB], m.io), m.err()).toBe(0);
});

let fifos = 0;

/**
 * Runs envforge with its stdout on a real pipe (a FIFO) read by another process. `readFirst`: the
 * reader takes one chunk and exits, as `head` does; otherwise it has exited before envforge starts.
 */
async function intoClosingReader(args: string[], readFirst: boolean): Promise<{ code: number | null; stderr: string; got: string }> {
  const fifo = join(TEMP, `fifo-${fifos++}`);
  execFileSync("mkfifo", [fifo]);
  const script = `const fs = require("node:fs");
const fd = fs.openSync(process.argv[1], "r");
if (${readFirst}) { const b = Buffer.alloc(65536); const n = fs.readSync(fd, b); process.stdout.write(b.subarray(0, Math.min(n, 200))); }`;
  const reader = spawn(process.execPath, ["-e", script, fifo], { stdio: ["ignore", "pipe", "inherit"] });
  let got = "";
  reader.stdout.on("data", (d: Buffer) => (got += d.toString()));
  const readerExit = once(reader, "exit");
  const out = openSync(fifo, "w"); // returns once the reader has opened its end
  if (!readFirst) await readerExit;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: TEMP, stdio: ["ignore", out, "pipe"] });
  closeSync(out);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  await readerExit;
  return { code, stderr, got };
}

describe("a closed stdout", () => {
  it.each([
    ["list --json", ["list", "--json"]],
    ["score --db", ["score", "--db", DB, "--dir", EXAMPLES]],
    ["score --db --json", ["score", "--db", DB, "--dir", EXAMPLES, "--json"]],
    ["score FILE", ["score", join(ROOT, "tests/score/vectors/reward-episodes.jsonl")]],
    ["--help", ["--help"]],
  ])("%s into a reader that has gone exits 0 and prints nothing", async (_name, args) => {
    expect(await intoClosingReader(args, false)).toEqual({ code: 0, stderr: "", got: "" });
  });

  it.each([
    ["list --json", ["list", "--json"], "["],
    ["score FILE", ["score", join(ROOT, "tests/score/vectors/reward-episodes.jsonl")], '{"id":"ep-0000"'],
  ])("%s into a reader that stops after its first chunk exits 0 and prints nothing", async (_name, args, start) => {
    const r = await intoClosingReader(args, true);
    expect(r.got.startsWith(start)).toBe(true);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  });
});
