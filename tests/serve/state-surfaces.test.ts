// The final-state check wherever a score is shown: submit_answer, the episode API, the viewer and the score tables.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nearMisses } from "../../src/construct/index.ts";
import { buildReport, formatReport } from "../../src/export/index.ts";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, rewardRoutes, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Viewer, viewerRoute } from "../../src/view/index.ts";
import { Environment, type EpisodeScores } from "../../src/schema/index.ts";
import { ROOT, tempDir, type TempDir } from "./fixtures.ts";

const DIR = join(ROOT, "environments/multi-hop");
const WRITE = Environment.parse(JSON.parse(readFileSync(join(DIR, readdirSync(DIR).find((f) => f.startsWith("hotels-mh-write"))!), "utf8")));
const TASK = WRITE.tasks.find((t) => nearMisses(WRITE, t).some((m) => m.kind === "duplicate"))!;

let tmp: TempDir;
let recorder: Recorder;
let server: HttpServer;
const submitted: Record<string, EpisodeScores> = {};

async function play(id: string, plan: { tool: string; arguments: Record<string, unknown> }[]): Promise<void> {
  const client = new Client({ name: "state-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?env=${WRITE.id}&task=${TASK.id}&episode=${id}`)));
  for (const step of plan) await client.callTool({ name: step.tool, arguments: step.arguments });
  const r = (await client.callTool({ name: "submit_answer", arguments: { answer: TASK.answer } })) as { content: { text: string }[] };
  submitted[id] = (JSON.parse(r.content[0]!.text) as { score: EpisodeScores }).score;
  await client.close();
}

beforeAll(async () => {
  tmp = tempDir();
  recorder = Recorder.open(tmp.db);
  server = await startHttpServer({
    registry: new EnvironmentRegistry([{ env: WRITE }]),
    recorder,
    port: 0,
    admin: { port: 0 },
    routes: [...rewardRoutes(), viewerRoute(new Viewer({ records: new Records(recorder.db), environments: [WRITE] }))],
  });
  await play("gold", TASK.gold_plan);
  await play("twice", nearMisses(WRITE, TASK).find((m) => m.kind === "duplicate")!.plan);
});
afterAll(async () => {
  await server.close();
  recorder.close();
  tmp.cleanup();
});

describe("the state check on every surface", () => {
  it("submit_answer: gold matches, the duplicate does not, and the FTRL numbers stay the reference's", () => {
    expect(submitted.gold!.ftrl).toMatchObject({ solve_rate: 1, solve_precision: 1, state: { state_match: 1, changes_made: 1, unexpected_changes: 0 } });
    expect(submitted.twice!.ftrl.solve_rate).toBe(1);
    expect(submitted.twice!.ftrl.solve_precision).toBeLessThan(1);
    expect(submitted.twice!.ftrl.state!.state_match).toBe(0);
    expect(submitted.twice!.strict.state).toEqual(submitted.twice!.ftrl.state);
  });

  it("the episode API and the viewer (the control plane's listener)", async () => {
    const origin = server.adminOrigin!;
    for (const [id, match] of [["gold", 1], ["twice", 0]] as const) {
      const api = (await (await fetch(`${origin}/v1/episodes/${id}`)).json()) as { score: EpisodeScores };
      expect(api.score.ftrl.state!.state_match).toBe(match);
      const page = await (await fetch(`${origin}/episodes/${id}`)).text();
      expect(page).toContain(`data-metric="state.state_match">${match ? "yes" : "no"}<`);
      expect(page).toContain("Unexpected changes");
    }
  });

  it("POST /v1/reward: the state check of the world a response leaves, from the start or after a recorded episode", async () => {
    const origin = server.adminOrigin!;
    const post = async (body: unknown) => (await (await fetch(`${origin}/v1/reward`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as { final_state: { state_match: number } | null; score: { rewards: { f1: number } } };
    const message = (plan: { tool: string; arguments: Record<string, unknown> }[]) => ({ content: null, tool_calls: plan.map((p, i) => ({ id: `c${i}`, type: "function", function: { name: p.tool, arguments: JSON.stringify(p.arguments) } })) });
    expect((await post({ env: WRITE.id, task: TASK.id, response: message(TASK.gold_plan) })).final_state!.state_match).toBe(1);
    expect((await post({ env: WRITE.id, task: TASK.id, response: message(nearMisses(WRITE, TASK).find((m) => m.kind === "duplicate")!.plan) })).final_state!.state_match).toBe(0);
    // After the recorded gold episode, a plain answer leaves the world as it should be; nothing done at all does not.
    expect((await post({ episode: "gold", response: `The answer is ${TASK.answer}.` })).final_state!.state_match).toBe(1);
    expect((await post({ env: WRITE.id, task: TASK.id, response: `The answer is ${TASK.answer}.` })).final_state!.state_match).toBe(0);
  });

  it("the score tables: a state column with the mean state_match", () => {
    const report = buildReport(new Records(recorder.db), [WRITE]);
    expect(report.tables.environment[0]!.state_match!.mean).toBe(0.5);
    expect(formatReport(report)).toMatch(/answer\s+state\n/);
  });
});
