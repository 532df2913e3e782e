// `envforge builder`: an MCP server over stdio whose one tool, envforge_build, builds environments with the
// client's own model through MCP sampling (no API key; the human at the client approves each request).
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { serveBuilderStdio } from "../construct/index.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./io.ts";
import { checkOutputFolder } from "./paths.ts";

export const builderCommand: Command = {
  usage: "builder --out DIR [--cache DIR | --no-cache] [--max-count N]",
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: "string" },
        cache: { type: "string" },
        "no-cache": { type: "boolean" },
        "max-count": { type: "string" },
      },
    });
    if (!values.out) throw new UsageError("--out DIR is required: the environments the client's model builds are written there");
    if (values.cache !== undefined && values["no-cache"]) throw new UsageError("--cache and --no-cache contradict each other");
    const maxCount = values["max-count"] === undefined ? 20 : Number(values["max-count"]);
    if (!Number.isInteger(maxCount) || maxCount < 1) throw new UsageError(`--max-count takes a whole number >= 1; got "${values["max-count"]}"`);
    await checkOutputFolder(resolve(io.cwd, values.out), "--out", values.out);
    // stdout carries the protocol; nothing else may be written to it.
    await serveBuilderStdio({ out: resolve(io.cwd, values.out), cacheDir: values["no-cache"] ? null : resolve(io.cwd, values.cache ?? ".envforge/cache"), maxCount });
    return 0;
  },
};
