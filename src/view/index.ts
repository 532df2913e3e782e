// The view layer: a web viewer for recorded episodes (list, timeline, charts, live updates), served alone or mounted on `envforge serve --http`.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Viewer } from "./viewer.ts";
import { ViewerLogin } from "./login.ts";

export { Viewer, type ViewerOptions } from "./viewer.ts";
export { startViewServer, type ViewServer, type ViewServerOptions } from "./server.ts";
export { LiveFeed, type EpisodeChange, type LiveOptions } from "./live.ts";
export { episodeView, type EpisodeView, type TurnView, type CallView, type SubAnswerView } from "./episode.ts";
export { chartsData, rewardChart, agentChart, groupsChart, viridis, type ChartsData, type RewardCell, type AgentPoint, type GroupBox } from "./charts.ts";
export { EnvIndex, listPage, listRow, recordQuery, complexityLevel, type ListPage, type ListRow } from "./data.ts";
export { parseParams, queryString, ParamError, type Filters, type ListParams } from "./params.ts";
export { html, esc, Html } from "./html.ts";
export { ViewerLogin, LOGIN_PATH } from "./login.ts";

/**
 * The viewer as a route of `envforge serve --http` (its `Route` shape: a `/*` prefix, GET and
 * HEAD, and POST for the login form). List it after the server's other routes: it answers
 * 404 for paths it does not know. With the server's token it checks the token itself
 * (bearer header or login cookie), so a browser can log in; the route is then public to the server.
 */
export function viewerRoute(viewer: Viewer, options: { token?: string } = {}): {
  method: readonly string[];
  path: string;
  /** The viewer shows sub-answers and every episode's score: it is the control plane, never served to an agent. */
  plane: "control";
  public: boolean;
  handler: (ctx: { req: IncomingMessage; res: ServerResponse; url: URL }) => Promise<void>;
} {
  const login = options.token ? new ViewerLogin(options.token) : null;
  return {
    method: ["GET", "HEAD", "POST"],
    path: "/*",
    plane: "control",
    public: login !== null,
    async handler({ req, res, url }) {
      if (login && (await login.handle(req, res, url))) return;
      if (await viewer.handle(req, res, url)) return;
      const body = JSON.stringify({ error: `nothing at ${url.pathname}; the viewer is at /, the MCP endpoint at /mcp` });
      res.writeHead(404, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      res.end(body);
    },
  };
}
