// How each odd call a model writes reaches the FTRL rows: JSON non-object arguments kept with their error (native and raw), unparsable ones and nameless ones left out.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ftrlRows, transcripts } from "../../src/export/index.ts";
import type { Environment, FtrlRow } from "../../src/schema/index.ts";
import { Records } from "../../src/store/index.ts";
import { environmentsIn, EXAMPLES, tempDir } from "../run/helpers.ts";
import type { ChatRequest, ScriptedReply } from "../run/openai-server.ts";
import { turnOf } from "../run/scripted.ts";
import { recordScripted } from "./helpers.ts";

const tmp = tempDir("envforge-odd-calls-");
const db = join(tmp.dir, "odd.db");
let environments: Environment[] = [];

/** One turn with every kind of structured call: good, JSON but not an object, not JSON, no name. */
const native = (req: ChatRequest): ScriptedReply =>
  turnOf(req) === 0
    ? {
        content: null,
        tool_calls: [
          { id: "good", name: "get_film", arguments: { title: "Crimson Harbor" } },
          { id: "list", name: "get_person", arguments: "[1]" },
          { id: "broken", name: "get_film", arguments: "{title: Crimson" },
          { id: "nameless", name: "", arguments: {} },
        ],
      }
    : { content: "1961" };

/** The same in Hermes text: a JSON-string non-object, a block that does not parse, a good block. */
const RAW = '<tool_call>\n{"name": "get_person", "arguments": "[1]"}\n</tool_call>\n<tool_call>\n{"name": "get_film", "arguments": {oops}\n</tool_call>\n<tool_call>\n{"name": "get_film", "arguments": {"title": "Crimson Harbor"}}\n</tool_call>';
const raw = (req: ChatRequest): ScriptedReply => ({ content: turnOf(req) === 0 ? RAW : "1961" });

beforeAll(async () => {
  environments = await environmentsIn(EXAMPLES);
  await recordScripted(db, environments, [[native, "native", "odd-native"], [raw, "raw", "odd-raw"]]);
}, 120_000);
afterAll(() => tmp.cleanup());

function rowsOf(model: string): { rows: FtrlRow[]; calls: number } {
  const records = Records.open(db);
  try {
    const stats = { episodes: 0, exported: 0, rows: 0, bytes: 0, skipped: {} };
    const [t] = [...transcripts(records, environments, { model }, stats)];
    return { rows: ftrlRows(t!), calls: t!.episode.callCount };
  } finally {
    records.close();
  }
}

const ERROR = "an error occured when call get_person: the arguments are not a JSON object: [1]";

describe("odd calls in FTRL rows", { timeout: 60_000 }, () => {
  it("native: the non-object call is in the row with its error; the unparsable and nameless calls are not", () => {
    const { rows, calls } = rowsOf("odd-native");
    expect(calls).toBe(2);
    expect(rows).toHaveLength(2);
    const [, assistant, ...results] = rows[1]!.messages;
    expect(assistant).toMatchObject({ role: "assistant", tool_calls: [
      { id: "good", function: { name: "get_film", arguments: '{"title": "Crimson Harbor"}' } },
      { id: "list", function: { name: "get_person", arguments: "[1]" } },
    ] });
    expect(results.map((m) => [m.role, m.role === "tool" ? m.tool_call_id : null])).toEqual([["tool", "good"], ["tool", "list"]]);
    expect(results[1]!.content).toBe(ERROR);
    expect(JSON.parse(rows[1]!.unsolved_set)).toEqual({ get_film: [], get_person: ["1961"] });
    expect(rows[1]!.solve_rate).toBe(0.5);
  });

  it("raw: the JSON-string non-object call is kept with its text and its error; the block that does not parse is gone", () => {
    const { rows, calls } = rowsOf("odd-raw");
    expect(calls).toBe(2);
    const [, assistant, ...results] = rows[1]!.messages;
    expect(assistant).toMatchObject({ role: "assistant", tool_calls: [
      { function: { name: "get_person", arguments: "[1]" } },
      { function: { name: "get_film", arguments: '{"title": "Crimson Harbor"}' } },
    ] });
    expect(results.map((m) => m.content)).toEqual([ERROR, expect.stringContaining("Elena Vastrova")]);
    expect(rows[1]!.solve_rate).toBe(0.5);
  });
});
