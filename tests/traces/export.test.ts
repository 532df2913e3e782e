// Trace exports read back by their owners' readers: Harbor's ATIF models, Inspect AI's read_eval_log, pyarrow for HF rows, the OTLP protobuf bindings.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { Records } from "../../src/store/index.ts";
import { AtifTrajectory, size, type Environment } from "../../src/schema/index.ts";
import { EXAMPLES, tempDir } from "../run/helpers.ts";
import { memoryIo } from "../helpers/io.ts";
import { runPython } from "../helpers/venv.ts";
import { startViewServer, Viewer } from "../../src/view/index.ts";
import { withoutNulls } from "../export/helpers.ts";
import { ENV, exportTo, harborModels, inspectPython, recordRollouts, tracesPython } from "./fixtures.ts";

const tmp = tempDir("envforge-traces-");
const db = `${tmp.dir}/rollouts.db`;
let environments: Environment[];
let episodes: number;

beforeAll(async () => {
  environments = await recordRollouts(db);
  const records = Records.open(db);
  episodes = records.listEpisodes({ limit: 100 }).episodes.length;
  records.close();
}, 120_000);
afterAll(() => tmp.cleanup());

describe("atif export", () => {
  it("writes one trajectory per episode that Harbor's own ATIF models accept, and a SHA-256 manifest of them", async () => {
    const dir = `${tmp.dir}/atif`;
    const stats = await exportTo(db, environments, "atif", dir);
    expect(stats).toMatchObject({ episodes, exported: episodes, rows: episodes });
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8")) as { format: string; trajectories: { file: string; sha256: string; bytes: number; episode: string }[] };
    expect(manifest.format).toBe("ATIF-v1.8");
    expect(manifest.trajectories).toHaveLength(episodes);
    expect(readdirSync(dir).sort()).toEqual([...manifest.trajectories.map((t) => t.file), "manifest.json"].sort());
    for (const t of manifest.trajectories) {
      const bytes = readFileSync(`${dir}/${t.file}`);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(t.sha256);
      expect(bytes.length).toBe(t.bytes);
      AtifTrajectory.parse(JSON.parse(bytes.toString("utf8")));
    }
    const python = tracesPython();
    const out = runPython(
      python,
      `import json, sys, pathlib
from harbor.models.trajectories import Trajectory
res = {}
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    if p.name == "manifest.json": continue
    t = Trajectory.model_validate_json(p.read_text())
    res[t.session_id] = {"version": t.schema_version, "sources": [s.source for s in t.steps], "calls": [[c.function_name for c in (s.tool_calls or [])] for s in t.steps],
        "results": [[r.source_call_id for r in (s.observation.results if s.observation else [])] for s in t.steps], "extra": t.extra, "tools": [d["function"]["name"] for d in t.agent.tool_definitions]}
print(json.dumps(res))`,
      [dir],
      { PYTHONPATH: harborModels(python) },
    );
    const read = JSON.parse(out) as Record<string, { version: string; sources: string[]; calls: string[][]; results: string[][]; extra: { envforge: { reward: { ftrl: { solve_f1: number } | null; strict: unknown }; env: string } }; tools: string[] }>;
    expect(Object.keys(read)).toHaveLength(episodes);
    const native = Object.values(read).find((t) => t.calls.flat().includes("get_weather"))!;
    // The question, two tool-calling turns, the answer; the broken-JSON call is still a call.
    expect(native.sources).toEqual(["user", "agent", "agent", "agent"]);
    expect(native.calls).toEqual([[], ["get_film", "get_weather"], ["get_person", "get_person"], []]);
    expect(native.results[1]).toEqual(["call_a", "call_b"]);
    expect(native.extra.envforge.env).toBe(ENV);
    // Four calls, one with arguments that were not a JSON object (a call too, as the reference counts it); two solved.
    expect(native.extra.envforge.reward.ftrl!.solve_f1).toBeCloseTo(2 / 3, 12);
    expect(native.extra.envforge.reward.strict).not.toBeNull();
    expect(native.tools).toEqual(["get_film", "get_person"]);
  }, 600_000);

  it("keeps arguments that are not a JSON object as text in the tool call's extra", async () => {
    const dir = `${tmp.dir}/atif-native`;
    await exportTo(db, environments, "atif", dir, { model: "native-model" });
    const [file] = readdirSync(dir).filter((f) => f !== "manifest.json");
    const t = AtifTrajectory.parse(JSON.parse(readFileSync(`${dir}/${file}`, "utf8")));
    const broken = t.steps[2]!.tool_calls![0]!;
    expect(broken).toEqual({ tool_call_id: "call_c", function_name: "get_person", arguments: {}, extra: { arguments_text: '["Elena Vastrova"]' } });
    expect(t.steps[2]!.tool_calls![1]!.arguments).toEqual({ name: "Elena Vastrova" });
  });
});

