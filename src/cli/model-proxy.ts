// `envforge model-proxy`: relay an agent's model calls to an OpenAI-compatible (or Anthropic) API and record them under the episode in the path.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ModelCallLog, Recorder } from "../store/index.ts";
import { startModelProxy } from "../serve/index.ts";
import type { Command } from "./command.ts";
import { UsageError, write, type Io } from "./io.ts";
import { defaultDb } from "./serve.ts";

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { upstream: { type: "string" }, db: { type: "string" }, port: { type: "string" }, host: { type: "string" } } });
  if (!values.upstream || !/^https?:\/\//.test(values.upstream)) throw new UsageError("--upstream URL is required (http or https, up to the API version, e.g. https://api.openai.com/v1)");
  const port = values.port === undefined ? 8767 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port wants 0-65535, got ${JSON.stringify(values.port)}`);
  const dbFile = values.db ? resolve(io.cwd, values.db) : defaultDb(io.env);
  const recorder = Recorder.open(dbFile);
  try {
    const proxy = await startModelProxy({ upstream: values.upstream, log: new ModelCallLog(recorder.db), port, ...(values.host ? { host: values.host } : {}) });
    write(io.stdout, `envforge model-proxy: ${proxy.url}/e/<episode>/v1 -> ${values.upstream}; recording into ${dbFile}`);
    const signal = await new Promise<string>((done) => {
      const on = (s: string): void => {
        process.off("SIGINT", on);
        process.off("SIGTERM", on);
        done(s);
      };
      process.on("SIGINT", on);
      process.on("SIGTERM", on);
    });
    write(io.stderr, `envforge model-proxy: ${signal}, stopping`);
    await proxy.close();
    return 0;
  } finally {
    await recorder.close();
  }
}

export const modelProxyCommand: Command = {
  usage: "model-proxy --upstream URL [--port 8767] [--host H] [--db FILE]",
  run,
};
