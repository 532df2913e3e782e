// LLM builds against a local OpenAI-compatible server playing scripted stage replies: good environments
// are kept, bad replies are retried with their errors fed back, bad code is rejected by the gate with the
// right reason, nothing of a rejected candidate is written, the cache makes a re-run free.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { buildToDirectoryWithLlm, httpModel, validateEnvironment, type LlmBuildToDirectoryOptions, type StageName } from "../../src/construct/index.ts";
import { Environment } from "../../src/schema/index.ts";
import { BAD_MARK, startScriptedServer, type Script, type ScriptedServer } from "./scripted.ts";

const TEMP = mkdtempSync(join(tmpdir(), "envforge-build-llm-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

let dirs = 0;
const fresh = (name: string): string => join(TEMP, `${name}-${++dirs}`);

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: Script = {}): Promise<ScriptedServer> {
  const s = await startScriptedServer(script);
  servers.push(s);
  return s;
}

const envFiles = (dir: string): string[] => {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? envFiles(join(dir, e.name)) : e.name.endsWith(".json") ? [join(dir, e.name)] : [])).sort();
};

const ALL: StageName[] = ["decompose", "document", "integrate", "scale", "deploy"];

function options(server: ScriptedServer, extra: Partial<LlmBuildToDirectoryOptions> = {}): LlmBuildToDirectoryOptions {
  const out = fresh("out");
  return {
    out,
    model: httpModel({ baseUrl: server.baseUrl, model: "scripted-model", retries: 0 }),
    llmStages: ALL,
    source: { kind: "topic", topic: "hotel bookings" },
    count: 1,
    seed: 7,
    scenario: "multi-hop",
    complexity: "mixed",
    concurrency: 1,
    cacheDir: fresh("cache"),
    auditFile: join(out, "llm-audit.jsonl"),
    ...extra,
  };
}

