// An episode's MCP surface, driven in process by the SDK client over a linked in-memory transport pair.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { EPISODE_URI, EnvironmentRegistry, openInProcessEpisode, TASK_URI, type InProcessEpisode } from "../../src/serve/index.ts";
import { Environment, type EpisodeScores } from "../../src/schema/index.ts";
import { COUNTER, EXAMPLE, tempDir, type TempDir } from "./fixtures.ts";

const FILMS = Environment.parse(JSON.parse(readFileSync(EXAMPLE, "utf8")));
let tmp: TempDir;
let recorder: Recorder;
let records: Records;
let registry: EnvironmentRegistry;

beforeAll(() => {
  tmp = tempDir();
  recorder = Recorder.open(tmp.db);
  records = new Records(recorder.db);
  registry = new EnvironmentRegistry([{ env: COUNTER }, { env: FILMS }], { timeoutMs: 300 });
});
afterAll(() => {
  recorder.close();
  tmp.cleanup();
});

async function open(options: { envId?: string; taskId?: string; maxCalls?: number; submitTool?: boolean; episodeId?: string } = {}) {
  const ip: InProcessEpisode = await openInProcessEpisode({ registry, recorder, envId: options.envId ?? COUNTER.id, taskId: options.taskId ?? "code-alpha", ...options });
  const client = new Client({ name: "episode-test", version: "1.0.0" });
  await client.connect(ip.transport);
  return { ip, client };
}

const text = (result: unknown): string => ((result as { content: { text: string }[] }).content[0]!.text);
const resourceText = async (client: Client, uri: string) => ((await client.readResource({ uri })).contents[0] as { text: string }).text;
const readJson = async (client: Client, uri: string) => JSON.parse(await resourceText(client, uri)) as Record<string, unknown>;

describe("the episode surface", () => {
  it("lists the environment's tools verbatim, plus submit_answer, and asks the task three ways", async () => {
    const { ip, client } = await open();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["add", "lookup_code", "fail", "spin", "submit_answer"]);
    for (const tool of COUNTER.tools) {
      const listed = tools.find((t) => t.name === tool.name)!;
      expect(listed.inputSchema).toEqual(tool.input_schema);
      expect(listed.description).toBe(tool.description);
      if (tool.output_schema) expect(listed.outputSchema).toEqual(tool.output_schema);
      if (tool.annotations) expect(listed.annotations).toEqual(tool.annotations);
    }
    const question = COUNTER.tasks[0]!.question;
    expect(client.getInstructions()).toContain(question);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(["code-alpha"]);
    const prompt = await client.getPrompt({ name: "code-alpha" });
    expect(prompt.messages).toEqual([{ role: "user", content: { type: "text", text: question } }]);
    await expect(client.getPrompt({ name: "code-beta" })).rejects.toThrow(/unknown prompt "code-beta"/);
    expect(await resourceText(client, TASK_URI)).toBe(question);
    await expect(client.readResource({ uri: "envforge://nothing" })).rejects.toThrow(/resource not found/);
    await ip.close();
  });

  it("hides submit_answer when asked to", async () => {
    const { ip, client } = await open({ submitTool: false });
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("submit_answer");
    const result = await client.callTool({ name: "submit_answer", arguments: { answer: "K-7731-QZ" } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/^an error occured when call submit_answer: /);
    await ip.close();
  });

  it("never shows an answer, a sub-answer or implementation code before the answer is submitted", async () => {
    for (const env of [COUNTER, FILMS]) {
      for (const task of env.tasks) {
        const { ip, client } = await open({ envId: env.id, taskId: task.id });
        const seen: unknown[] = [client.getInstructions(), client.getServerVersion(), await client.listTools(), await client.listPrompts(), await client.listResources()];
        for (const p of (await client.listPrompts()).prompts) seen.push(await client.getPrompt({ name: p.name }));
        for (const r of (await client.listResources()).resources) seen.push(await client.readResource({ uri: r.uri }));
        const surface = JSON.stringify(seen);
        const secrets = [
          ...env.tasks.flatMap((t) => [t.answer, ...Object.values(t.unsolved_set).flat()]),
          ...Object.values(env.implementation.tools),
          ...(env.implementation.prelude ? [env.implementation.prelude] : []),
        ];
        for (const secret of secrets) expect(surface, `${env.id}/${task.id} leaks ${secret}`).not.toContain(JSON.stringify(secret).slice(1, -1));
        await ip.close();
      }
    }
  });
});

