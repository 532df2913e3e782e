// Training mode: an agent on the agent plane learns nothing of its progress or score from any surface, while the
// control plane (the store, `envforge view`) still holds everything, final-state check included.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, EPISODE_URI, startHttpServer, type HttpServer, type ServeMode } from "../../src/serve/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { ROOT, spawnHttpServer, tempDir, type TempDir } from "./fixtures.ts";

const DIR = join(ROOT, "environments/parallel-single-hop");
const WRITE = Environment.parse(JSON.parse(readFileSync(join(DIR, readdirSync(DIR).find((f) => f.startsWith("retail-psh-write"))!), "utf8")));
const TASK = WRITE.tasks[0]!;

let tmp: TempDir;
let recorder: Recorder;
const servers: HttpServer[] = [];

beforeAll(() => {
  tmp = tempDir();
  recorder = Recorder.open(tmp.db);
});
afterAll(async () => {
  for (const s of servers) await s.close();
  recorder.close();
  tmp.cleanup();
});

/** Everything an agent can read in one episode, played by the gold plan, and the submit result. */
async function play(mode: ServeMode, episode: string) {
  const server = await startHttpServer({ registry: new EnvironmentRegistry([{ env: WRITE }]), recorder, port: 0, mode });
  servers.push(server);
  const client = new Client({ name: "train-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}?env=${WRITE.id}&task=${TASK.id}&episode=${episode}`)));
  const read = async () => JSON.parse(((await client.readResource({ uri: EPISODE_URI })).contents[0] as { text: string }).text) as Record<string, unknown>;
  const seen: unknown[] = [client.getInstructions(), (await client.listTools()).tools, (await client.listResources()).resources, await read()];
  const outputs: string[] = [];
  for (const step of TASK.gold_plan) {
    const r = (await client.callTool({ name: step.tool, arguments: step.arguments })) as { content: { text: string }[] };
    outputs.push(r.content[0]!.text);
    seen.push(await read());
  }
  const submitted = ((await client.callTool({ name: "submit_answer", arguments: { answer: TASK.answer } })) as { content: { text: string }[] }).content[0]!.text;
  seen.push(await read());
  await client.close();
  return { seen: JSON.stringify(seen), outputs, submitted };
}

describe("serve --mode train", () => {
  it("shows no sub-answer counts or score on any agent surface; submit_answer says only received", async () => {
    const train = await play("train", "train-1");
    expect(train.submitted).toBe(JSON.stringify({ status: "received" }));
    for (const word of ["sub_answers", "solved", "pending", "score", "state_match", "solve_rate", "needed"]) expect(train.seen, word).not.toContain(word);
    // The same episode in eval mode shows them: the check above can fail.
    const evaluated = await play("eval", "eval-1");
    expect(evaluated.seen).toContain("sub_answers");
    expect(JSON.parse(evaluated.submitted)).toMatchObject({ status: "submitted", score: { ftrl: { solve_rate: 1, state: { state_match: 1 } } } });
    // Tool outputs are the environment's own, the same in both modes.
    expect(train.outputs).toEqual(evaluated.outputs);
  });

  it("keeps the whole score, final state included, on the control plane", () => {
    const records = new Records(recorder.db);
    const row = records.getEpisode("train-1")!;
    expect(row.status).toBe("submitted");
    expect(row.score?.ftrl).toMatchObject({ solve_rate: 1, answer_correct: true, state: { state_match: 1, changes_made: 1, unexpected_changes: 0 } });
    expect(row.score?.strict.state).toEqual(row.score?.ftrl.state);
  });

  it("the CLI's training listener serves no viewer or reward API, and refuses unknown modes", async () => {
    const { child, url } = await spawnHttpServer(["--mode", "train", "--dir", tmp.envDir, "--db", join(tmp.path, "cli.db")]);
    try {
      const origin = new URL(url).origin;
      // The viewer and the reward API are the control plane's: the agent's listener refuses them.
      expect((await fetch(`${origin}/`)).status).toBe(403);
      expect((await fetch(`${origin}/api/episodes`)).status).toBe(403);
      expect((await fetch(`${origin}/v1/reward`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(403);
      // The REST face's episode look-up is the agent's, and knows no episode "x".
      expect((await fetch(`${origin}/v1/episodes/x`)).status).toBe(404);
    } finally {
      child.kill("SIGTERM");
    }
    await expect(spawnHttpServer(["--mode", "practice", "--dir", tmp.envDir, "--db", join(tmp.path, "cli2.db")])).rejects.toThrow(/--mode is eval or train/);
  });
});
