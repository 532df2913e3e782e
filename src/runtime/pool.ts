// The sandbox pool: environments run in worker threads, every call of one episode on one worker in order, and
// an episode whose worker is stuck in another episode's long call moves to another worker by replaying its calls.
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { SandboxLimits, type CallResult, type Environment, type SandboxLimitsInput } from "../schema/index.ts";
import { workerBoot } from "./boot.ts";
import type { Episode } from "./episode.ts";
import { compileEnvironment, EnvironmentCompileError, type CompiledEnvironment } from "./index.ts";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./protocol.ts";
import type { RecordedCall } from "./replay.ts";

export interface SandboxPoolOptions {
  /** Worker threads for episodes; default one per core. */
  workers?: number;
  /**
   * A worker that has answered nothing for this long while it has work is taken to be inside one
   * long call: the other episodes waiting on it move to another worker. Default 1000 ms, far above
   * what a sound tool call needs even on a busy machine.
   */
  stallMs?: number;
  /** Standby workers, started with the pool and used only while the others are stuck. Default 1. */
  spares?: number;
  /**
   * A request still running this long after several times its time limit (code outside the
   * sandbox's deadline: a schema pattern that backtracks in the argument check) stops its worker
   * thread; a new one takes its place. Default 10 s.
   */
  graceMs?: number;
}

/** What the pool has done, for benchmarks and metrics. */
export interface SandboxPoolStats {
  workers: number;
  episodes: number;
  /** Episodes moved off a stuck or stopped worker, each by replaying its calls. */
  moves: number;
  replayedCalls: number;
  /** Workers stopped because a request ran far past its deadline, or that died. */
  stopped: number;
  compiles: number;
}

type Reply<Op extends WorkerReply["op"]> = Extract<WorkerReply, { op: Op }>;

/** A request sent to a worker and not answered yet. */
interface Pending {
  id: number;
  msg: WorkerRequest;
  episode: PooledEpisode | null;
  /** How long it may run before the worker's interrupt word is set, and before the worker is stopped. */
  interruptMs: number;
  budgetMs: number;
  settle(reply: WorkerReply): void;
  /** The worker stopped while this request ran. */
  fail(reason: string): void;
  /** Sent again elsewhere: the worker will still run it, but its answer is ignored. */
  abandoned: boolean;
}

class Slot {
  /** Requests in the order sent; a worker answers them in that order, so the first is the one running. */
  readonly queue: Pending[] = [];
  /** The same requests by id: with thousands queued, finding an answered one by a search cost the main thread seconds. */
  private readonly byId = new Map<number, Pending>();
  readonly episodes = new Set<PooledEpisode>();
  readonly compiled = new Set<string>();
  readonly interrupt = new Int32Array(new SharedArrayBuffer(4));
  /** When the worker last answered, or got work while idle. */
  lastProgress = performance.now();
  dead = false;
  /** A starting worker loads its modules before it answers anything; that is not being stuck. */
  ready = false;
  readonly worker: Worker;

  constructor(
    boot: string,
    /** A standby worker, used while the others are stuck. */
    readonly spare: boolean,
    onReply: (slot: Slot, reply: WorkerReply) => void,
    onExit: (slot: Slot, code: number) => void,
  ) {
    const init: WorkerInit = { interrupt: this.interrupt.buffer as SharedArrayBuffer };
    this.worker = new Worker(boot, { eval: true, workerData: init });
    this.worker.on("message", (reply: WorkerReply) => onReply(this, reply));
    // An uncaught error ends the thread; "exit" follows and handles it.
    this.worker.on("error", () => undefined);
    this.worker.on("exit", (code) => onExit(this, code));
    // After the listeners: adding a "message" listener references the worker's port again.
    this.worker.unref();
  }

  post(p: Pending): void {
    if (this.queue.length === 0) {
      this.lastProgress = performance.now();
      // Referenced only while it has work, so an idle pool never keeps the process alive.
      this.worker.ref();
    }
    this.queue.push(p);
    this.byId.set(p.id, p);
    this.worker.postMessage(p.msg);
  }