const auditLines = (file: string): Record<string, unknown>[] =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("LLM build", () => {
  it("keeps good environments built by the model at every stage, with every exchange recorded", async () => {
    const server = await serve();
    const o = options(server, { count: 2, concurrency: 2, scenario: "mixed" });
    const r = await buildToDirectoryWithLlm(o);
    const files = envFiles(o.out);
    expect(files).toHaveLength(2);
    expect(r.summary.built).toBe(2);
    expect(r.llm.unbuilt).toEqual([]);
    for (const f of files) {
      const env = Environment.parse(JSON.parse(readFileSync(f, "utf8")));
      expect(await validateEnvironment(env, f)).toEqual([]);
      expect(env.provenance.generator).toBe("envforge-llm");
      expect(env.id.startsWith("hotel-bookings-")).toBe(true);
      const llm = env.provenance.stages.llm as { stages: Record<string, string>; exchanges: { stage: string; outcome: string; prompt: string; key: string }[] };
      expect(Object.values(llm.stages)).toEqual(ALL.map(() => "llm"));
      expect(llm.exchanges.map((e) => e.stage)).toEqual(ALL);
      expect(llm.exchanges.every((e) => e.outcome === "accepted" && /^[0-9a-f]{64}$/.test(e.key))).toBe(true);
      expect(llm.exchanges[0]!.prompt).toBe("system@1+decompose@1+source-topic@1");
    }
    // Every candidate asked each stage once (all replies fit); the gate may still turn one down.
    const candidates = r.summary.candidates;
    expect(candidates).toBe(2 + r.llm.gate.candidates - r.llm.gate.passed);
    expect(server.requests).toHaveLength(5 * candidates);
    for (const s of ALL) expect(r.llm.stages[s]).toMatchObject({ mode: "llm", runs: candidates, accepted: candidates, acceptance: 1, requests: candidates, cached: 0 });
    expect(r.llm.requests).toBe(5 * candidates);
    expect(r.llm.prompt_tokens).toBeGreaterThan(0);
    const audit = auditLines(o.auditFile!);
    expect(audit.filter((l) => l.kind === "request")).toHaveLength(5 * candidates);
    expect(audit.filter((l) => l.kind === "kept")).toHaveLength(2);
    const first = audit.find((l) => l.kind === "request" && l.stage === "deploy")!;
    expect(first).toMatchObject({ model: "scripted-model", cached: false, outcome: "accepted" });
    expect((first.messages as { role: string }[]).map((m) => m.role)).toEqual(["system", "user"]);
    expect(typeof first.reply).toBe("string");
  });

  it("sends nothing on a second run: every reply comes from the cache, and the files are byte-identical", async () => {
    const server = await serve();
    const o = options(server, { count: 2, concurrency: 2, scenario: "mixed" });
    await buildToDirectoryWithLlm(o);
    const sent = server.requests.length;
    const again = await buildToDirectoryWithLlm({ ...o, out: fresh("again") });
    expect(server.requests.length).toBe(sent);
    expect(again.llm.requests).toBe(0);
    expect(again.llm.cached).toBe(sent);
    const a = envFiles(o.out);
    const b = envFiles(again.written[0]!.split("/").slice(0, -2).join("/"));
    expect(b.map((f) => f.split("/").slice(-2).join("/"))).toEqual(a.map((f) => f.split("/").slice(-2).join("/")));
    for (const [i, f] of a.entries()) expect(readFileSync(b[i]!, "utf8")).toBe(readFileSync(f, "utf8"));
  });

  it("retries a reply that is not JSON with the parse error fed back", async () => {
    const server = await serve({ decompose: ["invalid-json"] });
    const r = await buildToDirectoryWithLlm(options(server));
    expect(r.summary.built).toBe(1);
    const calls = server.byStage("decompose");
    expect(calls).toHaveLength(2);
    const retry = calls[1]!.body.messages;
    expect(retry.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(retry[2]!.content).toContain('{"title": "unfinished');
    expect(retry[3]!.content).toMatch(/not valid JSON/);
    expect(r.llm.stages.decompose).toMatchObject({ runs: 1, accepted: 1, replies: 2, invalid: { json: 1, schema: 0, contract: 0 } });
  });

  it("gives up a candidate whose stage never fits its contract, names the reason, and builds another", async () => {
    const server = await serve({ document: ["schema", "schema", "schema"] });
    const o = options(server);
    const r = await buildToDirectoryWithLlm(o);
    expect(r.summary.built).toBe(1);
    expect(r.summary.rejected).toEqual({ "document:schema": 1 });
    expect(r.summary.candidates).toBe(2);
    expect(r.llm.stages.document).toMatchObject({ runs: 2, accepted: 1, acceptance: 0.5, rejected: { "document:schema": 1 }, invalid: { schema: 3 } });
    const misfits = server.byStage("document").slice(1, 3);
    for (const m of misfits) expect(m.body.messages.at(-1)!.content).toMatch(/\$\.style|Unrecognized key/);
    for (const f of envFiles(o.out)) expect(readFileSync(f, "utf8")).not.toContain(BAD_MARK);
    const rejectedLine = auditLines(o.auditFile!).find((l) => l.kind === "candidate" && l.outcome === "rejected")!;
    expect(rejectedLine).toMatchObject({ attempt: 0, reason: "document:schema" });
  });

  // A short sandbox limit keeps the endless loop cheap: the gate calls the tool once per probe.
  it.each([
    ["wrong-answer", "gate:replay"],
    ["loop", "gate:runtime"],
    ["leak", "gate:leak"],
  ] as const)("rejects deployed code that %s with %s, and writes nothing of it", async (variant, reason) => {
    const server = await serve({ deploy: [variant] });
    const o = options(server, { attempts: 1, ...(variant === "loop" ? { limits: { timeoutMs: 50 } } : {}) });
    const r = await buildToDirectoryWithLlm(o);
    expect(r.summary.built).toBe(0);
    expect(r.llm.gate).toEqual({ candidates: 1, passed: 0, rejected: { [reason]: 1 } });
    expect(r.llm.unbuilt).toEqual([{ id: expect.stringMatching(/^hotel-bookings-mh-/), reasons: [reason] }]);
    expect(envFiles(o.out)).toEqual([]);
    expect(r.written).toEqual([]);
    const audit = auditLines(o.auditFile!);
    expect(audit.filter((l) => l.kind === "candidate")).toEqual([expect.objectContaining({ outcome: "rejected", reason })]);
    expect(audit.some((l) => l.kind === "kept")).toBe(false);
  });

  it.each(["wrong-answer", "leak"] as const)("keeps %s code out of the files when a later candidate passes", async (variant) => {
    const server = await serve({ deploy: [variant] });
    const o = options(server, { attempts: 2 });
    const r = await buildToDirectoryWithLlm(o);
    expect(r.summary).toMatchObject({ built: 1, candidates: 2 });
    expect(Object.keys(r.summary.rejected)).toHaveLength(1);
    const files = envFiles(o.out);
    expect(files).toHaveLength(1);
    expect(readFileSync(files[0]!, "utf8")).not.toContain(BAD_MARK);
    expect(readFileSync(o.auditFile!, "utf8")).toContain(BAD_MARK);
  });

  it("runs only the chosen stages on the model, the rest procedurally", async () => {
    const server = await serve();
    const r = await buildToDirectoryWithLlm(options(server, { source: { kind: "world" }, llmStages: ["document", "deploy"], count: 2, domain: "films" }));
    expect(r.summary.built).toBe(2);
    const stages = server.requests.map((q) => (q.body.messages[0]!.content ?? "").split("\n")[0]);
    expect(stages).toEqual(Array.from({ length: r.summary.candidates }, () => ["envforge build stage: document", "envforge build stage: deploy"]).flat());
    expect(r.llm.stages.decompose).toMatchObject({ mode: "procedural", runs: r.summary.candidates, requests: 0 });
    expect(r.llm.stages.integrate).toMatchObject({ mode: "procedural", requests: 0 });
    expect(r.environments[0]!.env.id.startsWith("films-")).toBe(true);
  });

  it("sends nothing in a dry run, and follows the cache as far as it goes", async () => {
    const server = await serve();
    const o = options(server, { count: 2, scenario: "mixed", dryRun: true });
    const dry = await buildToDirectoryWithLlm(o);
    expect(server.requests).toHaveLength(0);
    expect(dry.dryRun.map((p) => p.stage)).toEqual(["decompose", "decompose"]);
    expect(dry.dryRun[0]!.messages[1]!.content).toContain("hotel bookings");
    expect(envFiles(o.out)).toEqual([]);
    await buildToDirectoryWithLlm({ ...o, dryRun: false, count: 1 });
    const sent = server.requests.length;
    const warm = await buildToDirectoryWithLlm(o);
    expect(server.requests).toHaveLength(sent);
    expect(warm.llm.complete_from_cache).toBe(1);
    expect(warm.dryRun.map((p) => [p.env, p.stage])).toEqual([[dry.dryRun[1]!.env, "decompose"]]);
  });
});
