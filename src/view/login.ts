// The viewer behind a token: a login form that turns the token into an HttpOnly cookie, so a browser (which cannot send a bearer header) can open it.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { html, type Html } from "./html.ts";
import { layout } from "./pages.ts";

export const LOGIN_PATH = "/login";
const COOKIE = "envforge_viewer";
const MAX_FORM_BYTES = 4096;

/** A same-site path to return to after logging in; anything else (another site, `//host`) goes to the list. */
function localPath(value: string | null): string {
  return value && value.startsWith("/") && !value.startsWith("//") && !value.startsWith("/\\") ? value : "/";
}

function loginPage(next: string, failed: boolean): Html {
  return layout(
    "list",
    "Log in",
    html`<h1>Log in</h1>
<p>This server asks for its token (the one given to <code>--token</code> or <code>$ENVFORGE_TOKEN</code>).</p>
${failed ? html`<p class="alert" role="alert">That is not the token.</p>` : ""}
<form method="post" action="${LOGIN_PATH}">
<input type="hidden" name="next" value="${next}">
<div class="field"><label for="token">Token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus></div>
<p><button type="submit">Open the viewer</button></p>
</form>`,
  );
}

function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  return new Promise((resolve, reject) => {
    let text = "";
    let size = 0;
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      size += Buffer.byteLength(chunk);
      if (size <= MAX_FORM_BYTES) text += chunk;
    });
    req.on("end", () => resolve(size > MAX_FORM_BYTES ? null : new URLSearchParams(text)));
    req.on("error", reject);
  });
}

/**
 * Guards the viewer with a token: requests carrying `Authorization: Bearer TOKEN` or the
 * login cookie pass. The cookie holds an HMAC of the token, not the token, and is HttpOnly
 * and SameSite=Strict, so page scripts and other sites cannot use it.
 */
export class ViewerLogin {
  private readonly session: Buffer;
  private readonly token: Buffer;

  constructor(token: string) {
    this.token = createHmac("sha256", "envforge viewer token").update(token).digest();
    this.session = createHmac("sha256", token).update("envforge viewer session").digest();
  }

  authorized(req: IncomingMessage): boolean {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    if (bearer && this.isToken(bearer[1]!.trim())) return true;
    const cookie = (req.headers.cookie ?? "").split(";").map((c) => c.trim()).find((c) => c.startsWith(`${COOKIE}=`));
    if (!cookie) return false;
    const value = Buffer.from(cookie.slice(COOKIE.length + 1), "hex");
    return value.length === this.session.length && timingSafeEqual(value, this.session);
  }

  /**
   * Answers the login form and its post, or the refusal of a request without credentials
   * (a page is sent to the form, anything else gets 401). Returns false for an authorized
   * request, which the viewer then answers.
   */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname === LOGIN_PATH) {
      if (req.method === "POST") {
        const form = await readForm(req);
        const next = localPath(form?.get("next") ?? null);
        if (form && this.isToken(form.get("token") ?? "")) {
          res.writeHead(303, { location: next, "set-cookie": `${COOKIE}=${this.session.toString("hex")}; Path=/; HttpOnly; SameSite=Strict`, "content-length": "0" });
          res.end();
        } else this.page(res, 401, loginPage(next, true));
        return true;
      }
      this.page(res, 200, loginPage(localPath(url.searchParams.get("next")), false), req.method === "HEAD");
      return true;
    }
    // Bundled assets hold no recorded data, and the login form needs them.
    if (url.pathname.startsWith("/assets/") || this.authorized(req)) return false;
    const wantsPage = req.method === "GET" && !url.pathname.startsWith("/api/") && (req.headers.accept ?? "").includes("text/html");
    if (wantsPage) {
      res.writeHead(303, { location: `${LOGIN_PATH}?next=${encodeURIComponent(url.pathname + url.search)}`, "content-length": "0" });
      res.end();
      return true;
    }
    const body = JSON.stringify({ error: `Unauthorized: send Authorization: Bearer TOKEN, or log in at ${LOGIN_PATH}` });
    res.writeHead(401, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "www-authenticate": 'Bearer realm="envforge"' });
    res.end(body);
    return true;
  }

  private isToken(candidate: string): boolean {
    return timingSafeEqual(createHmac("sha256", "envforge viewer token").update(candidate).digest(), this.token);
  }

  private page(res: ServerResponse, status: number, page: Html, head = false): void {
    const body = page.text;
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": String(Buffer.byteLength(body)), "cache-control": "no-store" });
    res.end(head ? undefined : body);
  }
}
