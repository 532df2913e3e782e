// The viewer's handlers on a real node:http server (port 0) over a real SQLite file: list API, episode timeline, downloads, charts, escaping, live events, safety.
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, Recorder, Records } from "../../src/store/index.ts";
import { FtrlRow } from "../../src/schema/index.ts";
import { startViewServer, Viewer, type EpisodeView, type ListPage, type ViewServer } from "../../src/view/index.ts";
import { EXAMPLE, oraclePlan, recordEpisode, tempDir, VARIANT } from "./fixtures.ts";

const XSS_SCRIPT = "<script>window.__pwned = 1</script>";
const XSS_ATTR = '"><img src=x onerror="window.__pwned = 2">';

let tmp: ReturnType<typeof tempDir>;
let recorder: Recorder;
let viewer: Viewer;
let server: ViewServer;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url.replace(/\/$/, "")}${path}`, { method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const json = async <T>(path: string): Promise<T> => {
  const r = await get(path);
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as T;
};

beforeAll(async () => {
  tmp = tempDir();
  recorder = Recorder.open(join(tmp.dir, "rec.db"));
  recordEpisode(recorder, oraclePlan("oracle-1"));
  recordEpisode(recorder, oraclePlan("oracle-2", EXAMPLE, "director-birthplace"));
  recordEpisode(recorder, { ...oraclePlan("variant-1", VARIANT), agent: "qwen" });
  // Two calls in one turn, one wasted; a third call the client could not send; the wrong answer.
  recordEpisode(recorder, {
    id: "random-1",
    env: EXAMPLE,
    taskId: "director-birth-year",
    agent: "random",
    turns: [
      {
        content: "Let me look both up.",
        calls: [
          { tool: "get_person", arguments: { name: "Nobody" }, output: 'an error occured when call get_person: No person named "Nobody" was found.', isError: true },
          { tool: "get_film", arguments: { title: "Crimson Harbor" }, output: JSON.stringify({ title: "Crimson Harbor", director: "Elena Vastrova" }) },
        ],
        unsent: { name: "get_person", arguments: "{not json", result: "an error occured when call get_person: the arguments are not a JSON object: {not json" },
      },
    ],
    answer: "1970",
  });
  // Untrusted text everywhere a tool can put it.
  recordEpisode(recorder, {
    id: "xss-1",
    env: EXAMPLE,
    taskId: "director-birth-year",
    agent: XSS_ATTR,
    turns: [{ content: XSS_SCRIPT, calls: [{ tool: "get_film", arguments: { title: XSS_ATTR }, output: `${XSS_SCRIPT} ${XSS_ATTR}` }] }],
    answer: XSS_ATTR,
  });
  recordEpisode(recorder, { ...oraclePlan("running-1"), answer: undefined, turns: oraclePlan("running-1").turns.slice(0, 1) });
  viewer = new Viewer({ records: new Records(recorder.db), environments: [EXAMPLE, VARIANT], pollMs: 20 });
  server = await startViewServer({ viewer });
});

afterAll(async () => {
  await server?.close();
  recorder?.close();
  tmp?.cleanup();
});

describe("GET /api/episodes", () => {
  it("lists every episode newest first with the list fields", async () => {
    const page = await json<ListPage>("/api/episodes");
    expect(page.total).toBe(6);
    expect(page.rows.map((r) => r.id)).toEqual(["running-1", "xss-1", "random-1", "variant-1", "oracle-2", "oracle-1"]);
    const oracle = page.rows.find((r) => r.id === "oracle-1")!;
    expect(oracle).toMatchObject({ env: EXAMPLE.id, task: "director-birth-year", scenario: "multi-hop", complexity: 0, complexity_label: "level 0", agent: "oracle", client: "envforge-run", status: "submitted", calls: 2, needed: 2 });
    expect(oracle.score).toEqual({ ftrl: 1, strict: 1 });
    // One scale, 0-3: mixed strategy levels show as their highest level, and each level in the label.
    expect(page.rows.find((r) => r.id === "variant-1")).toMatchObject({ scenario: "single-hop", complexity: 2, complexity_label: "fg2 pe1 ptg0 te2", agent: "qwen" });
    expect(page.rows.find((r) => r.id === "running-1")!.score).toEqual({ ftrl: null, strict: null });
  });

  it("filters by model, status, score range, scenario and complexity", async () => {
    const ids = async (q: string): Promise<string[]> => (await json<ListPage>(`/api/episodes?${q}`)).rows.map((r) => r.id).sort();
    // The running episode has not sent its rollout identity yet (it comes with submit_answer): it is credited to its client.
    expect(await ids("model=oracle")).toEqual(["oracle-1", "oracle-2"]);
    expect(await ids("model=client:envforge-run")).toEqual(["running-1"]);
    expect(await ids("status=running")).toEqual(["running-1"]);
    expect(await ids("status=submitted&max_score=0.9")).toEqual(["random-1", "xss-1"]);
    expect(await ids("min_score=1")).toEqual(["oracle-1", "oracle-2", "variant-1"]);
    expect(await ids("scenario=single-hop")).toEqual(["variant-1"]);
    expect(await ids("complexity=0&task=director-birthplace")).toEqual(["oracle-2"]);
    expect(await ids("complexity=2")).toEqual(["variant-1"]);
    expect(await ids(`env=${EXAMPLE.id}&scenario=single-hop`)).toEqual([]);
    expect(await ids("client=nobody")).toEqual([]);
  });

  it("sorts by any column and pages on the server", async () => {
    const byScore = await json<ListPage>("/api/episodes?sort=score&dir=asc&status=submitted&mode=strict");
    const scores = byScore.rows.map((r) => r.score.strict!);
    expect(scores).toEqual([...scores].sort((a, b) => a - b));
    const p1 = await json<ListPage>("/api/episodes?sort=agent&dir=asc&per_page=2");
    const p2 = await json<ListPage>("/api/episodes?sort=agent&dir=asc&per_page=2&page=2");
    expect(p1.pages).toBe(3);
    const agents = [...p1.rows, ...p2.rows].map((r) => r.agent);
    expect(agents).toEqual([...agents].sort());
    expect(new Set([...p1.rows, ...p2.rows].map((r) => r.id)).size).toBe(4);
  });

  it("refuses bad parameters with a 400 that names them", async () => {
    for (const [q, word] of [
      ["sort=colour", "sort"],
      ["min_score=2", "min_score"],
      ["min_score=0.8&max_score=0.2", "above"],
      ["status=done", "status"],
      ["page=0", "page"],
      ["complexity=4", "complexity"],
      ["sceanrio=multi-hop", "unknown parameter"],
    ] as const) {
      const r = await get(`/api/episodes?${q}`);
      expect(r.status, q).toBe(400);
      expect(JSON.parse(r.body).error).toContain(word);
    }
    const page = await get("/?sort=colour");
    expect(page.status).toBe(400);
    expect(page.body).toContain("sort must be one of");
  });
});

describe("GET /api/episodes/:id", () => {
  it("rebuilds the timeline and recomputes what each call solved in both modes", async () => {
    const v = await json<EpisodeView>("/api/episodes/random-1");
    expect(v.question).toBe("In what year was the director of Crimson Harbor born?");
    expect(v.turns).toHaveLength(1);
    const [turn] = v.turns;
    expect(turn!.content).toBe("Let me look both up.");
    expect(turn!.calls.map((c) => [c.seq, c.tool, c.sent, c.is_error, c.solved.ftrl])).toEqual([
      [1, "get_person", true, true, null],
      [2, "get_film", true, false, "Elena Vastrova"],
      [null, "get_person", false, true, null],
    ]);
    expect(turn!.calls[0]!.latency_ms).toBe(1.25);
    expect(v.scores.agree).toBe(true);
    expect(v.scores.recomputed!.ftrl).toMatchObject({ solved: 1, calls: 2, needed: 2, solve_precision: 0.5, solve_rate: 0.5, answer_correct: false });
    expect(v.sub_answers).toEqual([
      { tool: "get_film", answer: "Elena Vastrova", solved_by: { ftrl: 2, strict: 2 } },
      { tool: "get_person", answer: "1961", solved_by: { ftrl: null, strict: null } },
    ]);
    expect(v.gold_answer).toBe("1961");
    expect(v.episode.final_answer).toBe("1970");
  });

  it("never shows pending sub-answers, the expected answer or a partial score while an episode runs", async () => {
    const v = await json<EpisodeView>("/api/episodes/running-1");
    expect(v.running).toBe(true);
    expect(v.sub_answers).toBeNull();
    expect(v.gold_answer).toBeNull();
    expect(v.scores.recomputed).toBeNull();
    expect(v.turns[0]!.calls[0]!.solved.ftrl).toBe("Elena Vastrova");
    const page = await get("/episodes/running-1");
    expect(page.body).not.toContain("1961");
    expect(page.body).toContain("Pending sub-answers are not shown while the episode runs");
  });

  it("answers 404 for an unknown episode, as JSON on the API and as a page otherwise", async () => {
    const api = await get("/api/episodes/nope");
    expect(api.status).toBe(404);
    expect(JSON.parse(api.body).error).toContain("nope");
    const page = await get("/episodes/nope");
    expect(page.status).toBe(404);
    expect(page.headers["content-type"]).toContain("text/html");
  });
});

describe("downloads", () => {
  it("exports the episode as JSON with every call and message", async () => {
    const r = await get("/api/episodes/oracle-1/export.json");
    expect(r.status).toBe(200);
    expect(r.headers["content-disposition"]).toBe('attachment; filename="episode-oracle-1.json"');
    const body = JSON.parse(r.body);
    expect(body.episode.id).toBe("oracle-1");
    expect(body.calls.map((c: { tool: string }) => c.tool)).toEqual(["get_film", "get_person"]);
    expect(body.scores.recomputed.ftrl.solve_f1).toBe(1);
  });

  it("exports the FTRL training rows of an episode with src/export", async () => {
    const r = await get("/api/episodes/random-1/row.jsonl");
    expect(r.status).toBe(200);
    const rows = r.body.trim().split("\n").map((l) => FtrlRow.parse(JSON.parse(l)));
    expect(rows).toHaveLength(2);
    expect(rows[0]!.messages).toEqual([{ role: "user", content: "In what year was the director of Crimson Harbor born?" }]);
    expect(rows[1]!.messages.filter((m) => m.role === "tool")).toHaveLength(3);
    expect(JSON.parse(rows[1]!.unsolved_set)).toEqual({ get_film: [], get_person: ["1961"] });
    expect(rows[1]!.solve_rate).toBe(0.5);
    expect((await get("/api/episodes/random-1/row.jsonl?mode=loose")).status).toBe(400);
  });
});

describe("escaping", () => {
  it("shows tool output, arguments, assistant text and answers from the database as text", async () => {
    for (const path of ["/episodes/xss-1", "/", "/?model=" + encodeURIComponent(XSS_ATTR), "/charts"]) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(r.body, path).not.toContain("<script>window");
      expect(r.body, path).not.toContain("<img src=x");
      expect(r.body, path).not.toMatch(/"><img/);
    }
    const page = (await get("/episodes/xss-1")).body;
    expect(page).toContain("&lt;script&gt;window.__pwned = 1&lt;/script&gt;");
    expect(page).toContain("&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt;");
    const svg = await get("/api/charts/agents.svg");
    expect(svg.body).toContain("&quot;&gt;&lt;img src=x");
    expect(svg.body).not.toContain("<img");
  });

  it("forbids inline script and remote loads with a content security policy", async () => {
    const r = await get("/episodes/xss-1");
    expect(r.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
  });
});

describe("charts", () => {
  it("aggregates scored episodes by scenario and complexity, per agent, and per group", async () => {
    const data = await json<{ episodes: number; reward: { cells: { scenario: string; complexity: number; count: number; mean: number }[] }; agents: { agent: string; count: number; precision: number }[] }>("/api/charts");
    expect(data.episodes).toBe(5);
    expect(data.reward.cells.find((c) => c.scenario === "single-hop")).toMatchObject({ complexity: 2, count: 1, mean: 1 });
    const multi = data.reward.cells.find((c) => c.scenario === "multi-hop")!;
    expect(multi.count).toBe(4);
    expect(data.agents.find((a) => a.agent === "random")).toMatchObject({ count: 1, precision: 0.5 });
  });

  it("draws SVG with one cell per scenario x complexity and one point per agent", async () => {
    const reward = await get("/api/charts/reward.svg");
    expect(reward.headers["content-type"]).toContain("image/svg+xml");
    expect(reward.body.match(/<g class="cell"/g)).toHaveLength(2);
    expect(reward.body).toContain('data-scenario="single-hop" data-complexity="2" data-count="1" data-mean="1.000"');
    const agents = await get("/api/charts/agents.svg?status=submitted");
    expect(agents.body.match(/<g class="point"/g)).toHaveLength(4);
    const groups = await get("/api/charts/groups.svg");
    expect(groups.body).toContain("No group of two or more");
  });
});

describe("live events", () => {
  it("pushes a new episode and each change to a running one, from another connection", async () => {
    const writer = Recorder.open(join(tmp.dir, "rec.db"));
    const reader = new Records(openDb(join(tmp.dir, "rec.db")));
    const other = new Viewer({ records: reader, environments: [EXAMPLE], pollMs: 20 });
    const otherServer = await startViewServer({ viewer: other });
    const events: { event: string; data: unknown }[] = [];
    const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => request(`${otherServer.url}api/events`, resolve).on("error", reject).end());
    expect(res.headers["content-type"]).toContain("text/event-stream");
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    });
    const waitFor = async (pred: () => boolean): Promise<void> => {
      for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(pred()).toBe(true);
    };
    await waitFor(() => events.some((e) => e.event === "hello"));
    const plan = oraclePlan("live-1");
    writer.beginEpisode({ id: "live-1", envId: EXAMPLE.id, taskId: plan.taskId, transport: "http", needed: 2 });
    await waitFor(() => events.some((e) => e.event === "episodes"));
    expect(events.find((e) => e.event === "episodes")!.data).toEqual({ changed: [{ id: "live-1", status: "running", calls: 0, solved: 0, new: true }] });
    writer.endEpisode("live-1", { status: "closed" });
    await waitFor(() => events.filter((e) => e.event === "episodes").length === 2);
    expect(events.filter((e) => e.event === "episodes")[1]!.data).toEqual({ changed: [{ id: "live-1", status: "closed", calls: 0, solved: 0, new: false }] });
    expect(other.live.listeners).toBe(1);
    res.destroy();
    await waitFor(() => other.live.listeners === 0);
    await otherServer.close();
    reader.close();
    writer.close();
  });
});

describe("the server", () => {
  it("binds 127.0.0.1 and refuses other Host names (DNS rebinding)", async () => {
    expect(server.host).toBe("127.0.0.1");
    const r = await get("/", { host: "attacker.example" });
    expect(r.status).toBe(403);
    expect(r.body).toContain("attacker.example");
  });

  it("serves its own assets and nothing from elsewhere", async () => {
    const page = (await get("/")).body;
    const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.filter((u) => /^(https?:)?\/\//.test(u))).toEqual([]);
    for (const asset of ["/assets/app.js", "/assets/style.css", "/assets/favicon.svg"]) {
      expect(refs).toContain(asset);
      const r = await get(asset);
      expect(r.status, asset).toBe(200);
      expect(r.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    }
  });

  it("answers HEAD without a body and refuses writes", async () => {
    const head = await get("/api/episodes", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(Number(head.headers["content-length"])).toBeGreaterThan(0);
    expect((await get("/api/episodes", {}, "POST")).status).toBe(405);
  });
});
