// The construction layer: the five-stage construction pipeline, the validation gate, the shipped suite.
export { decompose } from "./decompose.ts";
export { document } from "./document.ts";
export { integrate } from "./integrate.ts";
export { scale, LEVELS } from "./scale.ts";
export { deploy, GENERATOR, GENERATOR_VERSION } from "./deploy.ts";
export { COMMON_PY, CALC_PARTS_PY } from "./engine-py.ts";
export { gate, validateEnvironment, validateEnvironments, probesFor, type GateOptions } from "./validate.ts";
export { generate, environmentText, provenanceStages, PROCEDURAL, type Stages, type Artifacts } from "./pipeline.ts";
export { buildEnvironments, buildRequests, summarize, attempt, type Built, type BuildResult } from "./build.ts";
export { planRequest, uniformComplexity, type BuildOptions, type RunOptions } from "./plan.ts";
export { suiteRequests, SUITE_SEED, SUITE_PER_CELL } from "./suite.ts";
export { writeEnvironments, listEnvironments, buildToDirectory, type ListedEnvironment, type WriteReport, type BuildToDirectoryOptions } from "./files.ts";
export { Rejection } from "./reject.ts";
export { importTaubenchDomain, finalStateMatches, stateDigest, FINAL_STATE_STAGE, type TaubenchImport } from "./taubench.ts";
export * from "./llm/index.ts";
export { generateWrites, kindsOf, WRITE_DOMAINS, WRITE_GENERATOR_VERSION, type WriteDomain, type WriteKind, type WriteRequest } from "./writes.ts";
export { buildWrite, buildWriteSuite, writeSuiteRequests, WRITE_SUITE_SEED, WRITE_SUITE_PER_CELL, type WriteBuilt } from "./write-build.ts";
export { nearMisses, withFinalStates, finalStateOf, stateGate, type NearMiss, type NearMissKind } from "./state-gate.ts";
