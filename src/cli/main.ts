// The command table and dispatcher; the only place that turns failures into exit codes.
import type { Command } from "./command.ts";
import { processIo, UsageError, write, type Io } from "./io.ts";

/** One row of the table: enough for `envforge --help`; a command's module is imported only when that command runs. */
interface Entry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly Entry[] = [
  { name: "validate", summary: "Check environment files or folders (schema, then the validation gate); exit 1 on any problem", load: async () => (await import("./validate.ts")).validateCommand },
  { name: "schema", summary: "Print the JSON Schema of the environment format (or write it with --out)", load: async () => (await import("./schema.ts")).schemaCommand },
  { name: "score", summary: "Score episode and step JSON Lines with the verifiable reward (one JSON object per line)", load: async () => (await import("./score.ts")).scoreCommand },
  { name: "run", summary: "Roll out a policy (oracle, random, or an OpenAI-compatible model) through MCP and record the episodes", load: async () => (await import("./run.ts")).runCommand },
  { name: "calibrate", summary: "Measure difficulty: n rollouts per task; pass@1, pass@n, mean solve rate and state_match per model into DIR/calibration.json", load: async () => (await import("./calibrate.ts")).calibrateCommand },
  { name: "export", summary: "Export recorded episodes as FTRL training rows, chat JSONL, Parquet (FTRL columns or verl's), or traces (ATIF, Inspect log, HF chat rows, OTLP spans)", load: async () => (await import("./export.ts")).exportCommand },
  { name: "serve", summary: "Serve environments over MCP (stdio, or Streamable HTTP with --http), recording every message", load: async () => (await import("./serve.ts")).serveCommand },
  { name: "view", summary: "Serve a web viewer for recorded episodes (list, timelines, charts, live updates)", load: async () => (await import("./view.ts")).viewCommand },
  { name: "build", summary: "Build validated environments (procedural, seeded, offline) into a folder", load: async () => (await import("./build.ts")).buildCommand },
  { name: "list", summary: "List environments with scenario, complexity, tool count and task ids", load: async () => (await import("./list.ts")).listCommand },
  { name: "record", summary: "Run any stdio MCP server behind a pass-through proxy that records every message (and scores calls with --env)", load: async () => (await import("./record.ts")).recordCommand },
  { name: "start", summary: "Serve the shipped environments over HTTP, score oracle and random rollouts through it, and print how to connect clients", load: async () => (await import("./start.ts")).startCommand },
  { name: "builder", summary: "Serve the envforge_build tool over MCP stdio: builds environments with the client's model (sampling)", load: async () => (await import("./builder.ts")).builderCommand },
  { name: "import", summary: "Store trajectories (ATIF, HF chat rows, FTRL rows) as scored episodes, or turn a dataset (FTRL's tau-bench) into environments", load: async () => (await import("./import.ts")).importCommand },
  { name: "model-proxy", summary: "Relay an agent's model calls (OpenAI chat completions and responses, Anthropic messages) and record them with its episode", load: async () => (await import("./model-proxy.ts")).modelProxyCommand },
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "envforge: build tool-use environments, serve them over MCP, record and score trajectories.",
    "",
    "Usage: envforge <command> [options]",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `envforge <command> --help` for a command's options.",
  ].join("\n");
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    write(io.stdout, help());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    write(io.stdout, "0.1.0");
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    write(io.stderr, `envforge: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await entry.load();
  // Flags after `--` belong to a wrapped command (envforge record -- server --help), not to us.
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (own.includes("--help") || own.includes("-h")) {
    write(io.stdout, `${entry.summary}\n\nUsage: envforge ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      write(io.stderr, `envforge ${name}: ${(err as Error).message}\nUsage: envforge ${command.usage}`);
      return 2;
    }
    // Loaded here, not at start-up: it names the store's error types, which load the database driver.
    const { errorLine } = await import("./errors.ts");
    write(io.stderr, `envforge ${name}: ${errorLine(err)}`);
    return 1;
  }
}

/**
 * A reader that stops early (`envforge list --json | head`) closes our stdout: stop quietly, as Unix
 * tools do. Commands that watch their own output (stdio servers, `score`) add a listener and decide.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (stream.listenerCount("error") > 1) return;
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    process.stderr.write(`envforge: cannot write output: ${err.message}\n`);
    process.exit(1);
  });
}

/** The process entry (bin/envforge.js): runs a command on the real streams and sets the exit code. */
export async function cli(argv: string[]): Promise<void> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  process.exitCode = await main(argv);
}
