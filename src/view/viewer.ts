// The viewer's request handler: pages, JSON API, downloads, SVG charts, bundled assets and the live event stream, mountable on any node:http server.
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { atifTrajectory, episodeSpans, ftrlRows, otlpTraces, readTranscript } from "../export/index.ts";
import { changeToken, episodeFacets, type EpisodeFacets, type Records } from "../store/index.ts";
import { RewardMode, type Environment } from "../schema/index.ts";
import { agentChart, chartsData, groupsChart, rewardChart, type ChartsData } from "./charts.ts";
import { EnvIndex, listPage } from "./data.ts";
import { episodeView } from "./episode.ts";
import type { Html } from "./html.ts";
import { LiveFeed } from "./live.ts";
import { chartsBody, chartsPageHtml, episodeBody, episodePageHtml, errorPage, listPageHtml, listResults } from "./pages.ts";
import { ParamError, parseParams, type ListParams } from "./params.ts";

export interface ViewerOptions {
  records: Records;
  /** Environments whose episodes get a question, scenario, complexity and recomputed scores. */
  environments: readonly Environment[];
  /** How often the live feed looks for changes, in ms (default 1000). */
  pollMs?: number;
  log?: (line: string) => void;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  "/assets/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/assets/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/assets/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};

/** Defence in depth for untrusted text in the page: no inline script or style can run, nothing loads from elsewhere. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

class NotFound extends Error {}

/** Facets and charts read the whole index: kept until the data changes and at least this long. */
const CACHE_MS = 3000;

export class Viewer {
  readonly records: Records;
  readonly envs: EnvIndex;
  readonly live: LiveFeed;
  private readonly assets = new Map<string, Buffer>();
  private readonly cache = new Map<string, { token: string; at: number; value: unknown }>();

