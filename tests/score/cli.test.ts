// `envforge score`: in process with in-memory streams, and once as a real subprocess.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { memoryIo } from "../helpers/io.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const VECTORS = resolve(import.meta.dirname, "vectors");
const vectorLines = (name: string): string[] => readFileSync(join(VECTORS, name), "utf8").split("\n").filter((l) => l.trim() !== "");

async function run(argv: string[], stdinText = "", cwd = ROOT): Promise<{ code: number; out: string[]; err: string }> {
  const m = memoryIo({ cwd, stdin: stdinText });
  const code = await main(argv, m.io);
  return { code, out: m.out().split("\n").filter((l) => l !== ""), err: m.err() };
}

/** The expected output line of a vector: its id and expected figures. */
const expectedOf = (line: string): Record<string, unknown> => {
  const v = JSON.parse(line) as { id: string; expected: Record<string, number> };
  return { id: v.id, ...v.expected };
};

const TEMP = mkdtempSync(join(tmpdir(), "envforge-score-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));
let files = 0;

function tempFile(lines: string[]): string {
  const file = join(TEMP, `input-${++files}.jsonl`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

describe("envforge score (in process)", () => {
  it("reproduces every vector through the command line", async () => {
    for (const name of ["reward-episodes.jsonl", "reward-steps.jsonl"]) {
      const lines = vectorLines(name);
      const { code, out, err } = await run(["score", join(VECTORS, name)]);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(out).toHaveLength(lines.length);
      out.forEach((o, i) => {
        const got = JSON.parse(o) as Record<string, unknown>;
        const want = expectedOf(lines[i]!);
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
        for (const [k, v] of Object.entries(want)) {
          if (typeof v === "number") expect(Math.abs((got[k] as number) - v), `${String(want.id)} ${k}`).toBeLessThanOrEqual(1e-9);
          else expect(got[k]).toBe(v);
        }
      });
    }
  });

  it("reports a bad line by number on stderr, scores the others, and exits 1", async () => {
    const ep = vectorLines("reward-episodes.jsonl").slice(0, 2);
    const st = vectorLines("reward-steps.jsonl").slice(0, 2);
    const file = tempFile([ep[0]!, "{not json", st[0]!, "", '{"id": "x", "kind": "step", "state": {}}', ep[1]!, st[1]!]);
    const { code, out, err } = await run(["score", file]);
    expect(code).toBe(1);
    expect(out.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(["ep-0000", "st-0000", "ep-0001", "st-0001"]);
    expect(err).toMatch(/input-\d+\.jsonl line 2: not valid JSON/);
    expect(err).toMatch(/input-\d+\.jsonl line 5: state\.unsolved_set: .*raw: /);
    expect(err.trim().split("\n")).toHaveLength(2);
  });

  it("reads stdin for -, and --reward strict switches the mode", async () => {
    const leaked = JSON.stringify({
      id: "leak",
      kind: "episode",
      unsolved_set: { get_year: ["1961"] },
      turns: [{ content: null, tool_calls: [{ name: "get_year", arguments: { year: 1961 }, output: "an error occured when call get_year: 1961 is not a person" }] }],
      answer: "1961",
    });
    const ftrl = await run(["score", "-"], `${leaked}\n`);
    const strict = await run(["score", "-", "--reward", "strict"], `${leaked}\n`);
    expect([ftrl.code, strict.code]).toEqual([0, 0]);
    expect(JSON.parse(ftrl.out[0]!)).toMatchObject({ id: "leak", solved: 1, solve_rate: 1, answer_correct: false });
    expect(JSON.parse(strict.out[0]!)).toMatchObject({ id: "leak", solved: 0, solve_rate: 0 });
  });

  it("rejects a bad command line with a usage error, and a missing file clearly", async () => {
    const bad = await run(["score", "x.jsonl", "--reward", "lenient"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--reward must be one of ftrl, strict/);
    expect((await run(["score"])).code).toBe(2);
    const missing = await run(["score", "does-not-exist.jsonl"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read does-not-exist\.jsonl/);
  });
});

describe("envforge score (subprocess)", () => {
  it("runs from bin/envforge.js, writes one object per good line and exits 1 on a bad one", () => {
    const st = vectorLines("reward-steps.jsonl").slice(0, 3);
    const file = tempFile([st[0]!, '{"kind": "episode"}', st[1]!, st[2]!]);
    const r = spawnSync(process.execPath, [join(ROOT, "bin/envforge.js"), "score", file], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(1);
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toEqual([0, 1, 2].map((i) => expectedOf(st[i]!)));
    expect(r.stderr).toMatch(/line 2: /);
  });
});
