// Scoring JSON Lines records (the two formats of the shared reward vectors), one line at a time.
import { ScoreLine, type EpisodeLine, type RewardMode, type StepLine } from "../schema/index.ts";
import { scoreEpisode } from "./episode.ts";
import { scoreStep } from "./step.ts";

export interface EpisodeLineScore {
  id: string;
  solved: number;
  calls: number;
  needed: number;
  solve_precision: number;
  solve_rate: number;
  solve_f1: number;
  /** Only when the line carries a final answer. */
  answer_correct?: boolean;
}

export interface StepLineScore {
  id: string;
  f1: number;
  precision: number;
  rate: number;
  pr: number;
}

export type LineScore = EpisodeLineScore | StepLineScore;

/** A record that is not a valid episode or step line; the message lists every problem with its path. */
export class ScoreLineError extends Error {
  override name = "ScoreLineError";
}

function scoreEpisodeLine(line: EpisodeLine, mode: RewardMode): EpisodeLineScore {
  const s = scoreEpisode(line.unsolved_set, line.turns, { mode, answer: line.answer ?? null });
  const out: EpisodeLineScore = {
    id: line.id,
    solved: s.solved,
    calls: s.calls,
    needed: s.needed,
    solve_precision: s.solve_precision,
    solve_rate: s.solve_rate,
    solve_f1: s.solve_f1,
  };
  if (s.answer_correct !== null) out.answer_correct = s.answer_correct;
  return out;
}

function scoreStepLine(line: StepLine, mode: RewardMode): StepLineScore {
  const errors = line.tool_errors;
  if (errors !== undefined && errors.length !== line.tool_outputs.length) {
    throw new ScoreLineError(`tool_errors has ${errors.length} entries but tool_outputs has ${line.tool_outputs.length}`);
  }
  let r;
  try {
    r = scoreStep(line.state, line.raw, line.tool_outputs, { mode, ...(errors ? { errors } : {}) }).rewards;
  } catch (err) {
    throw new ScoreLineError((err as Error).message);
  }
  return { id: line.id, f1: r.f1, precision: r.precision, rate: r.rate, pr: r.pr };
}

/** Scores one parsed JSON record (an episode or a step line); throws ScoreLineError when it is neither. */
export function scoreLine(value: unknown, mode: RewardMode = "ftrl"): LineScore {
  const parsed = ScoreLine.safeParse(value);
  if (!parsed.success) {
    throw new ScoreLineError(parsed.error.issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(record)"}: ${i.message}`).join("; "));
  }
  return parsed.data.kind === "episode" ? scoreEpisodeLine(parsed.data, mode) : scoreStepLine(parsed.data, mode);
}

export type LineResult = { line: number; ok: true; score: LineScore } | { line: number; ok: false; error: string };

/** Scores one line of JSON Lines text (1-based `line` for messages). Blank lines give null: they hold no record. */
export function scoreJsonLine(text: string, line: number, mode: RewardMode = "ftrl"): LineResult | null {
  if (text.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { line, ok: false, error: `not valid JSON: ${(err as Error).message}` };
  }
  try {
    return { line, ok: true, score: scoreLine(value, mode) };
  } catch (err) {
    if (err instanceof ScoreLineError) return { line, ok: false, error: err.message };
    throw err;
  }
}

/** Scores JSON Lines as they stream in; a bad line yields its error and the others are still scored. */
export async function* scoreJsonLines(lines: AsyncIterable<string> | Iterable<string>, mode: RewardMode = "ftrl"): AsyncGenerator<LineResult> {
  let n = 0;
  for await (const text of lines) {
    const result = scoreJsonLine(text, ++n, mode);
    if (result) yield result;
  }
}