  constructor(options: ViewerOptions) {
    this.records = options.records;
    this.envs = new EnvIndex(options.environments);
    this.live = new LiveFeed(options.records, { ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}), ...(options.log ? { log: options.log } : {}) });
    for (const { file } of Object.values(ASSETS)) this.assets.set(file, readFileSync(new URL(`./assets/${file}`, import.meta.url)));
  }

  /** Answers a GET or HEAD the viewer knows; returns false (having written nothing) for any other request. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL = new URL(req.url ?? "/", "http://viewer.invalid")): Promise<boolean> {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = url.pathname;
    const asset = ASSETS[path];
    if (asset) {
      this.send(res, 200, asset.type, this.assets.get(asset.file)!, { "cache-control": "no-cache" }, req.method === "HEAD");
      return true;
    }
    const route = this.route(path);
    if (!route) return false;
    try {
      await route(req, res, url);
    } catch (err) {
      if (res.headersSent) res.end();
      else this.fail(res, path, err);
    }
    return true;
  }

  /** Ends the live streams and stops polling. */
  close(): void {
    this.live.close();
  }

  private route(path: string): ((req: IncomingMessage, res: ServerResponse, url: URL) => void) | null {
    if (path === "/" || path === "/index.html") return (req, res, url) => this.listPage(req, res, url);
    if (path === "/charts") return (req, res, url) => this.chartsPage(req, res, url);
    if (path === "/api/episodes") return (req, res, url) => this.json(req, res, listPage(this.records, this.envs, parseParams(url.searchParams)));
    if (path === "/api/facets") return (req, res) => this.json(req, res, this.facets());
    if (path === "/api/charts") return (req, res, url) => this.json(req, res, this.charts(parseParams(url.searchParams)));
    if (path === "/api/events") return (req, res) => (req.method === "HEAD" ? this.send(res, 200, "text/event-stream; charset=utf-8", "", {}, true) : void this.live.subscribe(res));
    const chart = /^\/api\/charts\/(reward|agents|groups)\.svg$/.exec(path);
    if (chart) {
      const draw = { reward: rewardChart, agents: agentChart, groups: groupsChart }[chart[1] as "reward" | "agents" | "groups"];
      return (req, res, url) => this.svg(req, res, draw(this.charts(parseParams(url.searchParams))));
    }
    const ep = /^\/(api\/)?episodes\/([^/]+)(\/export\.json|\/row\.jsonl|\/atif\.json|\/otlp\.json)?$/.exec(path);
    if (!ep) return null;
    let id: string;
    try {
      id = decodeURIComponent(ep[2]!);
    } catch {
      return (_req, res) => this.fail(res, path, new ParamError("the episode id in the path is not valid percent-encoding"));
    }
    const api = ep[1] !== undefined;
    if (!api && ep[3] === undefined) return (req, res, url) => this.episodePage(req, res, url, id);
    if (!api) return null;
    if (ep[3] === "/export.json") return (req, res) => this.exportJson(req, res, id);
    if (ep[3] === "/row.jsonl") return (req, res, url) => this.exportRows(req, res, url, id);
    if (ep[3] === "/atif.json" || ep[3] === "/otlp.json") return (req, res) => this.exportTrace(req, res, id, ep[3] === "/atif.json" ? "atif" : "otlp");
    return (req, res) => this.json(req, res, episodeView(this.records, this.envs, this.episode(id)));
  }

  private episode(id: string) {
    const row = this.records.getEpisode(id);
    if (!row) throw new NotFound(`no episode "${id}" in this database`);
    return row;
  }

  private cached<T>(key: string, compute: () => T): T {
    const token = changeToken(this.records);
    const hit = this.cache.get(key);
    const now = performance.now();
    if (hit && (hit.token === token || now - hit.at < CACHE_MS)) return hit.value as T;
    const value = compute();
    if (this.cache.size > 200) this.cache.clear();
    this.cache.set(key, { token, at: now, value });
    return value;
  }

  private facets(): EpisodeFacets {
    return this.cached("facets", () => episodeFacets(this.records));
  }

  private charts(p: ListParams): ChartsData {
    return this.cached(`charts ${JSON.stringify(p)}`, () => chartsData(this.records, this.envs, p));
  }

  private listPage(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const p = parseParams(url.searchParams);
    const page = listPage(this.records, this.envs, p);
    this.html(req, res, url.searchParams.has("partial") ? listResults(p, page) : listPageHtml(p, page, this.facets()));
  }

  private chartsPage(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const p = parseParams(url.searchParams);
    const data = this.charts(p);
    this.html(req, res, url.searchParams.has("partial") ? chartsBody(p, data) : chartsPageHtml(p, this.facets(), data));
  }

  private episodePage(req: IncomingMessage, res: ServerResponse, url: URL, id: string): void {
    const view = episodeView(this.records, this.envs, this.episode(id));
    this.html(req, res, url.searchParams.has("partial") ? episodeBody(view) : episodePageHtml(view));
  }

  private exportJson(req: IncomingMessage, res: ServerResponse, id: string): void {
    const detail = this.records.getEpisodeDetail(id);
    if (!detail) throw new NotFound(`no episode "${id}" in this database`);
    const view = episodeView(this.records, this.envs, detail.episode);
    const body = JSON.stringify({ format: "envforge/episode@1", ...detail, scores: view.scores }, null, 2);
    this.send(res, 200, "application/json; charset=utf-8", body, { "content-disposition": `attachment; filename="${fileName(id)}.json"` }, req.method === "HEAD");
  }

  private exportRows(req: IncomingMessage, res: ServerResponse, url: URL, id: string): void {
    const unknown = [...url.searchParams.keys()].find((k) => k !== "mode");
    if (unknown !== undefined) throw new ParamError(`unknown parameter ${JSON.stringify(unknown)}; row.jsonl takes only mode`);
    const modeText = url.searchParams.get("mode") ?? "ftrl";
    const mode = RewardMode.safeParse(modeText);
    if (!mode.success) throw new ParamError(`mode must be ftrl or strict, got ${JSON.stringify(modeText)}`);
    const read = readTranscript(this.records, this.episode(id), this.envs.byId);
    if (!read.ok) {
      this.send(res, 409, "application/json; charset=utf-8", JSON.stringify({ error: `episode "${id}" gives no training rows: ${read.problem.replace(/_/g, " ")}` }));
      return;
    }
    const body = ftrlRows(read.transcript, mode.data).map((r) => `${JSON.stringify(r)}\n`).join("");
    this.send(res, 200, "application/x-ndjson; charset=utf-8", body, { "content-disposition": `attachment; filename="${fileName(id)}.ftrl.jsonl"` }, req.method === "HEAD");
  }

  /** The episode as an ATIF trajectory or as OTLP/JSON spans, as `envforge export` writes them. */
  private exportTrace(req: IncomingMessage, res: ServerResponse, id: string, format: "atif" | "otlp"): void {
    const read = readTranscript(this.records, this.episode(id), this.envs.byId);
    if (!read.ok) {
      this.send(res, 409, "application/json; charset=utf-8", JSON.stringify({ error: `episode "${id}" gives no trajectory: ${read.problem.replace(/_/g, " ")}` }));
      return;
    }
    const body = format === "atif" ? atifTrajectory(read.transcript) : otlpTraces(episodeSpans(read.transcript));
    this.send(res, 200, "application/json; charset=utf-8", `${JSON.stringify(body, null, 2)}\n`, { "content-disposition": `attachment; filename="${fileName(id)}.${format}.json"` }, req.method === "HEAD");
  }

  private fail(res: ServerResponse, path: string, err: unknown): void {
    const status = err instanceof NotFound ? 404 : err instanceof ParamError ? 400 : 500;
    const message = status === 500 ? `internal error: ${(err as Error).message}` : (err as Error).message;
    if (path.startsWith("/api/")) this.send(res, status, "application/json; charset=utf-8", JSON.stringify({ error: message }));
    else this.send(res, status, "text/html; charset=utf-8", errorPage(status, message).text);
  }

  private json(req: IncomingMessage, res: ServerResponse, value: unknown): void {
    this.send(res, 200, "application/json; charset=utf-8", JSON.stringify(value), {}, req.method === "HEAD");
  }

  private html(req: IncomingMessage, res: ServerResponse, page: Html): void {
    this.send(res, 200, "text/html; charset=utf-8", page.text, {}, req.method === "HEAD");
  }

  private svg(req: IncomingMessage, res: ServerResponse, chart: Html): void {
    this.send(res, 200, "image/svg+xml; charset=utf-8", `<?xml version="1.0" encoding="UTF-8"?>\n${chart.text}\n`, {}, req.method === "HEAD");
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}, head = false): void {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "content-length": String(bytes.length), "cache-control": "no-store", ...headers });
    res.end(head ? undefined : bytes);
  }
}

/** Episode ids may hold any character; a download's file name keeps a safe subset. */
const fileName = (id: string): string => `episode-${id.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 120)}`;
