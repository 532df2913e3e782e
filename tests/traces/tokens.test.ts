// Token-faithful rollouts: run --policy llm asks for logprobs and token ids, records them per assistant turn, exports them, and says once when the endpoint gives none.
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { llmFactory } from "../../src/run/index.ts";
import { Records } from "../../src/store/index.ts";
import { ASSISTANT_META_KEY, AtifTrajectory, FtrlRow, type AssistantTurnMeta } from "../../src/schema/index.ts";
import { environmentsIn, EXAMPLES, runInMemory, tempDir } from "../run/helpers.ts";
import { memoryIo } from "../helpers/io.ts";
import { ENV, exportTo, tracesPython } from "./fixtures.ts";
import { runPython } from "../helpers/venv.ts";
import { readParquet } from "../export/helpers.ts";
import { startWireServer, tokensOf, type WireReply } from "./openai-wire.ts";

const tmp = tempDir("envforge-tokens-");
afterAll(() => tmp.cleanup());

const REPLIES: WireReply[] = [
  { content: "", tool_calls: [{ id: "call_f", name: "get_film", arguments: '{"title": "Crimson Harbor"}' }] },
  { content: "", tool_calls: [{ id: "call_p", name: "get_person", arguments: '{"name": "Elena Vastrova"}' }] },
  { content: "Born in 1961." },
];
const script = (body: Record<string, unknown>): WireReply => REPLIES[Math.min((body.messages as { role: string }[]).filter((m) => m.role === "assistant").length, 2)]!;
const textOf = (r: WireReply): string => r.content + (r.tool_calls ?? []).map((c) => c.name + c.arguments).join("");

describe("token capture", () => {
  it("records each turn's token ids and logprobs and exports them as ATIF metrics and FTRL token columns", async () => {
    const server = await startWireServer(script);
    const db = `${tmp.dir}/tokens.db`;
    const notices: string[] = [];
    try {
      const environments = await environmentsIn(EXAMPLES);
      await runInMemory(db, { environments, policy: llmFactory({ baseUrl: server.baseUrl, model: "tok-model", logprobs: 2, tokenIds: true }, "native", (m) => notices.push(m)), envIds: [ENV], taskIds: ["director-birth-year"] });
      expect(notices).toEqual([]);
      expect(server.requests[0]!.body).toMatchObject({ logprobs: true, top_logprobs: 2, return_token_ids: true });
      const records = Records.open(db);
      const [episode] = records.listEpisodes({ limit: 10 }).episodes;
      const metas = records.listCalls(episode!.id).map((c) => (c.assistantMeta as Record<string, AssistantTurnMeta>)[ASSISTANT_META_KEY]!);
      records.close();
      expect(metas.map((m) => m.tokens!.token_ids)).toEqual(REPLIES.slice(0, 2).map((r) => tokensOf(textOf(r)).map((t) => t.id)));
      expect(metas[0]!.tokens).toMatchObject({ logprobs: tokensOf(textOf(REPLIES[0]!)).map((t) => t.logprob), prompt_token_ids: [1, 2, 3], prompt_tokens: 11 });
      expect(metas[0]!.tokens!.top_logprobs![0]).toHaveLength(2);

      const dir = `${tmp.dir}/atif`;
      await exportTo(db, environments, "atif", dir);
      const file = readdirSync(dir).find((f) => f !== "manifest.json")!;
      const t = AtifTrajectory.parse(JSON.parse(readFileSync(`${dir}/${file}`, "utf8")));
      const agentSteps = t.steps.filter((s) => s.source === "agent");
      expect(agentSteps.map((s) => s.metrics?.completion_token_ids)).toEqual(REPLIES.map((r) => tokensOf(textOf(r)).map((x) => x.id)));
      expect(agentSteps[2]!.metrics!.logprobs).toEqual(tokensOf(textOf(REPLIES[2]!)).map((x) => x.logprob));

      const rowsFile = `${tmp.dir}/rows.jsonl`;
      await exportTo(db, environments, "ftrl", rowsFile);
      const rows = readFileSync(rowsFile, "utf8").trim().split("\n").map((l) => FtrlRow.parse(JSON.parse(l)));
      expect(rows.map((r) => r.token_ids!.length)).toEqual([0, 1, 2]);
      expect(rows[2]!.token_ids).toEqual(REPLIES.slice(0, 2).map((r) => tokensOf(textOf(r)).map((x) => x.id)));
      expect(rows[2]!.logprobs![1]).toEqual(tokensOf(textOf(REPLIES[1]!)).map((x) => x.logprob));

      const parquet = `${tmp.dir}/rows.parquet`;
      await exportTo(db, environments, "parquet", parquet);
      const read = await readParquet(readFileSync(parquet));
      expect(read.map((r) => r.token_ids)).toEqual(rows.map((r) => r.token_ids));
      expect(read.map((r) => r.logprobs)).toEqual(rows.map((r) => r.logprobs));
      const arrow = JSON.parse(runPython(tracesPython(), "import json, sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(json.dumps({'ids': t.column('token_ids').to_pylist(), 'type': str(t.schema.field('token_ids').type)}))", [parquet])) as { ids: unknown; type: string };
      expect(arrow).toEqual({ ids: rows.map((r) => r.token_ids), type: "list<element: list<element: int32 not null>>" });
    } finally {
      await server.close();
    }
  });

  it("says once, on stderr, when the endpoint gives no logprobs, and records text only", async () => {
    const server = await startWireServer(script, { logprobs: false });
    const db = `${tmp.dir}/plain.db`;
    try {
      const io = memoryIo({ cwd: tmp.dir });
      const code = await main(["run", "--policy", "llm", "--base-url", server.baseUrl, "--model", "plain-model", "--dir", EXAMPLES, "--env", ENV, "--task", "director-birth-year", "--n", "2", "--db", db], io.io);
      expect(io.err().match(/returned no token logprobs or ids/g)).toHaveLength(1);
      expect(code).toBe(0);
      expect(server.requests).toHaveLength(6);
      expect(server.requests.every((r) => r.body.logprobs === true && !("return_token_ids" in r.body))).toBe(true);
      const records = Records.open(db);
      const episodes = records.listEpisodes({ limit: 10 }).episodes;
      const metas = episodes.flatMap((e) => records.listCalls(e.id)).map((c) => (c.assistantMeta as Record<string, AssistantTurnMeta>)[ASSISTANT_META_KEY]!);
      records.close();
      expect(metas).toHaveLength(4);
      expect(metas.every((m) => m.tokens === undefined)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it("stops asking once the endpoint refuses logprobs with a 400, and says so once", async () => {
    const server = await startWireServer(script, { refuseLogprobs: true });
    try {
      const io = memoryIo({ cwd: tmp.dir });
      const code = await main(["run", "--policy", "llm", "--base-url", server.baseUrl, "--model", "reasoner", "--dir", EXAMPLES, "--env", ENV, "--task", "director-birth-year", "--n", "2", "--retries", "0", "--db", `${tmp.dir}/refused.db`], io.io);
      expect(io.err().match(/refused requests for token logprobs/g)).toHaveLength(1);
      expect(io.err()).not.toContain("failed");
      expect(code).toBe(0);
      // The first request of each rollout (they start together) is refused; every other goes without logprobs.
      const asked = server.requests.map((r) => "logprobs" in r.body);
      expect(asked[0]).toBe(true);
      expect(asked.filter(Boolean).length).toBeLessThanOrEqual(2);
      expect(asked.filter((a) => !a)).toHaveLength(6);
    } finally {
      await server.close();
    }
  });
});
