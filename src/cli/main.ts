// The command table and dispatcher; the only place that turns failures into exit codes.
import type { Command } from "./command.ts";
import { processIo, UsageError, write, type Io } from "./io.ts";
import { validateCommand } from "./validate.ts";
import { schemaCommand } from "./schema.ts";
import { scoreCommand } from "./score.ts";
import { runCommand } from "./run.ts";
import { exportCommand } from "./export.ts";
import { serveCommand } from "./serve.ts";
import { viewCommand } from "./view.ts";
import { buildCommand } from "./build.ts";
import { listCommand } from "./list.ts";
import { recordCommand } from "./record.ts";
import { builderCommand } from "./builder.ts";
import { startCommand } from "./start.ts";
import { importCommand } from "./import.ts";

export const COMMANDS: readonly Command[] = [validateCommand, schemaCommand, scoreCommand, runCommand, exportCommand, serveCommand, viewCommand, buildCommand, listCommand, recordCommand, startCommand, builderCommand, importCommand];

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
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    write(io.stderr, `envforge: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  // Flags after `--` belong to a wrapped command (envforge record -- server --help), not to us.
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (own.includes("--help") || own.includes("-h")) {
    write(io.stdout, `${command.summary}\n\nUsage: envforge ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      write(io.stderr, `envforge ${name}: ${(err as Error).message}\nUsage: envforge ${command.usage}`);
      return 2;
    }
    write(io.stderr, `envforge ${name}: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}

