// The schema layer: zod schemas and their inferred types, imported by every other module.
export * from "./environment.ts";
export * from "./trajectory.ts";
export * from "./reward.ts";
export * from "./runtime.ts";
export * from "./record.ts";
export * from "./rollout.ts";
export * from "./build.ts";
export * from "./words.ts";
export * from "./calibration.ts";
export * from "./atif.ts";