describe("tool calls", () => {
  it("runs tools against this episode's own state and reports failures as isError results", async () => {
    const { ip, client } = await open();
    expect(text(await client.callTool({ name: "add", arguments: { n: 2 } }))).toBe('{"count": 2}');
    expect(text(await client.callTool({ name: "add", arguments: { n: 3 } }))).toBe('{"count": 5}');
    const structured = await client.callTool({ name: "lookup_code", arguments: { name: "beta" } });
    expect(structured.structuredContent).toEqual({ name: "beta", code: "M-0042-RT" });

    const bad = await client.callTool({ name: "add", arguments: { n: "two" } });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/^an error occured when call add: .*\bn\b/);
    const unknown = await client.callTool({ name: "no_such_tool", arguments: {} });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/^an error occured when call no_such_tool: /);
    const thrown = await client.callTool({ name: "fail", arguments: { message: "the vault is sealed" } });
    expect(text(thrown)).toBe("an error occured when call fail: the vault is sealed");
    const spun = await client.callTool({ name: "spin", arguments: {} });
    expect(spun.isError).toBe(true);
    expect(text(await client.callTool({ name: "add", arguments: { n: 1 } }))).toBe('{"count": 6}');

    const calls = records.listCalls(ip.episode.id);
    expect(calls.map((c) => [c.seq, c.tool, c.isError, c.errorKind])).toEqual([
      [1, "add", false, null],
      [2, "add", false, null],
      [3, "lookup_code", false, null],
      [4, "add", true, "invalid_arguments"],
      [5, "no_such_tool", true, "unknown_tool"],
      [6, "fail", true, "tool_error"],
      [7, "spin", true, "timeout"],
      [8, "add", false, null],
    ]);
    expect(calls[2]!.solvedFtrl).toBeNull();
    await ip.close();
    expect(records.getEpisode(ip.episode.id)).toMatchObject({ status: "closed", callCount: 8 });
  });

  it("runs parallel calls of one episode one at a time, in arrival order", async () => {
    const { ip, client } = await open();
    const results = await Promise.all(Array.from({ length: 20 }, () => client.callTool({ name: "add", arguments: { n: 1 } })));
    expect(results.map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `{"count": ${i + 1}}`));
    expect(records.listCalls(ip.episode.id).map((c) => c.output)).toEqual(results.map(text));
    await ip.close();
  });

  it("stores the assistant turn a call carries in _meta", async () => {
    const { ip, client } = await open();
    const meta = { "envforge/assistant": { turn: 0, message: { role: "assistant", content: "Looking it up.", tool_calls: [] } }, other: [1, 2] };
    await client.callTool({ name: "lookup_code", arguments: { name: "alpha" }, _meta: meta });
    expect(records.listCalls(ip.episode.id)[0]!.assistantMeta).toEqual(meta);
    await ip.close();
  });
});

describe("submitting and limits", () => {
  it("scores a submitted answer in both modes, returns and stores the score, then refuses more calls", async () => {
    const { ip, client } = await open({ episodeId: "submit-right" });
    await client.callTool({ name: "add", arguments: { n: 1 } });
    await client.callTool({ name: "lookup_code", arguments: { name: "alpha" } });
    const before = await readJson(client, EPISODE_URI);
    expect(before).toMatchObject({ status: "running", calls: { made: 2, limit: 100 }, sub_answers: { needed: 1, solved: 1, pending: 0 }, score: null });

    const submitted = await client.callTool({ name: "submit_answer", arguments: { answer: "The code is K-7731-QZ." } });
    expect(submitted.isError).toBeFalsy();
    const body = JSON.parse(text(submitted)) as { status: string; score: EpisodeScores };
    const expected = { solved: 1, calls: 2, needed: 1, solve_precision: 0.5, solve_rate: 1, solve_f1: 2 / 3, answer_correct: true };
    expect(body.score).toEqual({ ftrl: { ...expected, mode: "ftrl" }, strict: { ...expected, mode: "strict" } });

    const row = records.getEpisode("submit-right")!;
    expect(row).toMatchObject({ status: "submitted", finalAnswer: "The code is K-7731-QZ.", score: body.score, solvedFtrl: 1, solvedStrict: 1 });
    expect((await readJson(client, EPISODE_URI)).score).toEqual(body.score);

    const after = await client.callTool({ name: "add", arguments: { n: 1 } });
    expect(after.isError).toBe(true);
    expect(text(after)).toMatch(/episode has ended \(submitted\)/);
    const again = await client.callTool({ name: "submit_answer", arguments: { answer: "other" } });
    expect(again.isError).toBe(true);
    await ip.close();
    expect(records.getEpisode("submit-right")).toMatchObject({ status: "submitted", finalAnswer: "The code is K-7731-QZ.", callCount: 2 });
  });

  it("marks a wrong answer incorrect, and refuses a non-string answer without ending", async () => {
    const { ip, client } = await open({ episodeId: "submit-wrong" });
    const invalid = await client.callTool({ name: "submit_answer", arguments: { answer: 42 } });
    expect(invalid.isError).toBe(true);
    expect(ip.episode.status).toBe("running");
    const submitted = JSON.parse(text(await client.callTool({ name: "submit_answer", arguments: { answer: "M-0042-RT" } }))) as { score: EpisodeScores };
    expect(submitted.score.ftrl).toMatchObject({ answer_correct: false, solved: 0, calls: 0, solve_precision: 1, solve_rate: 0, solve_f1: 0 });
    await ip.close();
  });

  it("ends the episode as limit_exceeded at the call past the limit", async () => {
    const { ip, client } = await open({ maxCalls: 3, episodeId: "limited" });
    for (let i = 0; i < 3; i++) expect((await client.callTool({ name: "add", arguments: { n: 1 } })).isError).toBeFalsy();
    const refused = await client.callTool({ name: "add", arguments: { n: 1 } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/at most 3 tool calls/);
    expect((await client.callTool({ name: "submit_answer", arguments: { answer: "x" } })).isError).toBe(true);
    expect(records.getEpisode("limited")).toMatchObject({ status: "limit_exceeded", callCount: 3, score: { ftrl: { calls: 3, answer_correct: null } } });
    await ip.close();
  });

  it("refuses an episode id that is already recorded, and unknown environments or tasks", async () => {
    await expect(open({ episodeId: "submit-right" })).rejects.toThrow(/already in the database/);
    await expect(open({ episodeId: "bad id!" })).rejects.toThrow(/invalid episode id/);
    await expect(open({ envId: "nope" })).rejects.toThrow(/unknown environment "nope"/);
    await expect(open({ taskId: "nope" })).rejects.toThrow(/has no task "nope"; its tasks are: code-alpha, code-beta/);
  });
});
