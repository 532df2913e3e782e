// Environments and requests a new user might throw at the server: odd tool names, lone surrogates, unknown ids. Clear errors, nothing leaked, the rest served.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { Records } from "../../src/store/index.ts";
import type { EnvironmentInput } from "../../src/schema/index.ts";
import { memoryIo } from "../helpers/io.ts";
import { COUNTER_INPUT, spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
let server: Awaited<ReturnType<typeof spawnHttpServer>>;
const clients: Client[] = [];

/** The counter environment under another id, with its `add` tool renamed and `spin` dropped (so it passes the gate). */
function renamed(id: string, name: string, source: string): EnvironmentInput {
  const env = structuredClone(COUNTER_INPUT) as EnvironmentInput & { implementation: { tools: Record<string, string> } };
  env.id = id;
  env.tools = env.tools.filter((t) => t.name !== "spin").map((t) => (t.name === "add" ? { ...t, name } : t));
  const { add: _add, spin: _spin, ...rest } = env.implementation.tools;
  env.implementation.tools = { ...rest, [name]: source };
  return env;
}

beforeAll(async () => {
  tmp = tempDir("envforge-hostile-envs-");
  const write = (file: string, env: EnvironmentInput) => writeFileSync(join(tmp.envDir, file), JSON.stringify(env));
  write("submit.json", renamed("has-submit", "submit_answer", "function submit_answer(args, state) { return { count: state.count }; }"));
  write("ctor.json", renamed("odd-constructor", "constructor", "function ctor(args, state) { state.count += args.n; return { count: state.count }; }"));
  write("tostring.json", renamed("odd-tostring", "toString", "function toString(args, state) { state.count += args.n; return { count: state.count }; }"));
  write("surrogate.json", renamed("lone-surrogate", "add", "function add(args, state) { return 'half a pair: \\uD800 and \\uDC00 alone, a whole one: \\uD83D\\uDE00'; }"));
  server = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  server?.child.kill("SIGTERM");
  if (server) await new Promise((r) => server.child.once("exit", r));
  tmp?.cleanup();
});

async function connect(query: string): Promise<Client> {
  const client = new Client({ name: "hostile-envs-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?${query}`)));
  clients.push(client);
  return client;
}

const initialize = async (query: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(`${server.url}?${query}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  return { status: res.status, body: await res.text() };
};

it("refuses an environment with its own submit_answer tool by name and reason, and serves the others", async () => {
  const refused = await initialize("env=has-submit&task=code-alpha");
  expect(refused.status).toBe(409);
  expect(JSON.parse(refused.body).error.message).toBe(
    'environment "has-submit" cannot be served with the submit tool: it has its own tool named submit_answer; rename that tool, or serve it with --no-submit-tool',
  );
  expect(server.stderr()).toContain('envforge serve: environment "has-submit" cannot be served with the submit tool');
  const client = await connect("env=test-counter&task=code-alpha");
  expect((await client.callTool({ name: "add", arguments: { n: 2 } })).content).toEqual([{ type: "text", text: '{"count": 2}' }]);
});

it("serves and validates tools named constructor and toString", async () => {
  for (const [env, tool] of [["odd-constructor", "constructor"], ["odd-tostring", "toString"]] as const) {
    const client = await connect(`env=${env}&task=code-alpha`);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain(tool);
    expect((await client.callTool({ name: tool, arguments: { n: 3 } })).content).toEqual([{ type: "text", text: '{"count": 3}' }]);
  }
  const m = memoryIo({ cwd: tmp.path });
  const code = await main(["validate", join(tmp.envDir, "ctor.json"), join(tmp.envDir, "tostring.json")], m.io);
  expect(m.err()).not.toMatch(/not iterable/);
  expect(m.out() + m.err()).toMatch(/2 environments valid/);
  expect(code).toBe(0);
});

it("stores the lone surrogates the agent saw, not U+FFFD", async () => {
  const client = await connect("env=lone-surrogate&task=code-alpha&episode=surrogates");
  const seen = ((await client.callTool({ name: "add", arguments: { n: 1 } })).content as { text: string }[])[0]!.text;
  expect(seen).toBe("half a pair: \uD800 and \uDC00 alone, a whole one: \uD83D\uDE00");
  await client.callTool({ name: "submit_answer", arguments: { answer: "\uDBFF?" } });
  const records = Records.open(tmp.db);
  const detail = records.getEpisodeDetail("surrogates")!;
  records.close();
  expect(detail.calls[0]!.output).toBe(seen);
  expect(detail.episode.finalAnswer).toBe("\uDBFF?");
  const response = detail.messages.find((m) => m.direction === "out" && m.body.includes("half a pair"))!;
  expect(JSON.parse(response.body).result.content[0].text).toBe(seen);
});

it("names no server folder when a client asks for an environment that is not there", async () => {
  const refused = await initialize("env=nope&task=x");
  expect(refused.status).toBe(404);
  expect(JSON.parse(refused.body).error.message).toBe('unknown environment "nope": this server has 6 environments; connect without ?env= for the catalog');
  expect(refused.body).not.toContain(tmp.path);
});
