// kill -9 in the middle of a run, then a restart on the same database: nothing a client saw is missing.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Records } from "../../src/store/index.ts";
import { spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir("envforge-crash-");
});
afterAll(() => tmp.cleanup());

interface Seen {
  episode: string;
  /** Each tools/call result the client received, in order. */
  results: unknown[];
}

it("keeps every response a client received, and marks cut-off episodes interrupted on restart", async () => {
  const first = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
  const seen: Seen[] = [];
  const clients = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const client = new Client({ name: "crash-test", version: "1" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${first.url}?env=test-counter&task=code-alpha&episode=crash-${i}`)));
      seen.push({ episode: `crash-${i}`, results: [] });
      return client;
    }),
  );
  let received = 0;
  let killed = false;
  const loops = clients.map(async (client, i) => {
    const mine = seen.find((s) => s.episode === `crash-${i}`)!;
    // Bounded: the server is killed long before a loop could finish.
    for (let k = 0; k < 10_000 && !killed; k++) {
      try {
        const result = await client.callTool({ name: "add", arguments: { n: 1 } });
        mine.results.push(result);
        received++;
      } catch {
        return;
      }
    }
  });
  while (received < 60) await new Promise((r) => setTimeout(r, 5));
  first.child.kill("SIGKILL");
  killed = true;
  await Promise.all(loops);
  await new Promise((r) => (first.child.exitCode !== null || first.child.signalCode !== null ? r(null) : first.child.once("exit", r)));
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));

  // Restarting on the same database marks the dead server's episodes interrupted.
  const second = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
  const marked = /marked (\d+) episodes/.exec(second.stderr());
  second.child.kill("SIGTERM");
  await new Promise((r) => second.child.once("exit", r));
  expect(marked?.[1]).toBe("6");

  const records = Records.open(tmp.db);
  let checked = 0;
  for (const { episode, results } of seen) {
    const detail = records.getEpisodeDetail(episode)!;
    expect(detail.episode.status).toBe("interrupted");
    const responses = detail.messages
      .filter((m) => m.direction === "out" && m.type === "response" && JSON.parse(m.body).result?.content)
      .map((m) => JSON.parse(m.body).result as unknown);
    // Everything the client received was recorded first, in the same order; the db may hold one more
    // response that was written but never delivered.
    expect(responses.slice(0, results.length)).toEqual(results);
    expect(responses.length - results.length).toBeLessThanOrEqual(1);
    expect(detail.calls.slice(0, results.length).map((c) => c.output)).toEqual(results.map((r) => (r as { content: { text: string }[] }).content[0]!.text));
    checked += results.length;
  }
  records.close();
  expect(checked).toBe(received);
});
