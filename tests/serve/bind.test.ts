// A bind beyond loopback: refused without a token, allowed with one (which is then required) or with --insecure (which warns).
import { afterAll, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { isLoopback } from "../../src/cli/exposure.ts";
import { memoryIo } from "../helpers/io.ts";
import { spawnServe, tempDir, type TempDir } from "./fixtures.ts";

const tmp: TempDir = tempDir("envforge-bind-");
afterAll(() => tmp.cleanup());

it("knows loopback addresses", () => {
  expect(["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"].filter(isLoopback)).toHaveLength(6);
  expect(["0.0.0.0", "::", "192.168.1.4", "10.0.0.1", "example.com", "128.0.0.1", "::ffff:127.0.0.1x"].filter(isLoopback)).toEqual([]);
});

it("refuses --http 0.0.0.0 without a token, naming the ways out", async () => {
  for (const listen of ["0.0.0.0:0", "[::]:0"]) {
    const m = memoryIo({ cwd: tmp.path });
    expect(await main(["serve", "--http", listen, "--dir", tmp.envDir, "--db", tmp.db], m.io)).toBe(2);
    expect(m.err()).toMatch(/refusing to listen on (0\.0\.0\.0|::) without a token: .*Add --token T \(or set \$ENVFORGE_TOKEN\), or --insecure/);
    expect(m.out()).toBe("");
  }
});

/** Starts serve with `args`; `stop` sends SIGTERM and waits for the exit. */
async function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const server = await spawnServe(["--dir", tmp.envDir, "--db", tmp.db, ...args], { env: { ENVFORGE_TOKEN: "", ...env } });
  return { ...server, stop: () => new Promise<void>((r) => (server.child.once("exit", () => r()), server.child.kill("SIGTERM"))) };
}

it("listens on 0.0.0.0 with a token, and then asks every request for it", async () => {
  const server = await start(["--http", "0.0.0.0:0"], { ENVFORGE_TOKEN: "s3cret" });
  try {
    const res = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
  } finally {
    await server.stop();
  }
});

it("listens on 0.0.0.0 without a token only with --insecure, and says so", async () => {
  const server = await start(["--http", "0.0.0.0:0", "--insecure"]);
  await server.stop();
  expect(server.stderr()).toContain("listening on 0.0.0.0 without a token (--insecure)");
});
