// Shared test fixtures: a small stateful environment, temp folders, and an envforge CLI subprocess.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Environment, FORMAT, type EnvironmentInput } from "../../src/schema/index.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin/envforge.js");
export const EXAMPLE = join(ROOT, "environments/examples/films-director-birth.json");

/**
 * A stateful environment: `add` mutates this episode's counter, `lookup_code` reads a
 * secret that is also a task's answer, `fail` always throws, `spin` never returns.
 */
export const COUNTER_INPUT: EnvironmentInput = {
  format: FORMAT,
  id: "test-counter",
  title: "Counters and codes",
  domain: "testing",
  scenario: "single-hop",
  complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 1 },
  provenance: { generator: "tests", version: "1", seed: 0 },
  tools: [
    {
      name: "add",
      description: "Add n to the counter and return the new total.",
      input_schema: { type: "object", properties: { n: { type: "integer", description: "How much to add." } }, required: ["n"], additionalProperties: false },
    },
    {
      name: "lookup_code",
      description: "Look up the access code of a named vault.",
      input_schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false },
      output_schema: { type: "object", properties: { name: { type: "string" }, code: { type: "string" } } },
      annotations: { title: "Vault codes", readOnlyHint: true },
    },
    {
      name: "fail",
      description: "A distractor that always fails.",
      input_schema: { type: "object", properties: { message: { type: "string" } } },
    },
    {
      name: "spin",
      description: "Never returns.",
      input_schema: { type: "object", properties: {} },
    },
  ],
  implementation: {
    language: "javascript",
    prelude: "function vault(state, name) { return state.vaults.find((v) => v.name === name); }",
    tools: {
      add: "function add(args, state) { state.count += args.n; return { count: state.count }; }",
      lookup_code:
        "function lookup_code(args, state) { const v = vault(state, args.name); if (!v) throw new Error('no vault named ' + args.name); return { name: v.name, code: v.code }; }",
      fail: "function fail(args) { throw new Error(args.message || 'it failed'); }",
      spin: "function spin() { for (;;) {} }",
    },
  },
  initial_state: { count: 0, vaults: [{ name: "alpha", code: "K-7731-QZ" }, { name: "beta", code: "M-0042-RT" }] },
  tasks: [
    {
      id: "code-alpha",
      question: "What is the access code of the vault named alpha?",
      unsolved_set: { lookup_code: ["K-7731-QZ"] },
      answer: "K-7731-QZ",
      gold_plan: [{ id: "s1", tool: "lookup_code", arguments: { name: "alpha" }, yields: "K-7731-QZ" }],
    },
    {
      id: "code-beta",
      question: "What is the access code of the vault named beta?",
      unsolved_set: { lookup_code: ["M-0042-RT"] },
      answer: "M-0042-RT",
      gold_plan: [{ id: "s1", tool: "lookup_code", arguments: { name: "beta" }, yields: "M-0042-RT" }],
    },
  ],
};

export const COUNTER: Environment = Environment.parse(COUNTER_INPUT);

export interface TempDir {
  path: string;
  /** A folder of environment files: the counter environment and the films example. */
  envDir: string;
  db: string;
  cleanup(): void;
}

export function tempDir(prefix = "envforge-serve-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const envDir = join(path, "envs");
  mkdirSync(envDir);
  writeFileSync(join(envDir, "counter.json"), JSON.stringify(COUNTER_INPUT, null, 2));
  copyFileSync(EXAMPLE, join(envDir, "films.json"));
  return { path, envDir, db: join(path, "envforge.db"), cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts `envforge serve ...` and resolves with the MCP URL it prints (HTTP mode). */
export function spawnHttpServer(args: string[], cwd = ROOT): Promise<ServeChild> {
  return spawnServe(["--http", "127.0.0.1:0", ...args], { cwd });
}

export interface ServeChild {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** The control plane's listener, where /healthz, /readyz and /metrics answer. */
  admin: string;
  stderr: () => string;
}

/**
 * Starts `envforge serve ARGS` (which must include --http) and resolves with the URLs it
 * prints. `shell` runs first in `sh` (e.g. a `ulimit`), then execs the server; `env` is added
 * to this process's environment.
 */
export async function spawnServe(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; shell?: string } = {}): Promise<ServeChild> {
  const argv = [BIN, "serve", ...args];
  const env = { ...process.env, ...options.env };
  const spawnOptions = { cwd: options.cwd ?? ROOT, env, stdio: ["pipe", "pipe", "pipe"] as ["pipe", "pipe", "pipe"] };
  const child = options.shell
    ? spawn("sh", ["-c", `${options.shell}; exec "$0" "$@"`, process.execPath, ...argv], spawnOptions)
    : spawn(process.execPath, argv, spawnOptions);
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const [url, admin] = await new Promise<[string, string]>((resolvePromise, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)[^]*probes: +(http:\/\/\S+)\/healthz/.exec(out);
      if (m) resolvePromise([m[1]!, m[2]!]);
    });
    child.once("exit", (code) => reject(new Error(`envforge serve exited with ${code} before listening:\n${err}`)));
  });
  return { child, url, admin, stderr: () => err };
}
