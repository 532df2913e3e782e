// The listener's accept queue: thousands of rollout workers connecting at once wait in it instead of being reset.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

const tmp: TempDir = tempDir("envforge-backlog-");
afterAll(() => tmp.cleanup());

it("listens with the deepest accept queue the kernel allows, not Node's 511", async () => {
  const server = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
  try {
    const port = new URL(server.url).port;
    // For a listening socket, ss shows the queue's capacity as Send-Q (Linux caps it at net.core.somaxconn).
    const line = execFileSync("ss", ["-Hltn", `sport = :${port}`], { encoding: "utf8" }).trim();
    const capacity = Number(line.split(/\s+/)[2]);
    const somaxconn = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"));
    expect(capacity).toBe(Math.min(somaxconn, 65_535));
  } finally {
    server.child.kill("SIGKILL");
  }
});
