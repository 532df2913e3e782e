// Episodes without a tool call (health checks) in the viewer: listed, but left out of the charts unless include_empty=1.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { startViewServer, Viewer, type ListPage, type ViewServer } from "../../src/view/index.ts";
import { EXAMPLE, oraclePlan, recordEpisode, tempDir } from "./fixtures.ts";

let tmp: ReturnType<typeof tempDir>;
let recorder: Recorder;
let server: ViewServer;

beforeAll(async () => {
  tmp = tempDir();
  recorder = Recorder.open(join(tmp.dir, "rec.db"));
  recordEpisode(recorder, oraclePlan("oracle-1"));
  // Connected, listed the tools, left: closed with a score of zeros and not one call.
  recordEpisode(recorder, { id: "health-1", env: EXAMPLE, taskId: "director-birth-year", agent: "client:claude-code", turns: [], answer: null, status: "closed" });
  // A model that answered without calling a tool did try: it stays in the charts.
  recordEpisode(recorder, { id: "answered-1", env: EXAMPLE, taskId: "director-birth-year", agent: "guesser", turns: [], answer: "1950" });
  server = await startViewServer({ viewer: new Viewer({ records: new Records(recorder.db), environments: [EXAMPLE] }) });
});
afterAll(async () => {
  await server?.close();
  recorder?.close();
  tmp?.cleanup();
});

const json = async <T>(path: string): Promise<T> => {
  const r = await fetch(new URL(path, server.url));
  expect(r.status).toBe(200);
  return (await r.json()) as T;
};

interface Charts {
  episodes: number;
  includeEmpty: boolean;
  agents: { agent: string; count: number }[];
}

describe("episodes without a tool call", () => {
  it("are listed like any other episode", async () => {
    const page = await json<ListPage>("/api/episodes");
    expect(page.rows.map((r) => r.id).sort()).toEqual(["answered-1", "health-1", "oracle-1"]);
  });

  it("are left out of the charts by default and counted with include_empty=1", async () => {
    const charts = await json<Charts>("/api/charts");
    expect(charts).toMatchObject({ episodes: 2, includeEmpty: false });
    expect(charts.agents.map((a) => a.agent)).toEqual(["guesser", "oracle"]);
    const all = await json<Charts>("/api/charts?include_empty=1");
    expect(all).toMatchObject({ episodes: 3, includeEmpty: true });
    expect(all.agents.map((a) => a.agent)).toEqual(["client:claude-code", "guesser", "oracle"]);
  });

  it("the charts page says what it left out and links to the other choice", async () => {
    const page = await (await fetch(new URL("/charts", server.url))).text();
    expect(page).toContain("2 scored episodes match");
    expect(page).toContain("episodes without a tool call, such as health checks,");
    expect(page).toContain('href="/charts?include_empty=1"');
    // Filtering keeps the choice.
    const all = await (await fetch(new URL("/charts?include_empty=1", server.url))).text();
    expect(all).toContain("3 scored episodes match");
    expect(all).toContain('<input type="hidden" name="include_empty" value="1">');
    expect(all).toContain('href="/charts"');
  });
});
