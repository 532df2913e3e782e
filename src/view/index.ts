// The view layer: a web viewer for recorded episodes (list, timeline, charts, live updates), served alone or mounted on `envforge serve --http`.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Viewer } from "./viewer.ts";

export { Viewer, type ViewerOptions } from "./viewer.ts";
export { startViewServer, type ViewServer, type ViewServerOptions } from "./server.ts";
export { LiveFeed, type EpisodeChange, type LiveOptions } from "./live.ts";
export { episodeView, type EpisodeView, type TurnView, type CallView, type SubAnswerView } from "./episode.ts";
export { chartsData, rewardChart, agentChart, groupsChart, viridis, type ChartsData, type RewardCell, type AgentPoint, type GroupBox } from "./charts.ts";
export { EnvIndex, listPage, listRow, recordQuery, complexityLevel, type ListPage, type ListRow } from "./data.ts";
export { parseParams, queryString, ParamError, type Filters, type ListParams } from "./params.ts";
export { html, esc, Html } from "./html.ts";

/**
 * The viewer as a route of `envforge serve --http` (its `Route` shape: a `/*` prefix, GET and
 * HEAD). List it after the server's other routes: it answers 404 for paths it does not know.
 */
export function viewerRoute(viewer: Viewer): {
  method: readonly string[];
  path: string;
  /** The viewer shows sub-answers and every episode's score: it is the control plane, never served to an agent. */
  plane: "control";
  handler: (ctx: { req: IncomingMessage; res: ServerResponse; url: URL }) => Promise<void>;
} {
  return {
    method: ["GET", "HEAD"],
    path: "/*",
    plane: "control",
    async handler({ req, res, url }) {
      if (await viewer.handle(req, res, url)) return;
      const body = JSON.stringify({ error: `nothing at ${url.pathname}; the viewer is at /, the MCP endpoint at /mcp` });
      res.writeHead(404, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      res.end(body);
    },
  };
}
