// The messages between the sandbox pool (main thread) and its worker threads.
import type { CallResult, Environment, SandboxLimitsInput } from "../schema/index.ts";
import type { RecordedCall } from "./replay.ts";

/** Sent to a worker; every request but `close` is answered with the same `id`. */
export type WorkerRequest =
  | { op: "compile"; id: number; key: string; env: Environment; limits: SandboxLimitsInput }
  /** Opens episode `episode` of compiled environment `key`; with `replay`, rebuilds it from those calls first. */
  | { op: "open"; id: number; key: string; episode: number; seed: number; replay: readonly RecordedCall[] }
  | { op: "call"; id: number; episode: number; tool: string; args: unknown }
  | { op: "state"; id: number; episode: number }
  /** Takes back the episode's last call if the episode has `applied` calls in effect (a rebuilt one may not have it yet). */
  | { op: "undo"; id: number; episode: number; applied: number }
  | { op: "close"; episode: number };

export type WorkerReply =
  /** Once, when the worker has loaded what it needs: until then it is starting, not stuck. */
  | { op: "ready" }
  | { id: number; op: "compile"; ok: true }
  | { id: number; op: "compile"; ok: false; error: { name: string; message: string; envId?: string; problems?: readonly string[] } }
  | { id: number; op: "open"; ok: boolean; error?: string }
  /** `digest` is set when the call took effect: the record a replay checks against. */
  | { id: number; op: "call"; result: CallResult; digest: string | null }
  | { id: number; op: "state"; ok: true; state: unknown }
  | { id: number; op: "state"; ok: false; error: string }
  | { id: number; op: "undo" };

/** Handed to each worker at start. */
export interface WorkerInit {
  /** One Int32 the pool sets to 2 when the call running on this worker is past its deadline (see SandboxKind). */
  interrupt: SharedArrayBuffer;
}
