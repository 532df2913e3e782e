// Streamable HTTP on 127.0.0.1 port 0, driven by the SDK client and by raw requests: sessions, limits, safety checks, routes.
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, HttpError, startHttpServer, type HttpServer, type HttpServerOptions } from "../../src/serve/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { COUNTER, EXAMPLE, tempDir, type TempDir } from "./fixtures.ts";

const FILMS = Environment.parse(JSON.parse(readFileSync(EXAMPLE, "utf8")));
let tmp: TempDir;
let recorder: Recorder;
let records: Records;
let registry: EnvironmentRegistry;
const servers: HttpServer[] = [];
const clients: Client[] = [];

beforeAll(() => {
  tmp = tempDir();
  recorder = Recorder.open(tmp.db);
  records = new Records(recorder.db);
  registry = new EnvironmentRegistry([{ env: COUNTER }, { env: FILMS }], { timeoutMs: 300 });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  recorder.close();
  tmp.cleanup();
});

async function serve(options: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
  const server = await startHttpServer({ registry, recorder, port: 0, ...options });
  servers.push(server);
  return server;
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "http-test", version: "2.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

const episodeUrl = (server: HttpServer, query: string) => `${server.url}?${query}`;
const text = (result: unknown): string => ((result as { content: { text: string }[] }).content[0]!.text);

/** A raw HTTP request, so headers fetch would not let us forge (Host) can be sent. */
function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "POST", headers: init.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } } });

