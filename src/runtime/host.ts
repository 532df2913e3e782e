// The worker side of the sandbox pool: compiled environments by content key and open episodes by number, any sandbox kind.
import type { CallResult } from "../schema/index.ts";
import type { Episode } from "./episode.ts";
import type { CompiledEnvironment } from "./index.ts";
import { PRELOADED_KIND, SANDBOX_KINDS, type SandboxKind } from "./kinds.ts";
import type { WorkerReply, WorkerRequest } from "./protocol.ts";
import { recordCall, rebuildEpisode } from "./replay.ts";

/**
 * Answers the pool's requests. Requests are handled in arrival order per episode (each episode
 * queues its own calls); a call blocks the thread while its sandbox runs, which is why the pool
 * moves the other episodes of a worker stuck in a long call elsewhere.
 */
export class SandboxHost {
  private readonly compiled = new Map<string, Promise<CompiledEnvironment>>();
  /** An episode, or why it could not be opened; a promise while it is being rebuilt. */
  private readonly episodes = new Map<number, Promise<Episode | string>>();
  private readonly kinds = new Map<string, Promise<SandboxKind>>();

  constructor(
    private readonly send: (reply: WorkerReply) => void,
    private readonly interrupt: Int32Array,
  ) {}

  /** Loads the usual sandbox kind, then tells the pool this worker is ready. */
  async start(): Promise<void> {
    await this.kind(PRELOADED_KIND).catch(() => undefined);
    this.send({ op: "ready" });
  }

  handle(req: WorkerRequest): void {
    switch (req.op) {
      case "compile":
        void this.compile(req);
        return;
      case "open":
        this.open(req);
        return;
      case "call":
        void this.call(req);
        return;
      case "state":
        void this.state(req);
        return;
      case "undo":
        void this.undo(req);
        return;
      case "close":
        void this.close(req.episode);
    }
  }

  private kind(language: string): Promise<SandboxKind> {
    let k = this.kinds.get(language);
    if (!k) {
      const load = SANDBOX_KINDS[language];
      k = load ? load() : Promise.reject(new Error(`no sandbox for implementation language "${language}"; known: ${Object.keys(SANDBOX_KINDS).join(", ")}`));
      this.kinds.set(language, k);
    }
    return k;
  }

  private async compile(req: Extract<WorkerRequest, { op: "compile" }>): Promise<void> {
    let c = this.compiled.get(req.key);
    if (!c) {
      c = this.kind(req.env.implementation.language).then((k) => k.compile(req.env, req.limits, { interrupt: this.interrupt }));
      this.compiled.set(req.key, c);
    }
    try {
      await c;
      this.send({ id: req.id, op: "compile", ok: true });
    } catch (err) {
      const e = err as Error & { envId?: string; problems?: readonly string[] };
      this.send({ id: req.id, op: "compile", ok: false, error: { name: e.name, message: e.message, ...(e.envId !== undefined ? { envId: e.envId } : {}), ...(e.problems ? { problems: e.problems } : {}) } });
    }
  }

  private open(req: Extract<WorkerRequest, { op: "open" }>): void {
    const opened = (async (): Promise<Episode | string> => {
      const compiled = this.compiled.get(req.key);
      if (!compiled) return "the environment was not compiled on this worker";
      try {
        return await rebuildEpisode(await compiled, req.seed, req.replay);
      } catch (err) {
        return `the episode could not be ${req.replay.length > 0 ? "rebuilt" : "opened"}: ${(err as Error).message}`;
      }
    })();
    this.episodes.set(req.episode, opened);
    void opened.then((e) => this.send({ id: req.id, op: "open", ok: typeof e !== "string", ...(typeof e === "string" ? { error: e } : {}) }));
  }

  private async call(req: Extract<WorkerRequest, { op: "call" }>): Promise<void> {
    const episode = await this.episodes.get(req.episode);
    if (episode === undefined || typeof episode === "string") {
      const result: CallResult = { ok: false, kind: "episode_closed", error: episode ?? "the episode is closed", ms: 0 };
      return this.send({ id: req.id, op: "call", result, digest: null });
    }
    const before = episode.applied;
    const result = await episode.call(req.tool, req.args);
    this.send({ id: req.id, op: "call", result, digest: episode.applied > before ? recordCall(req.tool, req.args, result).digest : null });
  }

  private async state(req: Extract<WorkerRequest, { op: "state" }>): Promise<void> {
    const episode = await this.episodes.get(req.episode);
    if (episode === undefined || typeof episode === "string") return this.send({ id: req.id, op: "state", ok: false, error: episode ?? "the episode is closed" });
    try {
      this.send({ id: req.id, op: "state", ok: true, state: await episode.state() });
    } catch (err) {
      this.send({ id: req.id, op: "state", ok: false, error: (err as Error).message });
    }
  }

  private async undo(req: Extract<WorkerRequest, { op: "undo" }>): Promise<void> {
    const episode = await this.episodes.get(req.episode);
    if (episode !== undefined && typeof episode !== "string" && episode.applied === req.applied) await episode.undo();
    this.send({ id: req.id, op: "undo" });
  }

  private async close(id: number): Promise<void> {
    // Forgotten now, not once it has opened: an episode that moves away and back is opened again under the
    // same number meanwhile, and deleting later would forget that new one (its calls would answer "closed").
    const opened = this.episodes.get(id);
    this.episodes.delete(id);
    const episode = await opened;
    if (episode !== undefined && typeof episode !== "string") episode.close();
  }
}
