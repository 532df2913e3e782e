// The official ORS Python client (`openreward` from PyPI, in a venv this test makes) runs a whole task against envforge over real HTTP.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { COUNTER, ROOT, tempDir, type TempDir } from "./fixtures.ts";

const OPENREWARD = "openreward==0.1.167";
const VENV = join(ROOT, "node_modules/.cache/envforge-openreward");
const PYTHON = join(VENV, "bin/python");
const TOKEN = "ors-agent-token";

/** The venv with the client, made from PyPI on first use and reused after. */
function ensureClient(): void {
  const ready = () => existsSync(PYTHON) && spawnOk(PYTHON, ["-c", "import openreward"]);
  if (ready()) return;
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  execFileSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
  execFileSync(join(VENV, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", OPENREWARD], { stdio: "inherit" });
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs the script with the venv's Python; resolves with its stdout (the test reads its last line as JSON). */
function python(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ["-c", script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}:\n${err}`))));
  });
}

const SCRIPT = String.raw`
import json, os
from openreward import OpenReward

client = OpenReward(api_key=os.environ["TOKEN"])
env = client.environments.get(name="envforge", base_url=os.environ["BASE"])
out = {"splits": env.list_splits()}
tasks = [t for split in out["splits"] for t in env.list_tasks(split=split)]
out["tasks"] = [dict(t.task_spec) for t in tasks]
task = next(t for t in tasks if t.task_spec["env"] == "test-counter" and t.task_spec["task"] == "code-alpha")
with env.session(task=task) as session:
    out["sid"] = session.sid
    out["prompt"] = session.get_prompt()[0].text
    out["tools"] = [t.name for t in session.list_tools()]
    out["openai_tools"] = [t["name"] for t in session.list_tools(format="openai")]
    steps = []
    for name, args in [("add", {"n": 2}), ("lookup_code", {"name": "alpha"}), ("submit_answer", {"answer": "K-7731-QZ"})]:
        r = session.call_tool(name, args)
        steps.append({"text": r.blocks[0].text, "reward": r.reward, "finished": r.finished, "metadata": r.metadata})
    out["steps"] = steps
print(json.dumps(out))
`;

let tmp: TempDir;
let recorder: Recorder;
let server: HttpServer;

beforeAll(async () => {
  ensureClient();
  tmp = tempDir("envforge-ors-py-");
  recorder = Recorder.open(tmp.db);
  server = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }]), recorder, port: 0, token: TOKEN });
  writeFileSync(join(tmp.path, "ors.py"), SCRIPT);
}, 600_000);
afterAll(async () => {
  await server?.close();
  recorder?.close();
  tmp?.cleanup();
});

describe("the openreward Python client", () => {
  it("lists splits and tasks, opens a session, calls tools with inline rewards and finishes the task", async () => {
    const out = JSON.parse((await python(SCRIPT, { TOKEN, BASE: server.origin })).trim().split("\n").pop()!);
    expect(out.splits).toEqual(["train", "test"]);
    expect(out.tasks.map((t: { task: string }) => t.task).sort()).toEqual(["code-alpha", "code-beta"]);
    expect(out.prompt).toContain("vault named alpha");
    expect(out.tools).toEqual(["add", "lookup_code", "fail", "spin", "submit_answer"]);
    expect(out.openai_tools).toEqual(out.tools);
    expect(out.steps.map((s: { reward: number; finished: boolean }) => [s.reward, s.finished])).toEqual([[0, false], [1, false], [1, true]]);
    expect(JSON.parse(out.steps[0].text)).toEqual({ count: 2 });
    expect(out.steps[2].metadata).toMatchObject({ status: "submitted", step: { rule: "final_answer" } });
    const row = new Records(recorder.db).getEpisode(out.sid)!;
    expect(row).toMatchObject({ envId: COUNTER.id, taskId: "code-alpha", status: "submitted", callCount: 2, finalAnswer: "K-7731-QZ" });
    expect(row.score?.ftrl).toMatchObject({ solve_rate: 1, solve_precision: 0.5, answer_correct: true });
  }, 120_000);
});
