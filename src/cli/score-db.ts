// `envforge score --db FILE`: score tables and GRPO group statistics of the recorded episodes.
import { buildReport, formatReport } from "../export/index.ts";
import { episodeFacets, type Records } from "../store/index.ts";
import { write, type Io } from "./io.ts";
import { openRecorded, rewardMode } from "./export.ts";

export interface ScoreDbValues {
  db?: string | undefined;
  dir?: string | undefined;
  env?: string | undefined;
  model?: string | undefined;
  reward?: string | undefined;
  json?: boolean | undefined;
  pool?: boolean | undefined;
  "include-empty"?: boolean | undefined;
}

/** Why no episode was read: the database is empty, or the filters name what it does not hold (with what it does hold). */
function nothingMatched(records: Records, values: ScoreDbValues, dbFile: string): string {
  if (values.env === undefined && values.model === undefined) return `no episodes recorded in ${dbFile} yet`;
  const facets = episodeFacets(records, 20);
  const known = (label: string, list: { value: string }[]): string => (list.length ? `; ${label} there: ${list.map((f) => f.value).join(", ")}` : "");
  const filters = [values.env !== undefined ? `--env ${values.env}` : "", values.model !== undefined ? `--model ${values.model}` : ""].filter(Boolean).join(" ");
  return `no episodes in ${dbFile} match ${filters}${values.env !== undefined ? known("environments", facets.envs) : ""}${values.model !== undefined ? known("models and clients", facets.agents) : ""}`;
}

export async function scoreDb(values: ScoreDbValues, io: Io): Promise<number> {
  const mode = rewardMode(values.reward);
  const { records, environments, dbFile } = await openRecorded(values, io, "score");
  try {
    const report = buildReport(records, environments, {
      mode,
      ...(values.env !== undefined ? { envId: values.env } : {}),
      ...(values.model !== undefined ? { model: values.model } : {}),
      pool: values.pool === true,
      includeEmpty: values["include-empty"] === true,
    });
    if (report.episodes.read === 0) {
      write(io.stderr, `envforge score: ${nothingMatched(records, values, dbFile)}`);
      return 1;
    }
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    records.close();
  }
}