describe("inspect export", () => {
  it("writes an eval log that inspect_ai.log.read_eval_log reads: samples per episode, groups as epochs, two scorers", async () => {
    const file = `${tmp.dir}/log.json`;
    const stats = await exportTo(db, environments, "inspect", file);
    expect(stats.rows).toBe(episodes);
    const out = runPython(
      inspectPython(),
      `import json, sys
from inspect_ai.log import read_eval_log
log = read_eval_log(sys.argv[1])
print(json.dumps({"status": log.status, "model": log.eval.model, "epochs": log.eval.config.epochs,
  "scorers": [s.name for s in log.results.scores],
  "samples": [{"id": s.id, "epoch": s.epoch, "roles": [m.role for m in s.messages], "tools": [[c.function for c in (m.tool_calls or [])] for m in s.messages if m.role == "assistant"],
               "scores": {k: v.value for k, v in (s.scores or {}).items()}, "target": s.target, "episode": s.metadata["episode"]} for s in log.samples]}))`,
      [file],
    );
    const log = JSON.parse(out) as { status: string; model: string; epochs: number; scorers: string[]; samples: { id: string; epoch: number; roles: string[]; tools: string[][]; scores: Record<string, number>; target: string }[] };
    expect(log).toMatchObject({ status: "success", model: "envforge/mixed", epochs: 2, scorers: ["envforge_ftrl", "envforge_strict"] });
    expect(log.samples).toHaveLength(episodes);
    const oracle = log.samples.filter((s) => s.id.endsWith("/oracle"));
    // Two rollouts per task: epochs 1 and 2 of each group.
    expect(oracle.map((s) => s.epoch).sort()).toEqual(oracle.map((_, i) => (i % 2) + 1).sort());
    for (const s of oracle) expect(s.scores).toEqual({ envforge_ftrl: 1, envforge_strict: 1 });
    const native = log.samples.find((s) => s.id === `${ENV}/director-birth-year/native-model`)!;
    expect(native.roles).toEqual(["user", "assistant", "tool", "tool", "assistant", "tool", "tool", "assistant"]);
    expect(native.tools).toEqual([["get_film", "get_weather"], ["get_person", "get_person"], []]);
    expect(native.scores.envforge_ftrl).toBeCloseTo(2 / 3, 12);
    expect(native.target).toBe("1961");
  }, 900_000);
});

describe("hf export", () => {
  it("writes {messages, tools} rows with argument objects that pyarrow reads back unchanged", async () => {
    const file = `${tmp.dir}/hf.jsonl`;
    const stats = await exportTo(db, environments, "hf", file);
    // The native rollout's broken-JSON arguments cannot be an object: that episode gives no row.
    expect(stats).toMatchObject({ episodes, exported: episodes - 1, skipped: { no_final_answer: 1 } });
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { messages: { role: string; tool_calls?: { function: { arguments: unknown } }[] }[]; tools: unknown[] });
    for (const row of lines) {
      expect(Object.keys(row).sort()).toEqual(["messages", "tools"]);
      for (const m of row.messages) for (const tc of m.tool_calls ?? []) expect(typeof tc.function.arguments).toBe("object");
    }
    const read = JSON.parse(runPython(tracesPython(), "import json, sys, pyarrow.json as pj; print(json.dumps(pj.read_json(sys.argv[1]).to_pylist()))", [file])) as unknown[];
    expect(withoutNulls(read)).toEqual(withoutNulls(lines.map((l) => ({ ...l, messages: l.messages.map((m) => (m.role === "assistant" && m.tool_calls?.length === 0 ? { ...m, tool_calls: [] } : m)) }))));
  }, 600_000);
});

