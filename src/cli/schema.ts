// `envforge schema`: prints or writes the JSON Schema of the environment format.
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { Environment } from "../schema/index.ts";
import type { Command } from "./command.ts";
import { write } from "./io.ts";

/** The JSON Schema editors use to check hand-written environment files. */
export function environmentJsonSchema(): string {
  const schema = z.toJSONSchema(Environment, { io: "input", target: "draft-2020-12" });
  return `${JSON.stringify({ ...schema, $id: "https://envforge.dev/schema/environment-1.json", title: "envforge environment" }, null, 2)}\n`;
}

export const schemaCommand: Command = {
  usage: "schema [--out FILE]",
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { out: { type: "string" } } });
    const text = environmentJsonSchema();
    if (values.out) await writeFile(resolve(io.cwd, values.out), text);
    else io.stdout.write(text);
    return 0;
  },
};
