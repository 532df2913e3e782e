// The episode layer: live episodes named by id, below every face (MCP, REST, ORS, stdio), recorded in the store.
export {
  EpisodeSession,
  EpisodeEndedError,
  EpisodeBusyError,
  SUBMIT_TOOL,
  SUBMIT_TOOL_DOC,
  DEFAULT_MAX_CALLS,
  notAnObject,
  toolDoc,
  textOf,
  type ToolDoc,
  type CallContext,
  type CallOutcome,
  type ResponseOutcome,
  type ExecutedCall,
  type EpisodeOptions,
  type EpisodeProgress,
} from "./live.ts";
export { EnvironmentRegistry, LookupError, type RegisteredEnvironment } from "./registry.ts";
export { DEFAULT_RESIDENT, MIB_PER_RESIDENT, ReplayError, ResidentSet, residentForMiB, type Residency, type ResidencyStats } from "./resident.ts";
export { EpisodeService, EPISODE_ID, submitClash, type OpenOptions, type ServiceOptions } from "./service.ts";
export { EpisodeEvents, type EpisodeObserver } from "./events.ts";
export { agentProgress, agentSubmitResult, agentDescriptions, SERVE_MODES, type ServeMode } from "./views.ts";
export { admit, EPISODES, SESSIONS, type Admission, type FairnessLimits, type Holder, type Limited } from "./fairness.ts";
