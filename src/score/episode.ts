// Consuming sub-answers call by call, and the episode metrics of method.md §3.
import type { EpisodeMetrics, EpisodeScore, ExecutedCall, RewardMode, Turn, UnsolvedSet } from "../schema/index.ts";
import { finalAnswerFound } from "./answer.ts";
import { argumentEchoTexts, echoedByArguments, isErrorOutput } from "./strict.ts";
import { foldCase, goldenPieces, piecesFound } from "./text.ts";

interface Pending {
  readonly golden: string;
  readonly pieces: readonly string[];
}

/**
 * Normalized pieces by golden text. The same goldens come back in every rollout of a task,
 * so splitting and normalizing once is the biggest saving of the hot path. Bounded so a long
 * run over many tasks cannot grow it without limit.
 */
const PIECES = new Map<string, readonly string[]>();
const PIECES_LIMIT = 65_536;

function piecesOf(golden: string): readonly string[] {
  let pieces = PIECES.get(golden);
  if (pieces === undefined) {
    if (PIECES.size >= PIECES_LIMIT) PIECES.clear();
    pieces = goldenPieces(golden);
    PIECES.set(golden, pieces);
  }
  return pieces;
}

/** n, p, q -> the three episode metrics, in the reference's operation order (bit-exact floats). */
export function episodeMetrics(solved: number, calls: number, needed: number): EpisodeMetrics {
  return {
    solved,
    calls,
    needed,
    solve_precision: calls > 0 ? solved / calls : 1,
    // The reference requires needed > 0; with nothing to solve the episode is complete, and its
    // f1 is 1 only when no call was wasted (2q / (p + n) is 0 for any p > 0).
    solve_rate: needed > 0 ? solved / needed : 1,
    solve_f1: calls + needed > 0 ? (2 * solved) / (calls + needed) : 1,
  };
}

/** What `record` reads of a call; arguments may be any object (only strict mode looks into them). */
export type RecordedCall = Omit<ExecutedCall, "arguments"> & { arguments: Readonly<Record<string, unknown>> };

/**
 * Tracks one episode's pending sub-answers as calls arrive (the live server and the build
 * validation gate feed it call by call). The caller's unsolved set is never mutated.
 */
export class EpisodeTracker {
  readonly mode: RewardMode;
  readonly #pending = new Map<string, Pending[]>();
  readonly #needed: number;
  #solved = 0;
  #calls = 0;
  /** What the last `record` changed, so `undoLast` can put it back. */
  #last: { name: string; index: number; entry: Pending } | null = null;

  constructor(unsolvedSet: UnsolvedSet, mode: RewardMode = "ftrl") {
    this.mode = mode;
    let needed = 0;
    for (const name of Object.keys(unsolvedSet)) {
      const goldens = unsolvedSet[name]!;
      needed += goldens.length;
      this.#pending.set(name, goldens.map((golden) => ({ golden, pieces: piecesOf(golden) })));
    }
    this.#needed = needed;
  }

  /**
   * Counts one call and consumes the first pending sub-answer of the called tool that its
   * output verifies (at most one). Returns that sub-answer, or null. In strict mode an error
   * never solves, and a sub-answer whose every piece is in the call's own arguments is skipped.
   */
  record(call: RecordedCall): string | null {
    this.#calls++;
    this.#last = null;
    const list = this.#pending.get(call.name);
    if (list === undefined || list.length === 0) return null;
    const strict = this.mode === "strict";
    if (strict && isErrorOutput(call.output, call.is_error)) return null;
    const folded = foldCase(call.output);
    let echo: string[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i]!;
      if (!piecesFound(folded, entry.pieces)) continue;
      if (strict && echoedByArguments(entry.pieces, (echo ??= argumentEchoTexts(call.arguments)))) continue;
      list.splice(i, 1);
      this.#solved++;
      this.#last = { name: call.name, index: i, entry };
      return entry.golden;
    }
    return null;
  }

  /** Takes back the last recorded call (one whose record could not be stored): as if it had never been made. */
  undoLast(): void {
    if (this.#calls === 0) return;
    this.#calls--;
    const last = this.#last;
    this.#last = null;
    if (!last) return;
    this.#pending.get(last.name)!.splice(last.index, 0, last.entry);
    this.#solved--;
  }

  /** n: sub-answers at the start. */
  get needed(): number {
    return this.#needed;
  }

  /** q: sub-answers solved so far. */
  get solved(): number {
    return this.#solved;
  }

  /** p: calls recorded so far. */
  get calls(): number {
    return this.#calls;
  }

  get pendingCount(): number {
    return this.#needed - this.#solved;
  }

  /** The still-pending sub-answers, as a fresh unsolved set (every tool of the original kept). */
  pending(): UnsolvedSet {
    const out: UnsolvedSet = {};
    for (const [name, list] of this.#pending) out[name] = list.map((p) => p.golden);
    return out;
  }

  metrics(): EpisodeMetrics {
    return episodeMetrics(this.#solved, this.#calls, this.#needed);
  }
}

export interface EpisodeOptions {
  mode?: RewardMode;
  /** The task's final answer; without it `answer_correct` is null. */
  answer?: string | null;
  /** The text to look for the answer in; defaults to the content of the turn that ended the episode. */
  finalText?: string | null;
}

export type EpisodeResult = EpisodeScore & {
  /** `solved_by[t][c]`: the sub-answer call c of turn t solved, or null; one row per given turn. */
  solved_by: (string | null)[][];
};

/**
 * Scores an episode: turns in order, stopping at the first turn without tool calls (later
 * turns are listed in `solved_by` but never count). No turn cap: the runner enforces its own.
 */
export function scoreEpisode(unsolvedSet: UnsolvedSet, turns: readonly Turn[], options: EpisodeOptions = {}): EpisodeResult {
  const mode = options.mode ?? "ftrl";
  const tracker = new EpisodeTracker(unsolvedSet, mode);
  const solvedBy: (string | null)[][] = [];
  let finalTurn: Turn | undefined;
  for (const turn of turns) {
    const calls = turn.tool_calls;
    if (finalTurn !== undefined || calls.length === 0) {
      finalTurn ??= turn;
      solvedBy.push(calls.map(() => null));
      continue;
    }
    const row: (string | null)[] = new Array(calls.length);
    for (let c = 0; c < calls.length; c++) row[c] = tracker.record(calls[c]!);
    solvedBy.push(row);
  }
  const answer = options.answer;
  let answerCorrect: boolean | null = null;
  if (answer !== undefined && answer !== null) {
    const text = options.finalText ?? finalTurn?.content ?? null;
    answerCorrect = text !== null && finalAnswerFound(text, answer, mode);
  }
  // Spelled out: spreading metrics() into a literal made scoring several times slower (V8 object cloning).
  const { solved, calls, needed } = tracker;
  const m = episodeMetrics(solved, calls, needed);
  return {
    solved,
    calls,
    needed,
    solve_precision: m.solve_precision,
    solve_rate: m.solve_rate,
    solve_f1: m.solve_f1,
    mode,
    answer_correct: answerCorrect,
    solved_by: solvedBy,
  };
}