  /** Sends without expecting an answer. */
  tell(msg: WorkerRequest): void {
    this.worker.postMessage(msg);
  }

  started(): void {
    this.ready = true;
    this.lastProgress = performance.now();
  }

  answered(id: number): Pending | undefined {
    const p = this.byId.get(id);
    this.byId.delete(id);
    const i = p ? this.queue.indexOf(p) : -1;
    if (i < 0) return undefined;
    this.queue.splice(i, 1);
    this.lastProgress = performance.now();
    if (this.queue.length === 0) this.worker.unref();
    return p;
  }

  /**
   * How long the request it is running has run, when that is a tool call: compiles and opens
   * (a new WebAssembly instance each) take long on a busy machine without anything being wrong,
   * and a slow or looping compile is paid once per environment.
   */
  stuckFor(now: number): number {
    const head = this.queue[0];
    return !head || !this.ready || head.msg.op !== "call" ? 0 : now - this.lastProgress;
  }
}

interface CompiledEntry {
  key: string;
  env: Environment;
  limitsInput: SandboxLimitsInput;
  limits: SandboxLimits;
}

let nextEpisode = 1;
/** The reason requests fail with once the pool is closed. */
const CLOSED = "the sandbox pool is closed";
/** An episode stays at least this many `stallMs` on the worker it moved to. */
const MOVE_COOLDOWN = 10;

class PooledEpisode implements Episode {
  readonly id = nextEpisode++;
  slot: Slot;
  /** The calls that took effect, in order: enough to rebuild this episode on any worker. */
  readonly history: RecordedCall[] = [];
  private calls = 0;
  private isClosed = false;
  /** Whether the last call answered took effect, so `undo` has something to take back. */
  private lastKept = false;
  /** When it last moved: a busy machine can make the new worker look stuck too, and moving again would only add replays. */
  movedAt = -Infinity;

