// Import and re-score: exports read back into a fresh database give the same scores; bad files name the line or step and store nothing.
import { readFileSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { ImportError, importTrajectories, type ImportFormat } from "../../src/export/index.ts";
import { openDb, Records, type EpisodeRow } from "../../src/store/index.ts";
import type { Environment, FtrlRow } from "../../src/schema/index.ts";
import { EXAMPLES, tempDir } from "../run/helpers.ts";
import { memoryIo } from "../helpers/io.ts";
import { ENV, exportTo, recordRollouts } from "./fixtures.ts";
import { startViewServer, Viewer } from "../../src/view/index.ts";

const tmp = tempDir("envforge-import-");
const db = `${tmp.dir}/rollouts.db`;
let environments: Environment[];
let originals: EpisodeRow[];

beforeAll(async () => {
  environments = await recordRollouts(db);
  const records = Records.open(db);
  originals = records.listEpisodes({ limit: 100 }).episodes;
  records.close();
}, 120_000);
afterAll(() => tmp.cleanup());

let n = 0;
async function importInto(format: ImportFormat, file: string, extra: string[] = []): Promise<{ code: number; out: string; err: string; db: string }> {
  const target = `${tmp.dir}/import-${n++}.db`;
  const io = memoryIo({ cwd: tmp.dir });
  const code = await main(["import", "--format", format, file, "--db", target, "--dir", EXAMPLES, ...extra], io.io);
  return { code, out: io.out(), err: io.err(), db: target };
}

function imported(file: string): EpisodeRow[] {
  const records = Records.open(file);
  try {
    return records.listEpisodes({ kind: "imported", limit: 1000 }).episodes;
  } finally {
    records.close();
  }
}

const sourceId = (e: EpisodeRow): string => ((e.meta as { source: { id: string } }).source.id);

describe("import", () => {
  it("reads an ATIF export back as imported episodes with the same scores in both modes, and the same FTRL rows", async () => {
    const dir = `${tmp.dir}/atif`;
    await exportTo(db, environments, "atif", dir);
    const r = await importInto("atif", dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^imported ${originals.length} episodes \\(\\d+ calls\\)`));
    const back = imported(r.db);
    expect(back).toHaveLength(originals.length);
    for (const e of back) {
      const o = originals.find((x) => x.id === sourceId(e))!;
      expect(e).toMatchObject({ kind: "imported", envId: o.envId, taskId: o.taskId, status: "submitted", finalAnswer: o.finalAnswer, callCount: o.callCount, solvedFtrl: o.solvedFtrl, solvedStrict: o.solvedStrict });
      expect(e.score).toEqual(o.score);
    }
    const rows = async (file: string): Promise<FtrlRow[]> => {
      const out = `${tmp.dir}/rows-${n++}.jsonl`;
      await exportTo(file, environments, "ftrl", out);
      return readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as FtrlRow).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    };
    expect(await rows(r.db)).toEqual(await rows(db));
  });

  it("reads HF rows for one task given --env and --task, and FTRL rows naming their own", async () => {
    const hf = `${tmp.dir}/raw.jsonl`;
    await exportTo(db, environments, "hf", hf, { model: "raw-model" });
    const a = await importInto("hf", hf, ["--env", ENV, "--task", "director-birth-year"]);
    expect(a.code).toBe(0);
    const raw = originals.find((o) => o.finalMeta && JSON.stringify(o.finalMeta).includes('"agent":"raw-model"'))!;
    expect(imported(a.db).map((e) => e.score)).toEqual([raw.score]);

    const ftrl = `${tmp.dir}/all.jsonl`;
    await exportTo(db, environments, "ftrl", ftrl);
    const b = await importInto("ftrl", ftrl);
    expect(b.err).toBe("");
    expect(b.code).toBe(0);
    const back = imported(b.db);
    // FTRL rows end before the answer: same calls and solves, no answer, so the episodes are closed.
    expect(back).toHaveLength(originals.length);
    expect(back.map((e) => e.status)).toEqual(originals.map(() => "closed"));
    const metrics = (e: EpisodeRow) => ({ ftrl: { ...e.score!.ftrl, answer_correct: null }, strict: { ...e.score!.strict, answer_correct: null } });
    expect(back.map(metrics).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1))).toEqual(originals.map(metrics).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1)));
  });

  it("lists imported episodes in the viewer under source=imported, apart from the recorded ones", async () => {
    const file = `${tmp.dir}/for-viewer.jsonl`;
    await exportTo(db, environments, "hf", file, { model: "raw-model" });
    const r = await importInto("hf", file, ["--env", ENV, "--task", "director-birth-year"]);
    expect(r.code).toBe(0);
    const records = Records.open(r.db);
    const viewer = new Viewer({ records, environments });
    const server = await startViewServer({ viewer, port: 0 });
    const base = server.url.replace(/\/$/, "");
    type Page = { total: number; rows: { id: string }[] };
    try {
      const importedPage = (await (await fetch(`${base}/api/episodes?source=imported`)).json()) as Page;
      expect(importedPage.rows.map((e) => e.id)).toEqual(imported(r.db).map((e) => e.id));
      expect(importedPage.total).toBe(1);
      expect(((await (await fetch(`${base}/api/episodes`)).json()) as Page).total).toBe(0);
      const html = await (await fetch(`${base}/?source=imported`)).text();
      expect(html).toContain(`<option value="imported" selected>`);
      expect(html).toContain(imported(r.db)[0]!.id);
      expect((await fetch(`${base}/api/episodes?source=elsewhere`)).status).toBe(400);
    } finally {
      await server.close();
      viewer.close();
      records.close();
    }
  });

  it("names the line of each bad row, imports nothing, and refuses a second import of the same file", async () => {
    const good = `${tmp.dir}/good.jsonl`;
    await exportTo(db, environments, "hf", good, { model: "raw-model" });
    const row = readFileSync(good, "utf8").trim();
    const bad = `${tmp.dir}/bad.jsonl`;
    writeFileSync(bad, [row, '{"messages": [', row.replace(/"get_person"/g, '"get_persona"'), '{"messages": [{"role": "tool", "content": "x"}]}'].join("\n"));
    const r = await importInto("hf", bad, ["--env", ENV, "--task", "director-birth-year"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("nothing imported");
    expect(r.err).toContain("line 2: not JSON");
    expect(r.err).toContain('line 3: tools ["get_persona"] are not in environment example-films-director-birth');
    expect(r.err).toContain("message 1 of line 4: a tool result with no pending tool call");
    expect(imported(r.db)).toEqual([]);
    const twice = `${tmp.dir}/twice.db`;
    for (const expected of [0, 1]) {
      const io = memoryIo({ cwd: tmp.dir });
      expect(await main(["import", "--format", "hf", good, "--db", twice, "--dir", EXAMPLES, "--env", ENV, "--task", "director-birth-year"], io.io)).toBe(expected);
      if (expected === 1) expect(io.err()).toMatch(/line 1: already imported as episode imported-/);
    }
    expect(imported(twice)).toHaveLength(1);
  });

  it("rejects ATIF steps out of order, tool calls without results, unknown tasks and edited files, by step", async () => {
    const dir = `${tmp.dir}/atif-bad`;
    await exportTo(db, environments, "atif", dir, { model: "native-model" });
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8")) as { trajectories: { file: string }[] };
    const file = `${dir}/${manifest.trajectories[0]!.file}`;
    const t = JSON.parse(readFileSync(file, "utf8")) as { steps: { step_id: number; observation?: { results: unknown[] } }[]; extra: { envforge: { task: string } } };
    const cases: [string, (x: typeof t) => void, string][] = [
      ["order", (x) => void ([x.steps[1]!.step_id, x.steps[2]!.step_id] = [3, 2]), "step 3 of the file: steps out of order (expected step_id 2)"],
      ["result", (x) => void x.steps[1]!.observation!.results.pop(), "the file: turn 1: tool call call_b has no result"],
      ["task", (x) => void (x.extra.envforge.task = "no-such-task"), 'the file: unknown task "no-such-task" in environment example-films-director-birth'],
    ];
    for (const [name, edit, message] of cases) {
      const copy = structuredClone(t);
      edit(copy);
      const one = `${tmp.dir}/bad-${name}.json`;
      writeFileSync(one, JSON.stringify(copy));
      const r = await importInto("atif", one);
      expect(r.err, name).toContain(message);
      expect(imported(r.db)).toEqual([]);
    }
    writeFileSync(file, readFileSync(file, "utf8").replace("Crimson Harbor", "Crimson Harbour"));
    const r = await importInto("atif", dir);
    expect(r.err).toContain("SHA-256 differs from manifest.json");
  });

  it("imports a file cut anywhere either whole or not at all (property)", async () => {
    const file = `${tmp.dir}/oracle.jsonl`;
    await exportTo(db, environments, "hf", file, { model: "oracle" });
    const text = readFileSync(file, "utf8");
    const lines = text.trim().split("\n").length;
    const env = environments.find((e) => e.id === ENV)!;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: text.length }), async (cut) => {
        const part = `${tmp.dir}/part.jsonl`;
        writeFileSync(part, text.slice(0, cut));
        const target = openDb(":memory:");
        try {
          const result = await importTrajectories({ db: target, environments: [env, ...environments.filter((e) => e !== env)], file: part, format: "hf" }).catch((e: unknown) => e);
          const stored = target.prepare("SELECT count(*) FROM episodes").pluck().get() as number;
          if (result instanceof ImportError) expect(stored).toBe(0);
          else {
            expect(result).not.toBeInstanceOf(Error);
            expect(stored).toBeGreaterThan(0);
            expect(stored).toBeLessThanOrEqual(lines);
          }
        } finally {
          target.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
