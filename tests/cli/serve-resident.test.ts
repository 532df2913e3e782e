// serve --resident, --memory-budget and --max-episodes: checked before anything starts, each mistake named on the first line.
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { MIB_PER_RESIDENT, residentForMiB } from "../../src/episode/index.ts";
import { memoryIo } from "../helpers/io.ts";

async function serve(args: string[]): Promise<{ code: number; err: string }> {
  const m = memoryIo({ cwd: tmpdir(), env: {} });
  const code = await main(["serve", ...args], m.io);
  return { code, err: m.err() };
}

describe("serve's resident budget", () => {
  it.each([
    [["--http", "127.0.0.1:0", "--resident", "0"], /--resident wants a positive integer, got "0"/],
    [["--http", "127.0.0.1:0", "--memory-budget", "1.5"], /--memory-budget wants a positive integer, got "1.5"/],
    [["--http", "127.0.0.1:0", "--resident", "8", "--memory-budget", "64"], /give --resident N or --memory-budget MiB, not both/],
    [["--resident", "8"], /--resident and --memory-budget apply to --http only/],
    [["--http", "127.0.0.1:0", "--max-episodes", "0"], /--max-episodes wants a positive integer, got "0"/],
    [["--http", "127.0.0.1:0", "--max-episodes-per-client", "1.5"], /--max-episodes-per-client wants a positive integer, got "1.5"/],
    [["--max-episodes", "8"], /--max-episodes, --max-episodes-per-client, .* apply to --http only/],
  ])("refuses %j", async (args, message) => {
    const r = await serve(args);
    expect(r.code).not.toBe(0);
    // The mistake, then the usage line.
    expect(r.err.split("\n")[0]).toMatch(message);
    expect(r.err.split("\n")[1]).toMatch(/^Usage: envforge serve /);
  });

  it("turns a budget in MiB into sandboxes by the measured cost of one, never fewer than one", () => {
    expect(residentForMiB(1024)).toBe(Math.floor(1024 / MIB_PER_RESIDENT));
    expect(residentForMiB(1)).toBe(Math.max(1, Math.floor(1 / MIB_PER_RESIDENT)));
    expect(residentForMiB(Number.MIN_VALUE)).toBe(1);
  });
});
