// One Pyodide interpreter in a worker thread, seen from the host: a request queue, per-request deadlines, and restart after a hard stop.
import { Worker } from "node:worker_threads";
import { workerBoot } from "../boot.ts";
import type { WorkerOp, WorkerReply, WorkerRequest } from "./protocol.ts";

/**
 * What a sandbox worker offers its host, kept small so that the Python interpreter and a
 * QuickJS worker pool can share one pool later: a request with a deadline and a memory
 * allowance, answered with text, a timeout, or the loss of the worker's state.
 */
export interface SandboxWorker {
  /** Bumped each time the worker is replaced: state held in an older generation is gone. */
  readonly generation: number;
  request(op: WorkerOp, args: (string | number)[], limits: { timeoutMs: number; memoryBytes: number }, generation?: number): Promise<WorkerAnswer>;
  close(): Promise<void>;
}

export type WorkerAnswer =
  | { kind: "ok"; result: string }
  | { kind: "error"; message: string }
  | { kind: "timeout" }
  /** The worker this request was meant for was replaced before it ran. */
  | { kind: "lost" };

/** After the deadline the interpreter is interrupted; if it has not answered this much later, the worker is ended and replaced. */
const HARD_STOP_GRACE_MS = 2000;

interface Pending {
  request: WorkerRequest;
  timeoutMs: number;
  generation: number | undefined;
  resolve: (a: WorkerAnswer) => void;
}

export interface InterpreterStats {
  /** Milliseconds the last worker took from spawn to a ready interpreter. */
  startMs: number;
  /** The interpreter's WebAssembly memory after the last request, in bytes. */
  heapBytes: number;
  restarts: number;
}

export class PythonInterpreter implements SandboxWorker {
  generation = 0;
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly interrupt = new SharedArrayBuffer(4);
  private readonly queue: Pending[] = [];
  private busy: (Pending & { timedOut: boolean; timers: NodeJS.Timeout[] }) | undefined;
  private nextId = 0;
  private closed = false;
  readonly stats: InterpreterStats = { startMs: 0, heapBytes: 0, restarts: 0 };

  request(op: WorkerOp, args: (string | number)[], limits: { timeoutMs: number; memoryBytes: number }, generation?: number): Promise<WorkerAnswer> {
    if (this.closed) return Promise.resolve({ kind: "error", message: "the Python interpreter is closed" });
    return new Promise((resolve) => {
      this.queue.push({ request: { id: this.nextId++, op, args, memoryBytes: limits.memoryBytes }, timeoutMs: limits.timeoutMs, generation, resolve });
      void this.pump();
    });
  }

  /** Starts the worker now rather than at the first request; resolves when the interpreter is ready. */
  start(): Promise<void> {
    if (!this.ready) {
      const worker = new Worker(workerBoot(new URL("./worker.ts", import.meta.url)), { eval: true, workerData: { interrupt: this.interrupt } });
      worker.unref();
      this.worker = worker;
      const t0 = performance.now();
      this.ready = new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("exit", (code) => reject(new Error(`the Python worker exited (code ${code}) before it was ready`)));
        worker.once("message", (m: WorkerReply) => {
          if (m.type !== "ready") return reject(new Error("the Python worker did not start"));
          this.stats.startMs = performance.now() - t0;
          this.stats.heapBytes = m.heapBytes;
          worker.removeAllListeners("error");
          worker.removeAllListeners("exit");
          worker.on("message", (reply: WorkerReply) => this.settle(worker, reply));
          worker.on("error", () => this.replace(worker, "error"));
          worker.on("exit", () => this.replace(worker, "exit"));
          resolve();
        });
      });
      this.ready.catch(() => {
        if (this.worker === worker) {
          this.worker = undefined;
          this.ready = undefined;
        }
      });
    }
    return this.ready;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.resolve({ kind: "error", message: "the Python interpreter is closed" });
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private async pump(): Promise<void> {
    if (this.busy || this.queue.length === 0) return;
    const next = this.queue[0]!;
    if (next.generation !== undefined && next.generation !== this.generation) {
      this.queue.shift();
      next.resolve({ kind: "lost" });
      return this.pump();
    }
    try {
      await this.start();
    } catch (err) {
      for (const p of this.queue.splice(0)) p.resolve({ kind: "error", message: `the Python interpreter could not start: ${(err as Error).message}` });
      return;
    }
    if (this.busy || this.queue[0] !== next) return;
    this.queue.shift();
    const worker = this.worker!;
    const busy = { ...next, timedOut: false, timers: [] as NodeJS.Timeout[] };
    this.busy = busy;
    busy.timers.push(
      setTimeout(() => {
        busy.timedOut = true;
        Atomics.store(new Int32Array(this.interrupt), 0, 2); // SIGINT: KeyboardInterrupt at the next bytecode
      }, next.timeoutMs),
      setTimeout(() => void this.hardStop(worker, busy), next.timeoutMs + HARD_STOP_GRACE_MS),
    );
    worker.postMessage(next.request);
  }

  private settle(worker: Worker, reply: WorkerReply): void {
    const busy = this.busy;
    if (worker !== this.worker || !busy || reply.type === "ready" || reply.id !== busy.request.id) return;
    this.busy = undefined;
    for (const t of busy.timers) clearTimeout(t);
    this.stats.heapBytes = reply.heapBytes;
    busy.resolve(busy.timedOut ? { kind: "timeout" } : reply.type === "result" ? { kind: "ok", result: reply.result } : { kind: "error", message: reply.message });
    void this.pump();
  }

  /** The interrupt was not honoured (a long C-level operation, or code that keeps catching it): end the worker. */
  private async hardStop(worker: Worker, busy: Pending): Promise<void> {
    if (this.busy !== busy || this.worker !== worker) return;
    this.replace(worker, "stopped");
    await worker.terminate();
  }

  private replace(worker: Worker, _why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.ready = undefined;
    this.generation++;
    this.stats.restarts++;
    const busy = this.busy;
    this.busy = undefined;
    if (busy) {
      for (const t of busy.timers) clearTimeout(t);
      busy.resolve(busy.timedOut ? { kind: "timeout" } : { kind: "lost" });
    }
    void this.pump();
  }
}

let shared: PythonInterpreter | undefined;

/** The process's Python interpreter, started at first use (an interpreter costs seconds to start and tens of MiB). */
export function sharedInterpreter(): PythonInterpreter {
  shared ??= new PythonInterpreter();
  return shared;
}
