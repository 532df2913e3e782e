// The viewer behind a token, in a browser's shoes: a page sends you to the login form, the right token sets an HttpOnly cookie, the cookie opens pages and the API.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Viewer, viewerRoute } from "../../src/view/index.ts";
import { memoryIo } from "../helpers/io.ts";
import { oraclePlan, recordEpisode, ROOT, tempDir } from "./fixtures.ts";

const TOKEN = "correct horse battery staple";
let tmp: ReturnType<typeof tempDir>;
let recorder: Recorder;
beforeAll(() => {
  tmp = tempDir();
  recorder = Recorder.open(join(tmp.dir, "login.db"));
  recordEpisode(recorder, oraclePlan("login-1"));
});
afterAll(() => {
  recorder.close();
  tmp.cleanup();
});

const page = { accept: "text/html,application/xhtml+xml" };
const noFollow = (origin: string, path: string, init: RequestInit = {}) => fetch(`${origin}${path}`, { redirect: "manual", ...init });

/** Logs in through the form as a browser would and returns the cookie it was given. */
async function logIn(origin: string): Promise<string> {
  const wrong = await noFollow(origin, "/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "token=guess&next=%2Fcharts" });
  expect(wrong.status).toBe(401);
  expect(await wrong.text()).toContain("That is not the token.");
  const right = await noFollow(origin, "/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: TOKEN, next: "/charts" }).toString() });
  expect(right.status).toBe(303);
  expect(right.headers.get("location")).toBe("/charts");
  const cookie = right.headers.get("set-cookie")!;
  expect(cookie).toMatch(/^envforge_viewer=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
  expect(cookie).not.toContain(TOKEN);
  return cookie.split(";")[0]!;
}

async function checkLoginFlow(origin: string): Promise<void> {
  const first = await noFollow(origin, "/episodes/login-1", { headers: page });
  expect(first.status).toBe(303);
  expect(first.headers.get("location")).toBe("/login?next=%2Fepisodes%2Flogin-1");
  const form = await noFollow(origin, first.headers.get("location")!, { headers: page });
  expect(form.status).toBe(200);
  expect(await form.text()).toMatch(/<form method="post" action="\/login">[\s\S]*name="next" value="\/episodes\/login-1"/);
  expect((await noFollow(origin, "/assets/style.css")).status).toBe(200);
  expect((await noFollow(origin, "/api/episodes")).status).toBe(401);

  const cookie = await logIn(origin);
  const list = await noFollow(origin, "/", { headers: { ...page, cookie } });
  expect(list.status).toBe(200);
  expect(await list.text()).toContain("login-1");
  const api = await noFollow(origin, "/api/episodes", { headers: { cookie } });
  expect(((await api.json()) as { total: number }).total).toBe(1);
  expect((await noFollow(origin, "/api/episodes", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  // An open redirect is not on offer.
  const away = await noFollow(origin, "/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: TOKEN, next: "//evil.example/" }).toString() });
  expect(away.headers.get("location")).toBe("/");
}

describe("viewer login", () => {
  it("on envforge serve --http with an admin token, on the control plane's listener; the cookie opens the viewer, not /mcp", async () => {
    const viewer = new Viewer({ records: new Records(recorder.db), environments: [] });
    const agentToken = "agent-token-0123456789";
    const server: HttpServer = await startHttpServer({ registry: new EnvironmentRegistry([]), recorder, port: 0, token: agentToken, adminToken: TOKEN, admin: { port: 0 }, routes: [viewerRoute(viewer, { token: TOKEN })] });
    try {
      await checkLoginFlow(server.adminOrigin!);
      const cookie = await logIn(server.adminOrigin!);
      const mcp = await noFollow(server.origin, "/mcp", { method: "POST", headers: { cookie, "content-type": "application/json" }, body: "{}" });
      expect(mcp.status).toBe(401);
      // The agent's token never opens the viewer, on either listener.
      expect((await noFollow(server.origin, "/", { headers: { authorization: `Bearer ${agentToken}` } })).status).toBe(403);
      expect((await noFollow(server.adminOrigin!, "/", { headers: { authorization: `Bearer ${agentToken}` } })).status).toBe(401);
    } finally {
      viewer.close();
      await server.close();
    }
  });

  it("on envforge view --token", async () => {
    const child = spawn(process.execPath, [join(ROOT, "bin/envforge.js"), "view", "--db", join(tmp.dir, "login.db"), "--port", "0", "--token", TOKEN], { cwd: tmp.dir });
    try {
      let out = "";
      const origin = await new Promise<string>((resolve) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /envforge view: (http:\/\/[^/\s]+)\//.exec(out);
          if (m) resolve(m[1]!);
        });
      });
      await checkLoginFlow(origin);
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });

  it("refuses envforge view on a non-loopback host without a token", async () => {
    const m = memoryIo({ cwd: tmp.dir });
    expect(await main(["view", "--db", join(tmp.dir, "login.db"), "--host", "0.0.0.0", "--port", "0"], m.io)).toBe(2);
    expect(m.err()).toContain("refusing to listen on 0.0.0.0 without a token");
  });
});
