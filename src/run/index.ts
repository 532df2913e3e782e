// The run layer: policies and the rollout driver that plays them through MCP against served environments.
export { LlmPolicy, OraclePolicy, RandomPolicy, llmFactory, oracleFactory, randomFactory, type AssistantTurn, type LlmMode, type Policy, type PolicyFactory, type RolloutInfo, type TurnRequest } from "./policy.ts";
export { chatCompletion, ModelEndpointError, type ChatEndpoint, type Completion, type CompletionMessage } from "./openai.ts";
export { adaptLimit, EndpointGate, type GateOutcome, type GateSlot } from "./gate.ts";
export { hermesMessages, hermesSystemPrompt, QWEN_DEFAULT_SYSTEM, type PlainMessage } from "./hermes.ts";
export { sampleArguments, sampleValue, type SampleOptions } from "./sample.ts";
export { Rng, hashSeed } from "./rng.ts";
export {
  COMPLETE_STATUSES,
  DEFAULT_MAX_TURNS,
  episodeIdFor,
  rolloutId,
  runRollouts,
  selectTasks,
  type RolloutResult,
  type RolloutStatus,
  type RunOptions,
  type RunSummary,
  type Target,
} from "./runner.ts";
export {
  calibrate,
  calibrationOf,
  calibrationPath,
  modelCalibration,
  parsePassBand,
  readCalibration,
  runCurriculum,
  taskKey,
  withinBand,
  writeCalibration,
  type CurriculumOptions,
  type CurriculumRound,
} from "./calibrate.ts";
