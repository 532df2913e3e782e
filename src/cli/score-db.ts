// `envforge score --db FILE`: score tables and GRPO group statistics of the recorded episodes.
import { buildReport, formatReport } from "../export/index.ts";
import type { Io } from "./io.ts";
import { openRecorded, rewardMode } from "./export.ts";

export interface ScoreDbValues {
  db?: string | undefined;
  dir?: string | undefined;
  env?: string | undefined;
  model?: string | undefined;
  reward?: string | undefined;
  json?: boolean | undefined;
}

export async function scoreDb(values: ScoreDbValues, io: Io): Promise<number> {
  const mode = rewardMode(values.reward);
  const { records, environments } = await openRecorded(values, io, "score");
  try {
    const report = buildReport(records, environments, { mode, ...(values.env !== undefined ? { envId: values.env } : {}), ...(values.model !== undefined ? { model: values.model } : {}) });
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    records.close();
  }
}