describe("otlp export", () => {
  it("writes OTLP/JSON trace requests the OTLP protobuf bindings parse, with GenAI spans and evaluation events", async () => {
    const file = `${tmp.dir}/spans.jsonl`;
    const io = memoryIo({ cwd: tmp.dir });
    expect(await main(["export", "--format", "otlp", "--out", file, "--db", db, "--dir", EXAMPLES], io.io)).toBe(0);
    expect(io.out()).toContain(`wrote ${episodes} rows (${size(statSync(file).size)}) from ${episodes} of ${episodes} episodes`);
    const out = runPython(
      tracesPython(),
      `import json, sys, base64
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
def b64ids(o):
    # OTLP/JSON writes trace and span ids as hex; the protobuf JSON mapping wants base64.
    if isinstance(o, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId") and v else b64ids(v)) for k, v in o.items()}
    if isinstance(o, list): return [b64ids(x) for x in o]
    return o
res = []
for line in open(sys.argv[1]):
    req = json_format.Parse(json.dumps(b64ids(json.loads(line))), ExportTraceServiceRequest())
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                res.append({"trace": s.trace_id.hex(), "id": s.span_id.hex(), "parent": s.parent_span_id.hex(), "name": s.name, "status": s.status.code,
                  "attrs": {a.key: json_format.MessageToDict(a.value) for a in s.attributes}, "events": [e.name for e in s.events],
                  "eval": [{a.key: json_format.MessageToDict(a.value) for a in e.attributes} for e in s.events]})
print(json.dumps(res))`,
      [file],
    );
    const spans = JSON.parse(out) as { trace: string; id: string; parent: string; name: string; status: number; attrs: Record<string, Record<string, unknown>>; events: string[]; eval: Record<string, Record<string, unknown>>[] }[];
    const roots = spans.filter((s) => s.parent === "");
    expect(roots).toHaveLength(episodes);
    expect(new Set(roots.map((r) => r.trace)).size).toBe(episodes);
    for (const s of spans) {
      expect(s.trace).toMatch(/^[0-9a-f]{32}$/);
      expect(s.id).toMatch(/^[0-9a-f]{16}$/);
      if (s.parent) expect(roots.find((r) => r.trace === s.trace)!.id).toBe(s.parent);
    }
    const weather = spans.find((s) => s.name === "execute_tool get_weather")!;
    expect(weather.attrs["gen_ai.operation.name"]).toEqual({ stringValue: "execute_tool" });
    expect(weather.attrs["gen_ai.tool.call.id"]).toEqual({ stringValue: "call_b" });
    expect(weather.attrs["error.type"]).toEqual({ stringValue: "tool_error" });
    expect(weather.status).toBe(2);
    const root = roots.find((r) => r.trace === weather.trace)!;
    expect(root.name).toBe("invoke_agent native-model");
    expect(root.events).toEqual(["gen_ai.evaluation.result", "gen_ai.evaluation.result"]);
    expect(root.eval[0]!["gen_ai.evaluation.name"]).toEqual({ stringValue: "envforge.solve_f1.ftrl" });
    expect(root.eval[0]!["gen_ai.evaluation.score.value"]).toEqual({ doubleValue: 2 / 3 });
    const names = spans.filter((s) => s.trace === root.trace).map((s) => s.name);
    expect(names.filter((n) => n.startsWith("chat "))).toEqual(["chat native-model", "chat native-model"]);
  }, 600_000);
});

describe("viewer downloads", () => {
  it("serves an episode as the same ATIF trajectory and OTLP spans the export writes", async () => {
    const dir = `${tmp.dir}/atif-view`;
    await exportTo(db, environments, "atif", dir, { model: "native-model" });
    const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8")) as { trajectories: { file: string; episode: string }[] };
    const [entry] = manifest.trajectories;
    const records = Records.open(db);
    const viewer = new Viewer({ records, environments });
    const server = await startViewServer({ viewer, port: 0 });
    const base = server.url.replace(/\/$/, "");
    try {
      const atif = await fetch(`${base}/api/episodes/${encodeURIComponent(entry!.episode)}/atif.json`);
      expect(atif.headers.get("content-disposition")).toContain(".atif.json");
      expect(await atif.text()).toBe(readFileSync(`${dir}/${entry!.file}`, "utf8"));
      const otlp = (await (await fetch(`${base}/api/episodes/${encodeURIComponent(entry!.episode)}/otlp.json`)).json()) as { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] };
      expect(otlp.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.name)).toContain("execute_tool get_weather");
      expect((await fetch(`${base}/api/episodes/nope/atif.json`)).status).toBe(404);
    } finally {
      await server.close();
      viewer.close();
      records.close();
    }
  });
});
