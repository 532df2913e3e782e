// Exports in tests: a database of recorded rollouts to export, and Parquet rows read back and compared with the JSON rows they came from.
import { parquetReadObjects } from "hyparquet";
import { expect } from "vitest";
import type { Environment, FtrlRow } from "../../src/schema/index.ts";
import { llmFactory, oracleFactory, type LlmMode } from "../../src/run/index.ts";
import { environmentsIn, EXAMPLES, runInMemory } from "../run/helpers.ts";
import { startFakeOpenAI, type ChatRequest, type ScriptedReply } from "../run/openai-server.ts";
import { nativeBirthYear, rawBirthYear } from "../run/scripted.ts";

export const ENV = "example-films-director-birth";

/** Oracle rollouts (two per task) and two scripted model rollouts on the birth-year task (native and raw), recorded into `db`. */
export async function recordRollouts(db: string): Promise<Environment[]> {
  const environments = await environmentsIn(EXAMPLES);
  await runInMemory(db, { environments, policy: oracleFactory(), n: 2 });
  await recordScripted(db, environments, [[nativeBirthYear, "native", "native-model"], [rawBirthYear, "raw", "raw-model"]]);
  return environments;
}

/** One rollout of the birth-year task per script, each played by the fake OpenAI server as `model` in `mode`. */
export async function recordScripted(db: string, environments: Environment[], runs: readonly (readonly [(req: ChatRequest) => ScriptedReply, LlmMode, string])[]): Promise<void> {
  for (const [script, mode, model] of runs) {
    const server = await startFakeOpenAI(script);
    try {
      await runInMemory(db, { environments, policy: llmFactory({ baseUrl: server.baseUrl, model }, mode), envIds: [ENV], taskIds: ["director-birth-year"] });
    } finally {
      await server.close();
    }
  }
}

/** Parquet gives every struct field, null where a message has none; drop those to compare with the JSON rows. */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, withoutNulls(v)]));
  }
  return value;
}

/** A file's bytes are a view: `readFileSync(f).buffer` may be a larger pooled buffer (it is on Node 24), so only the view's bytes are read. */
export async function readParquet(bytes: ArrayBuffer | Uint8Array): Promise<Record<string, unknown>[]> {
  const file = bytes instanceof Uint8Array ? (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) : bytes;
  return (await parquetReadObjects({ file })) as Record<string, unknown>[];
}

export function sameRows(read: Record<string, unknown>[], rows: readonly FtrlRow[]): void {
  expect(withoutNulls(read)).toEqual(withoutNulls(rows));
}
