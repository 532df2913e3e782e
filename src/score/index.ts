// The score layer: the verifiable reward of method.md §3 (ftrl parity and strict mode), parsers, line scoring, statistics.
export { normalize, verify, pyStrip, pyJsonDumps } from "./text.ts";
export { EpisodeTracker, scoreEpisode, episodeMetrics, type EpisodeOptions, type EpisodeResult, type RecordedCall } from "./episode.ts";
export { failingArguments, parseResponse, parseOpenAIMessage, stripEndTokens, structuredCallReading, type OpenAIMessage } from "./parse.ts";
export { scoreStep, type StepOptions } from "./step.ts";
export { finalAnswerFound } from "./answer.ts";
export { REFERENCE_ERROR_PREFIX, isErrorOutput, outsideThink } from "./strict.ts";
export {
  scoreLine,
  scoreJsonLine,
  scoreJsonLines,
  ScoreLineError,
  type LineScore,
  type LineResult,
  type EpisodeLineScore,
  type StepLineScore,
} from "./lines.ts";
export * from "./stats.ts";
export { scoreState, succeeded, deriveFinalState, stateDiff, jsonEqual, valueAtPointer } from "./state.ts";
export { EVALUATION_EVENT, evaluationAttributes, scoreEvaluations, stateEvaluationAttributes } from "./evaluation.ts";
