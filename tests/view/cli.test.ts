// `envforge view --db FILE` as a subprocess: it serves the pages, and pushes episodes another process records into the same file.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { request, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { Recorder } from "../../src/store/index.ts";
import { oraclePlan, recordEpisode, ROOT, tempDir } from "./fixtures.ts";

const BIN = join(ROOT, "bin/envforge.js");

let tmp: ReturnType<typeof tempDir>;
let child: ChildProcessWithoutNullStreams;
let url: string;
let recorder: Recorder;

beforeAll(async () => {
  tmp = tempDir();
  recorder = Recorder.open(join(tmp.dir, "shared.db"));
  recordEpisode(recorder, oraclePlan("before-1"));
  child = spawn(process.execPath, [BIN, "view", "--db", join(tmp.dir, "shared.db"), "--port", "0", "--poll-ms", "50"], { cwd: tmp.dir });
  url = await printed(child.stdout, /envforge view: (http:\/\/\S+)/);
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  recorder?.close();
  tmp?.cleanup();
});

/**
 * The first match of `pattern` in what a child prints. Leaving a `for await` loop over its
 * stdout would destroy the pipe, and the child's next line would then fail with EPIPE: keep
 * reading (and discarding) instead.
 */
function printed(stdout: NodeJS.ReadableStream, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let found = false;
    stdout.setEncoding("utf8");
    stdout.on("data", (chunk: string) => {
      out += chunk;
      const m = found ? null : pattern.exec(out);
      if (!m) return;
      found = true;
      resolve(m[1]!);
    });
    stdout.once("end", () => found || reject(new Error(`the child ended without printing ${pattern}: ${out}`)));
  });
}

const get = (path: string): Promise<IncomingMessage> => new Promise((resolve, reject) => request(`${url}${path}`, resolve).on("error", reject).end());

async function text(res: IncomingMessage): Promise<string> {
  let body = "";
  res.setEncoding("utf8");
  for await (const chunk of res) body += chunk as string;
  return body;
}

describe("envforge view", () => {
  it("serves the list of a database another process wrote", async () => {
    const res = await get("");
    expect(res.statusCode).toBe(200);
    const body = await text(res);
    expect(body).toContain('data-id="before-1"');
    // The shipped environments load by default, so the row knows its scenario.
    expect(body).toMatch(/data-id="before-1"[\s\S]*?multi-hop/);
  });

  it("pushes an episode that another process records while the page is open", async () => {
    const events = await get("api/events");
    expect(events.headers["content-type"]).toContain("text/event-stream");
    events.setEncoding("utf8");
    let seen = "";
    let written = false;
    const arrived = new Promise<void>((resolve) =>
      events.on("data", (chunk: string) => {
        seen += chunk;
        if (seen.includes('"id":"after-1"') && seen.includes('"status":"submitted"')) resolve();
        if (seen.includes("event: hello") && !written) {
          written = true;
          recordEpisode(recorder, oraclePlan("after-1"));
        }
      }),
    );
    await arrived;
    events.destroy();
    const list = await text(await get("api/episodes"));
    expect(JSON.parse(list).rows.map((r: { id: string }) => r.id)).toEqual(["after-1", "before-1"]);
  });

  it("stops on SIGTERM with exit code 0", async () => {
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it("is mounted at / of envforge serve --http on the control plane's listener, apart from the MCP endpoint", async () => {
    const serve = spawn(process.execPath, [BIN, "serve", "--http", "127.0.0.1:0", "--dir", join(ROOT, "environments/examples"), "--db", join(tmp.dir, "serve.db")], { cwd: tmp.dir });
    try {
      const viewer = await printed(serve.stdout, /viewer: +(http:\/\/\S+)/);
      const page = await new Promise<IncomingMessage>((resolve, reject) => request(viewer, resolve).on("error", reject).end());
      expect(page.statusCode).toBe(200);
      expect(await text(page)).toContain("<h1>Episodes</h1>");
      const mcp = await new Promise<IncomingMessage>((resolve, reject) => request(`${viewer}mcp`, resolve).on("error", reject).end());
      expect(mcp.statusCode).toBe(404);
      mcp.resume();
    } finally {
      serve.kill("SIGTERM");
      await once(serve, "exit");
    }
  });

  it("refuses a database that does not exist, with a usage error", async () => {
    const out: string[] = [];
    const sink = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream;
    const code = await main(["view", "--db", join(tmp.dir, "missing.db")], { stdout: sink, stderr: sink, cwd: tmp.dir, stdin: process.stdin, env: {} } as never);
    expect(code).toBe(2);
    expect(out.join("")).toContain("no database at");
  });
});
