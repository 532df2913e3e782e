// Connection timeouts on raw sockets: slow or lying clients (a body shorter than its Content-Length, headers that never end) get a 408 and the connection closes; idle keep-alive connections stay open longer than the pools that reuse them.
import { connect } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Recorder } from "../../src/store/index.ts";
import { DEFAULTS } from "../../src/serve/http.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { COUNTER, tempDir, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
let recorder: Recorder;
let server: HttpServer;
beforeAll(async () => {
  tmp = tempDir("envforge-timeouts-");
  recorder = Recorder.open(tmp.db);
  server = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }]), recorder, port: 0, headersTimeoutMs: 200, requestTimeoutMs: 400 });
});
afterAll(async () => {
  await server.close();
  recorder.close();
  tmp.cleanup();
});

/** Writes `text` and resolves with everything the server sends until it closes the connection. */
function exchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1", () => socket.write(text));
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (received += d));
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

it("answers a body shorter than its Content-Length with 408 and closes the connection", async () => {
  const body = '{"jsonrpc"';
  const received = await exchange(
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n${body}`,
  );
  expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
});

it("answers headers that never end with 408 and closes the connection", async () => {
  const received = await exchange(`GET /v1/episodes/nobody HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Slow: `);
  expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
});

it("keeps serving complete requests", async () => {
  const res = await fetch(`${server.origin}/v1/episodes/nobody`);
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: expect.stringContaining('no episode "nobody"') });
});

it("keeps an idle keep-alive connection open for 65 s by default, and says so, longer than a balancer's or a client pool's idle timeout", async () => {
  const plain = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }]), recorder, port: 0 });
  try {
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(plain.port, "127.0.0.1", () => socket.write(`GET /v1/episodes/nobody HTTP/1.1\r\nHost: 127.0.0.1:${plain.port}\r\nConnection: keep-alive\r\n\r\n`));
      let received = "";
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => {
        received += d;
        if (!received.includes("\r\n\r\n")) return;
        socket.destroy();
        resolve(received.slice(0, received.indexOf("\r\n\r\n")));
      });
      socket.on("error", reject);
    });
    expect(DEFAULTS.keepAliveTimeoutMs).toBe(65_000);
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(head.split("\r\n")).toContain("Keep-Alive: timeout=65");
  } finally {
    await plain.close();
  }
});
