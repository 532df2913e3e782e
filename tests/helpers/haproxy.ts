// Starts a real HAProxy on loopback in front of server replicas, for the replica tests (installed from Debian by .ci/run).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

export interface Balancer {
  /** http://127.0.0.1:PORT */
  origin: string;
  stop(): Promise<void>;
}

const BINARY = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"].find((p) => existsSync(p)) ?? "haproxy";

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

/**
 * The configuration the README documents: round robin with no affinity, except that a legacy MCP
 * session (2025-11-25) sticks to the replica that issued its Mcp-Session-Id. A replica that stops
 * accepting connections is taken out by the health check, and a request whose connection could not
 * be made is sent to another one (never a request that reached a replica: it may have taken effect).
 */
export function haproxyConfig(port: number, replicas: readonly { host: string; port: number }[]): string {
  return `global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 3
  retry-on conn-failure
  option redispatch
frontend envforge
  bind 127.0.0.1:${port}
  default_backend replicas
backend replicas
  balance roundrobin
  stick-table type string len 64 size 100k expire 30m
  stick on req.hdr(mcp-session-id)
  stick store-response res.hdr(mcp-session-id)
${replicas.map((r, i) => `  server r${i + 1} ${r.host}:${r.port} check inter 200ms fall 1 rise 2`).join("\n")}
`;
}

export async function startHaproxy(replicas: readonly { host: string; port: number }[]): Promise<Balancer> {
  const dir = mkdtempSync(join(tmpdir(), "envforge-haproxy-"));
  const port = await freePort();
  const config = join(dir, "haproxy.cfg");
  writeFileSync(config, haproxyConfig(port, replicas));
  let log = "";
  const child: ChildProcess = spawn(BINARY, ["-db", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", (err) => (log += `\n${err.message}`));
  for (let i = 0; !(await accepts(port)); i++) {
    if (child.exitCode !== null || i > 500) throw new Error(`haproxy did not start (${BINARY}; install it: apt-get install haproxy):\n${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
