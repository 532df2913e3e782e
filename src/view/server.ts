// `envforge view`'s own HTTP server: the viewer alone, on 127.0.0.1 by default, refusing Host names it was not reached by (DNS rebinding).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Viewer } from "./viewer.ts";
import { ViewerLogin } from "./login.ts";

export interface ViewServerOptions {
  viewer: Viewer;
  /** 127.0.0.1 unless told: the recordings hold task answers and whatever the tools returned. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** More accepted Host names (any port), for a viewer reached through another name. */
  allowedHosts?: readonly string[];
  /** Require this token: as a bearer header, or through the login form's cookie. */
  token?: string;
  log?: (line: string) => void;
}

export interface ViewServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => undefined);
  let allowed = new Set<string>();
  const extra = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const login = options.token ? new ViewerLogin(options.token) : null;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostHeader = (req.headers.host ?? "").toLowerCase();
    if (!allowed.has(hostHeader) && !extra.has(hostHeader.replace(/:\d+$/, ""))) {
      return plain(res, 403, `Forbidden: Host ${JSON.stringify(req.headers.host ?? null)} is not allowed; add it with --allowed-host\n`);
    }
    const url = new URL(req.url ?? "/", `http://${hostHeader}`);
    if (login && (await login.handle(req, res, url))) return;
    if (await options.viewer.handle(req, res, url)) return;
    if (req.method !== "GET" && req.method !== "HEAD") return plain(res, 405, "Method Not Allowed: the viewer only reads\n", { allow: "GET, HEAD" });
    plain(res, 404, `nothing at ${url.pathname}\n`);
  }

  // A client gets 10 s for its headers and 30 s for a whole request, then 408: a lying Content-Length holds nothing longer.
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      log(`envforge view: ${req.method} ${req.url} failed: ${err.stack ?? String(err)}`);
      if (!res.headersSent) plain(res, 500, `internal error: ${err.message}\n`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(":") ? `[${host}]` : host;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : hostForUrl;
  allowed = new Set(["localhost", "127.0.0.1", "[::1]", hostForUrl.toLowerCase()].map((h) => `${h}:${port}`));
  return {
    url: `http://${urlHost}:${port}/`,
    host,
    port,
    async close() {
      options.viewer.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