/** Polls until `check` holds; fails after `ms` so a broken reaper cannot hang the suite. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("catalog and episodes", () => {
  it("serves a catalog without ?env= that lists environments, tasks and how to connect, without answers", async () => {
    const server = await serve();
    const client = await connect(server.url);
    expect(client.getInstructions()).toMatch(/catalog of 2 tool-use environments/);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["list_environments", "describe_environment"]);
    const listed = JSON.parse(text(await client.callTool({ name: "list_environments", arguments: { domain: "testing" } }))) as { total: number; environments: { id: string; tasks: { id: string; connect: string }[] }[] };
    expect(listed.total).toBe(1);
    expect(listed.environments[0]!.tasks[0]).toMatchObject({ id: "code-alpha", connect: `${server.url}?env=test-counter&task=code-alpha` });
    const described = await client.callTool({ name: "describe_environment", arguments: { env: "test-counter" } });
    expect(JSON.parse(text(described)).tools).toHaveLength(4);
    expect((await client.callTool({ name: "describe_environment", arguments: { env: "nope" } })).isError).toBe(true);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(["envforge://catalog", "envforge://environments/test-counter", "envforge://environments/example-films-director-birth"]);
    const surfaces = JSON.stringify([listed, described, ...(await Promise.all(resources.map((r) => client.readResource({ uri: r.uri }))))]);
    for (const secret of ["K-7731-QZ", "M-0042-RT", "Elena Vastrova", "1961", "state.count += args.n"]) expect(surfaces).not.toContain(secret);
  });

  it("starts an episode from the URL with a client-chosen id, recorded with its transport and client", async () => {
    const server = await serve();
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-beta&episode=http-ep-1"));
    expect(client.getInstructions()).toContain("vault named beta");
    expect(text(await client.callTool({ name: "add", arguments: { n: 4 } }))).toBe('{"count": 4}');
    const row = records.getEpisode("http-ep-1")!;
    expect(row).toMatchObject({ envId: "test-counter", taskId: "code-beta", transport: "http", clientName: "http-test", clientVersion: "2.0.0", status: "running", callCount: 1 });
    expect(row.sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const viaHeader = await connect(episodeUrl(server, "env=test-counter&task=code-alpha"), { "X-Episode-Id": "http-ep-2" });
    await viaHeader.listTools();
    expect(records.getEpisode("http-ep-2")?.taskId).toBe("code-alpha");
    await expect(connect(episodeUrl(server, "env=test-counter&task=code-alpha&episode=http-ep-1"))).rejects.toThrow(/already in the database/);
  });

  it("explains unknown environments and tasks", async () => {
    const server = await serve();
    await expect(connect(episodeUrl(server, "env=nope&task=x"))).rejects.toThrow(/unknown environment \\?"nope\\?": this server has 2 environments/);
    await expect(connect(episodeUrl(server, "env=test-counter&task=nope"))).rejects.toThrow(/has no task \\?"nope\\?"; its tasks are: code-alpha, code-beta/);
    await expect(connect(episodeUrl(server, "env=test-counter"))).rejects.toThrow(/has 2 tasks; choose one with task=ID/);
    const res = await raw(episodeUrl(server, "env=nope"), { headers: JSON_HEADERS, body: INIT });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ jsonrpc: "2.0", id: 1, error: { code: -32602 } });
  });

  it("ends an episode as closed at HTTP DELETE", async () => {
    const server = await serve();
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-alpha&episode=http-delete"));
    await client.callTool({ name: "add", arguments: { n: 1 } });
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await until(() => records.getEpisode("http-delete")?.status === "closed");
    expect(server.sessionCount()).toBe(0);
  });

  it("keeps 50 parallel sessions of one stateful environment apart", async () => {
    const server = await serve();
    const sessions = await Promise.all(Array.from({ length: 50 }, (_, i) => connect(episodeUrl(server, `env=test-counter&task=code-alpha&episode=iso-${i}`))));
    const finals = await Promise.all(
      sessions.map(async (client, i) => {
        let last = "";
        for (let k = 0; k < 5; k++) last = text(await client.callTool({ name: "add", arguments: { n: i + 1 } }));
        return JSON.parse(last) as { count: number };
      }),
    );
    expect(finals.map((f) => f.count)).toEqual(Array.from({ length: 50 }, (_, i) => 5 * (i + 1)));
    for (let i = 0; i < 50; i++) {
      const calls = records.listCalls(`iso-${i}`);
      expect(calls.map((c) => c.output)).toEqual([1, 2, 3, 4, 5].map((k) => `{"count": ${k * (i + 1)}}`));
    }
  });
});

describe("malformed input and limits", () => {
  it("answers malformed JSON and invalid JSON-RPC with JSON-RPC errors, records them, and keeps serving", async () => {
    const server = await serve();
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-alpha&episode=http-malformed"));
    const sid = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const headers = { ...JSON_HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" };
    const parseError = await raw(server.url, { headers, body: '{"jsonrpc": "2.0", "id": 7, "method": ' });
    expect(parseError.status).toBe(400);
    expect(JSON.parse(parseError.body)).toMatchObject({ id: null, error: { code: -32700 } });
    const invalid = await raw(server.url, { headers, body: JSON.stringify({ jsonrpc: "2.0", id: 8, params: {} }) });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body)).toMatchObject({ id: 8, error: { code: -32600 } });
    const badArgs = await client.callTool({ name: "add", arguments: { m: 1 } });
    expect(badArgs.isError).toBe(true);
    expect(text(badArgs)).toMatch(/an error occured when call add: /);
    expect(text(await client.callTool({ name: "add", arguments: { n: 1 } }))).toBe('{"count": 1}');
    const invalidRows = records.listMessages("http-malformed").filter((m) => m.type === "invalid");
    expect(invalidRows.map((m) => m.body)).toEqual(['{"jsonrpc": "2.0", "id": 7, "method": ', '{"jsonrpc":"2.0","id":8,"params":{}}']);
    expect(records.listMessages("http-malformed").filter((m) => m.direction === "out" && m.type === "error").map((m) => JSON.parse(m.body).error.code)).toEqual([-32700, -32600]);
    const noSession = await raw(server.url, { headers: JSON_HEADERS, body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }) });
    expect(noSession.status).toBe(400);
    expect(JSON.parse(noSession.body).error.message).toMatch(/Mcp-Session-Id header is required/);
    const gone = await raw(server.url, { headers: { ...headers, "mcp-session-id": "not-a-session" }, body: JSON.stringify({ jsonrpc: "2.0", id: 4, method: "tools/list" }) });
    expect(gone.status).toBe(404);
  });

  it("refuses an oversized body with 413 and keeps serving", async () => {
    const server = await serve({ maxBodyBytes: 64 * 1024 });
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-alpha"));
    await expect(client.callTool({ name: "fail", arguments: { message: "x".repeat(100 * 1024) } })).rejects.toThrow(/413|Payload Too Large/);
    const chunked = await raw(server.url, { headers: { ...JSON_HEADERS, "transfer-encoding": "chunked" }, body: Buffer.alloc(200 * 1024, 32) });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.message).toMatch(/at most 65536 bytes/);
    expect(text(await client.callTool({ name: "add", arguments: { n: 2 } }))).toBe('{"count": 2}');
  });

  it("refuses forged Host and foreign Origin headers, and accepts names added with allowedHosts", async () => {
    const server = await serve({ allowedHosts: ["envforge.test"] });
    const forged = await raw(server.url, { headers: { ...JSON_HEADERS, host: `evil.example:${server.port}` }, body: INIT });
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.body).error.message).toMatch(/Host header "evil.example:\d+" is not allowed/);
    const foreign = await raw(server.url, { headers: { ...JSON_HEADERS, origin: "http://evil.example" }, body: INIT });
    expect(foreign.status).toBe(403);
    expect((await raw(server.url, { headers: { ...JSON_HEADERS, host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` }, body: INIT })).status).toBe(200);
    expect((await raw(server.url, { headers: { ...JSON_HEADERS, host: "envforge.test:9" }, body: INIT })).status).toBe(200);
  });

  it("requires the bearer token when one is set", async () => {
    const server = await serve({ token: "s3cret" });
    const missing = await raw(server.url, { headers: JSON_HEADERS, body: INIT });
    expect(missing.status).toBe(401);
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="envforge"');
    const wrong = await raw(server.url, { headers: { ...JSON_HEADERS, authorization: "Bearer nope" }, body: INIT });
    expect(wrong.status).toBe(401);
    expect(wrong.headers["www-authenticate"]).toMatch(/error="invalid_token"/);
    await expect(connect(server.url)).rejects.toThrow(/401|Unauthorized/);
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-alpha"), { Authorization: "Bearer s3cret" });
    expect(text(await client.callTool({ name: "add", arguments: { n: 1 } }))).toBe('{"count": 1}');
  });

  it("answers 503 past the open-session limit, until a session ends", async () => {
    const server = await serve({ maxSessions: 2 });
    const a = await connect(server.url);
    await connect(server.url);
    await expect(connect(server.url)).rejects.toThrow(/2 sessions are open, the most this server allows/);
    await (a.transport as StreamableHTTPClientTransport).terminateSession();
    await until(() => server.sessionCount() === 1);
    await connect(server.url);
    expect(server.sessionCount()).toBe(2);
  });

  it("reaps idle sessions, ending their episodes as idle_timeout", async () => {
    const server = await serve({ idleTimeoutMs: 100 });
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-alpha&episode=http-idle"));
    await client.callTool({ name: "lookup_code", arguments: { name: "alpha" } });
    await until(() => records.getEpisode("http-idle")?.status === "idle_timeout");
    expect(records.getEpisode("http-idle")?.score?.ftrl).toMatchObject({ solved: 1, calls: 1, answer_correct: null });
    expect(server.sessionCount()).toBe(0);
    await expect(client.callTool({ name: "add", arguments: { n: 1 } })).rejects.toThrow(/404|Session not found/);
  });

  it("ends open episodes as closed when the server closes", async () => {
    const server = await serve();
    const client = await connect(episodeUrl(server, "env=test-counter&task=code-alpha&episode=http-shutdown"));
    await client.listTools();
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    expect(records.getEpisode("http-shutdown")?.status).toBe("closed");
  });
});

describe("extra routes", () => {
  it("serves added routes behind the same Host and token checks, with body limits and JSON errors", async () => {
    const server = await serve({
      token: "t0k",
      maxBodyBytes: 1024,
      routes: [
        { method: "GET", path: "/v1/episodes/:id", handler: (ctx) => ctx.sendJson(200, { id: ctx.params.id, episode: ctx.records.getEpisode(ctx.params.id!) }) },
        { method: "POST", path: "/v1/echo", handler: async (ctx) => ctx.sendJson(200, await ctx.readJson()) },
        { method: "GET", path: "/view/*", public: true, handler: (ctx) => { throw new HttpError(418, `teapot at ${ctx.url.pathname}`); } },
      ],
    });
    const auth = { authorization: "Bearer t0k" };
    const got = await raw(`${server.origin}/v1/episodes/http-ep-1`, { method: "GET", headers: auth });
    expect(JSON.parse(got.body)).toMatchObject({ id: "http-ep-1", episode: { envId: "test-counter", taskId: "code-beta" } });
    expect((await raw(`${server.origin}/v1/episodes/http-ep-1`, { method: "GET" })).status).toBe(401);
    expect(JSON.parse((await raw(`${server.origin}/v1/echo`, { headers: auth, body: '{"a":[1]}' })).body)).toEqual({ a: [1] });
    expect((await raw(`${server.origin}/v1/echo`, { headers: auth, body: "{" })).status).toBe(400);
    expect((await raw(`${server.origin}/v1/echo`, { headers: auth, body: "x".repeat(2048) })).status).toBe(413);
    const teapot = await raw(`${server.origin}/view/a/b`, { method: "GET" });
    expect([teapot.status, JSON.parse(teapot.body)]).toEqual([418, { error: "teapot at /view/a/b" }]);
    expect((await raw(`${server.origin}/view/a`, { method: "GET", headers: { host: "evil.example" } })).status).toBe(403);
    expect((await raw(`${server.origin}/nothing`, { method: "GET", headers: auth })).status).toBe(404);
  });
});