  constructor(
    private readonly pool: SandboxPool,
    readonly entry: CompiledEntry,
    readonly seed: number,
  ) {
    this.slot = pool.open(this);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get callCount(): number {
    return this.calls;
  }

  get applied(): number {
    return this.history.length;
  }

  call(tool: string, args: unknown): Promise<CallResult> {
    if (this.isClosed) return Promise.resolve({ ok: false, kind: "episode_closed", error: "the episode is closed", ms: 0 });
    this.calls++;
    return new Promise((resolve) => {
      const timeout = this.entry.limits.timeoutMs;
      this.pool.send(this, {
        msg: { op: "call", id: 0, episode: this.id, tool, args },
        interruptMs: timeout,
        budgetMs: 4 * timeout + this.pool.graceMs,
        settle: (reply) => {
          const r = reply as Reply<"call">;
          this.lastKept = r.digest !== null;
          if (r.digest !== null) this.history.push({ tool, arguments: args, digest: r.digest });
          resolve(r.result);
        },
        fail: (reason) =>
          resolve(
            reason === CLOSED
              ? { ok: false, kind: "episode_closed", error: "the episode is closed: its sandbox pool was closed", ms: 0 }
              : { ok: false, kind: reason === "timeout" ? "timeout" : "out_of_memory", error: `the sandbox's worker thread was stopped (${reason}); the call had no effect on the episode's state`, ms: 0 },
          ),
      });
    });
  }

  state(): Promise<unknown> {
    if (this.isClosed) return Promise.reject(new Error("the episode is closed"));
    return new Promise((resolve, reject) => {
      this.pool.send(this, {
        msg: { op: "state", id: 0, episode: this.id },
        interruptMs: this.entry.limits.timeoutMs,
        budgetMs: 2 * this.entry.limits.timeoutMs + this.pool.graceMs,
        settle: (reply) => {
          const r = reply as Reply<"state">;
          if (r.ok) resolve(r.state);
          else reject(new Error(`cannot copy the episode's state: ${r.error}`));
        },
        fail: (reason) => reject(new Error(`cannot copy the episode's state: the sandbox's worker thread was stopped (${reason})`)),
      });
    });
  }

  undo(): Promise<void> {
    if (this.isClosed || !this.lastKept) return Promise.resolve();
    this.lastKept = false;
    // The call leaves the history once the worker has taken it back: if the episode moves before
    // that, the new worker replays it and the undo, sent again there, takes it back.
    const applied = this.history.length;
    const drop = () => {
      if (this.history.length === applied) this.history.pop();
    };
    return new Promise((resolve) => {
      this.pool.send(this, {
        msg: { op: "undo", id: 0, episode: this.id, applied },
        interruptMs: this.entry.limits.timeoutMs,
        budgetMs: 2 * (applied + 2) * this.entry.limits.timeoutMs + this.pool.graceMs,
        settle: () => resolve(drop()),
        // A stopped worker loses the episode; the next request rebuilds it from the history, without this call.
        fail: () => resolve(drop()),
      });
    });
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.pool.release(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Worker threads that run sandboxes of any kind (see SandboxKind). An episode lives on one worker
 * and its calls run there in arrival order, so a call that loops or backtracks holds up only the
 * episodes queued behind it on that worker, and only until the pool notices (`stallMs`): they then
 * move to another worker, which rebuilds each one from its seed and the calls that took effect,
 * checking every replayed output. Compiles are cached by content (environment and limits), failures
 * included, so a prelude that loops or is slow is paid once per pool.
 */
export class SandboxPool {
  readonly size: number;
  private readonly stallMs: number;
  /** Read by the episodes' requests, hence not private. */
  readonly graceMs: number;
  private readonly maxWorkers: number;
  private readonly boot = workerBoot(new URL("./thread.ts", import.meta.url));
  private readonly slots: Slot[] = [];
  private readonly compiles = new Map<string, Promise<CompiledEnvironment>>();
  private readonly counters = { moves: 0, replayedCalls: 0, stopped: 0, compiles: 0 };
  private nextId = 1;
  private closed = false;
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(options: SandboxPoolOptions = {}) {
    this.size = Math.max(1, options.workers ?? availableParallelism());
    this.stallMs = options.stallMs ?? 1000;
    this.graceMs = options.graceMs ?? 10_000;
    this.maxWorkers = this.size + Math.max(0, options.spares ?? 1);
    this.watchdog = setInterval(() => this.watch(), Math.max(10, this.stallMs / 2));
    this.watchdog.unref();
  }

  stats(): SandboxPoolStats {
    return { workers: this.slots.length, episodes: this.slots.reduce((n, s) => n + s.episodes.size, 0), ...this.counters };
  }

  /**
   * The environment compiled on a worker, once per content: every later call with an equal
   * environment and limits gets the same result, a failure included (EnvironmentCompileError).
   */
  compile(env: Environment, limitsInput: SandboxLimitsInput = {}): Promise<CompiledEnvironment> {
    if (this.closed) return Promise.reject(new Error("the sandbox pool is closed"));
    // Python tool code already runs off this thread, in the process's one Pyodide worker (a pool worker
    // each would cost an interpreter start and its memory per worker): its episodes are compiled here.
    if (env.implementation.language === "python") return compileEnvironment(env, limitsInput);
    const parsed = SandboxLimits.safeParse(limitsInput);
    if (!parsed.success) {
      return Promise.reject(new EnvironmentCompileError(env.id, parsed.error.issues.map((i) => `limits.${i.path.join(".")}: ${i.message}`)));
    }
    const key = createHash("sha256").update(JSON.stringify(env)).update("\u0000").update(JSON.stringify(parsed.data)).digest("hex");
    let compiled = this.compiles.get(key);
    if (!compiled) {
      const entry: CompiledEntry = { key, env, limitsInput: parsed.data, limits: parsed.data };
      compiled = this.compileOn(this.place(null), entry).then(() => ({
        env,
        limits: entry.limits,
        openEpisode: (options: { seed?: number } = {}) => {
          const seed = options.seed ?? 0;
          if (!Number.isSafeInteger(seed)) throw new TypeError(`seed must be a safe integer, got ${String(seed)}`);
          return new PooledEpisode(this, entry, seed);
        },
      }));
      compiled.catch(() => undefined);
      this.compiles.set(key, compiled);
    }
    return compiled;
  }

  /** Stops every worker; open episodes answer `episode_closed` from then on. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    const slots = this.slots.splice(0);
    for (const s of slots) s.dead = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Places a new episode and opens it there. */
  open(episode: PooledEpisode): Slot {
    const slot = this.place(null);
    this.attach(episode, slot);
    return slot;
  }

  release(episode: PooledEpisode): void {
    episode.slot.episodes.delete(episode);
    if (!episode.slot.dead) episode.slot.tell({ op: "close", episode: episode.id });
  }

  /** Sends an episode's request to its worker, moving the episode first when that worker is stuck in another episode's call. */
  send(episode: PooledEpisode, p: Omit<Pending, "id" | "episode" | "abandoned">): void {
    if (this.closed) return p.fail(CLOSED);
    const slot = episode.slot;
    const head = slot.queue[0];
    if (slot.dead || (this.stuckFor(slot, episode) && head?.episode !== episode)) this.move(episode);
    this.post(episode.slot, { ...p, id: 0, episode, abandoned: false });
  }

  /** Whether `episode` should leave `slot`: stuck in one request for `stallMs`, and the episode has not just moved there. */
  private stuckFor(slot: Slot, episode: PooledEpisode): boolean {
    const now = performance.now();
    return slot.stuckFor(now) > this.stallMs && now - episode.movedAt > MOVE_COOLDOWN * this.stallMs;
  }

  private post(slot: Slot, p: Pending): void {
    p.id = this.nextId++;
    (p.msg as { id: number }).id = p.id;
    slot.post(p);
  }

  private compileOn(slot: Slot, entry: CompiledEntry): Promise<void> {
    slot.compiled.add(entry.key);
    this.counters.compiles++;
    return new Promise((resolve, reject) => {
      this.post(slot, {
        id: 0,
        episode: null,
        abandoned: false,
        msg: { op: "compile", id: 0, key: entry.key, env: entry.env, limits: entry.limitsInput },
        interruptMs: entry.limits.timeoutMs,
        budgetMs: 3 * entry.limits.timeoutMs + this.graceMs,
        settle: (reply) => {
          const r = reply as Reply<"compile">;
          if (r.ok) return resolve();
          const e = r.error;
          reject(e.name === "EnvironmentCompileError" && e.envId !== undefined && e.problems ? new EnvironmentCompileError(e.envId, e.problems) : new Error(e.message));
        },
        fail: (reason) => reject(new EnvironmentCompileError(entry.env.id, [`compiling stopped the sandbox's worker thread (${reason})`])),
      });
    });
  }

  /** Opens `episode` on `slot`, replaying its history there (compiling the environment first if that worker lacks it). */
  private attach(episode: PooledEpisode, slot: Slot): void {
    episode.slot = slot;
    slot.episodes.add(episode);
    const { entry } = episode;
    if (!slot.compiled.has(entry.key)) void this.compileOn(slot, entry).catch(() => undefined);
    const replay = [...episode.history];
    this.counters.replayedCalls += replay.length;
    this.post(slot, {
      id: 0,
      episode,
      abandoned: false,
      msg: { op: "open", id: 0, key: entry.key, episode: episode.id, seed: episode.seed, replay },
      interruptMs: entry.limits.timeoutMs,
      budgetMs: 2 * (replay.length + 2) * entry.limits.timeoutMs + this.graceMs,
      // A failed open is answered again by each of the episode's calls, with the reason.
      settle: () => undefined,
      fail: () => undefined,
    });
  }

  /** Rebuilds `episode` on another worker and sends its unanswered requests there, in order; stays when every other worker is stuck too. */
  private move(episode: PooledEpisode): void {
    const from = episode.slot;
    const to = this.refuge(from);
    if (!to) return;
    const waiting = from.queue.filter((p) => p.episode === episode && !p.abandoned);
    for (const p of waiting) p.abandoned = true;
    from.episodes.delete(episode);
    if (!from.dead) from.tell({ op: "close", episode: episode.id });
    this.counters.moves++;
    episode.movedAt = performance.now();
    this.attach(episode, to);
    for (const p of waiting) if (p.msg.op !== "open") this.post(episode.slot, { ...p, abandoned: false });
  }

  /**
   * The worker for a new or moving episode: the least loaded of the `size` workers that is not stuck,
   * else the least loaded standby spare that is not (spares start with the pool, so they are ready
   * when needed: a worker takes a while to start), else the least loaded of all.
   */
  private place(avoid: Slot | null): Slot {
    const primaries = this.slots.filter((s) => !s.spare);
    if (primaries.length < this.size) {
      const slot = this.spawn(false);
      while (this.slots.filter((s) => s.spare).length < this.maxWorkers - this.size) this.spawn(true);
      return slot;
    }
    const now = performance.now();
    const live = this.slots.filter((s) => !s.dead && s !== avoid);
    const free = live.filter((s) => s.stuckFor(now) <= this.stallMs);
    const least = (list: Slot[]) => list.reduce((a, b) => (b.episodes.size < a.episodes.size ? b : a));
    const freePrimaries = free.filter((s) => !s.spare);
    if (freePrimaries.length > 0) return least(freePrimaries);
    if (free.length > 0) return least(free);
    return live.length > 0 ? least(live) : this.spawn(false);
  }

  /** Where an episode stuck on `from` could go now: a worker that is not stuck itself, or none. */
  private refuge(from: Slot): Slot | null {
    const to = this.place(from);
    return from.dead || to.stuckFor(performance.now()) <= this.stallMs ? to : null;
  }

  private spawn(spare: boolean): Slot {
    const slot = new Slot(this.boot, spare, (s, r) => this.answered(s, r), (s, code) => this.exited(s, code));
    this.slots.push(slot);
    return slot;
  }

  private answered(slot: Slot, reply: WorkerReply): void {
    if (reply.op === "ready") return slot.started();
    const p = slot.answered(reply.id);
    if (p && !p.abandoned) p.settle(reply);
  }

  /** A worker died or was stopped: the request it was running fails, its other work and episodes move. */
  private exited(slot: Slot, code: number, reason = `it exited with code ${code}`): void {
    if (slot.dead && !this.slots.includes(slot)) return;
    slot.dead = true;
    this.slots.splice(this.slots.indexOf(slot), 1);
    if (this.closed) return;
    const [running, ...rest] = slot.queue.splice(0);
    if (running && !running.abandoned) running.fail(reason);
    for (const episode of new Set(rest.filter((p) => !p.abandoned && p.episode).map((p) => p.episode!))) {
      slot.queue.push(...rest.filter((p) => p.episode === episode));
      this.move(episode);
    }
    // Compiles that had not started run again elsewhere; the others' episodes move on their next call.
    for (const p of rest) {
      if (p.abandoned || p.msg.op !== "compile") continue;
      const to = this.place(null);
      to.compiled.add(p.msg.key);
      this.post(to, { ...p });
    }
  }

  /** Moves episodes off stuck workers, and interrupts and then stops requests far past their deadline. */
  private watch(): void {
    const now = performance.now();
    for (const slot of [...this.slots]) {
      const head = slot.queue[0];
      if (!head || !slot.ready) continue;
      const stuck = now - slot.lastProgress;
      if (stuck > head.interruptMs) Atomics.store(slot.interrupt, 0, 2);
      if (stuck > head.budgetMs) {
        this.counters.stopped++;
        this.exited(slot, 1, "timeout");
        void slot.worker.terminate();
        continue;
      }
      if (slot.stuckFor(now) <= this.stallMs) continue;
      const waiting = new Set(slot.queue.slice(1).filter((p) => !p.abandoned && p.episode && p.episode !== head.episode && this.stuckFor(slot, p.episode)).map((p) => p.episode!));
      for (const episode of waiting) this.move(episode);
    }
  }
}

let shared: SandboxPool | undefined;
let sharedOptions: SandboxPoolOptions = {};

/** Sets the options of the process's shared pool; takes effect when it is next created. */
export function configureSandboxPool(options: SandboxPoolOptions): void {
  sharedOptions = options;
}

/** The process's shared pool, created on first use. */
export function sandboxPool(): SandboxPool {
  shared ??= new SandboxPool(sharedOptions);
  return shared;
}
