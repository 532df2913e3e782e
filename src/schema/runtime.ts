// What a sandboxed tool call returns, and the sandbox's limits.
import { z } from "zod";

export const SandboxLimits = z.strictObject({
  /** CPU time per call, in milliseconds (the reference gives each call 10 s). */
  timeoutMs: z.number().int().positive().default(10_000),
  /** Heap of one episode's sandbox, in bytes. */
  memoryBytes: z.number().int().positive().default(64 * 1024 * 1024),
  /**
   * QuickJS's stack limit for one episode, in bytes (bounds recursion: 64 KiB is about 370
   * nested calls). QuickJS measures only its WebAssembly stack, while V8 runs the same code on
   * a native stack of about 1 MiB that it fills 2 to 25 times faster, so larger limits let V8
   * overflow first; the runtime survives that too, but more slowly (it rebuilds the sandbox).
   */
  stackBytes: z.number().int().positive().default(64 * 1024),
  /** Largest output text a call may return, in characters. */
  maxOutputChars: z.number().int().positive().default(100_000),
});
export type SandboxLimits = z.infer<typeof SandboxLimits>;
export type SandboxLimitsInput = z.input<typeof SandboxLimits>;

/** Why a call failed; the agent sees only the message, the kind is for records and tests. */
export const CallErrorKind = z.enum([
  "unknown_tool",
  "invalid_arguments",
  "tool_error",
  "timeout",
  "out_of_memory",
  "stack_overflow",
  "output_too_large",
  "invalid_output",
  "episode_closed",
]);
export type CallErrorKind = z.infer<typeof CallErrorKind>;

/** The structured result of one sandboxed call: the text the agent sees, or the error. */
export const CallResult = z.discriminatedUnion("ok", [
  z.strictObject({ ok: z.literal(true), text: z.string(), value: z.json(), ms: z.number() }),
  z.strictObject({ ok: z.literal(false), kind: CallErrorKind, error: z.string(), ms: z.number() }),
]);
export type CallResult = z.infer<typeof CallResult>;
