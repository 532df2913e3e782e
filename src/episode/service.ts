// The episode service: opens episodes by environment and task, finds them by id for any face, serializes their calls, ends idle ones and keeps their sandboxes under a memory budget.
import { randomUUID } from "node:crypto";
import type { Recorder } from "../store/index.ts";
import type { EpisodeStatus, TransportKind } from "../schema/index.ts";
import { EpisodeSession, SUBMIT_TOOL } from "./live.ts";
import type { ServeMode } from "./views.ts";
import { LookupError, type EnvironmentRegistry } from "./registry.ts";
import { DEFAULT_RESIDENT, ResidentSet, type ResidencyStats } from "./resident.ts";

/** Why an environment with its own `submit_answer` tool is not served beside the server's. */
export const submitClash = (envId: string): string =>
  `environment "${envId}" cannot be served with the submit tool: it has its own tool named ${SUBMIT_TOOL}; rename that tool, or serve it with --no-submit-tool`;

/** Ids a client may choose: safe in URLs, headers, file names and SQL text. */
export const EPISODE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface ServiceOptions {
  /** Environment tool calls allowed per episode. */
  maxCalls?: number;
  /** Offer the submit_answer tool (default true). */
  submitTool?: boolean;
  /** `train` keeps progress counts and the score off the agent plane; default `eval`. */
  mode?: ServeMode;
  /** Sandboxes kept open at most; the least recently used idle ones are evicted. Default DEFAULT_RESIDENT. */
  resident?: number;
}

export interface OpenOptions {
  env: string;
  /** May be omitted when the environment has one task. */
  task?: string | null;
  /** A client-supplied id (a trainer's rollout id); must be new. Generated when absent. */
  id?: string | null;
  seed?: number;
  transport: TransportKind;
  /** The face that opened it: mcp, rest or ors (recorded in the episode's meta). */
  face: string;
  sessionId?: string | null;
  /** Insert the episode's row only at `begin()` (MCP does it at the first message); default: now. */
  lazy?: boolean;
  maxCalls?: number;
  submitTool?: boolean;
  mode?: ServeMode;
  onEnd?: (status: EpisodeStatus) => void;
}

interface Entry {
  episode: EpisodeSession;
  lastActive: number;
  /** Connections (MCP sessions) holding the episode open; the idle reaper leaves held episodes to them. */
  holders: number;
}

/**
 * The live episodes of one process, by id. An episode belongs to no connection: any face may
 * open it and any face may drive it by its id, and its calls run one at a time in arrival
 * order whichever face sent them. Its record is in the store.
 */
export class EpisodeService {
  private readonly live = new Map<string, Entry>();
  private readonly residents: ResidentSet;

  constructor(
    readonly registry: EnvironmentRegistry,
    readonly recorder: Recorder,
    private readonly options: ServiceOptions = {},
  ) {
    this.residents = new ResidentSet(options.resident ?? DEFAULT_RESIDENT);
  }

  /** Resident sandboxes, evictions and replays so far (for /metrics). */
  get stats(): ResidencyStats {
    return this.residents.stats;
  }

  /** Runs after each eviction, with the episode's id. */
  get onEvict(): (episodeId: string) => void {
    return this.residents.onEvict;
  }

  set onEvict(hook: (episodeId: string) => void) {
    this.residents.onEvict = hook;
  }

  /** Checks an episode id a client chose: its form, and that it is new. */
  checkNewId(id: string): void {
    if (!EPISODE_ID.test(id)) throw new LookupError(`invalid episode id ${JSON.stringify(id)}: use 1-128 of [A-Za-z0-9_.:-]`, 400);
    if (this.live.has(id) || this.recorder.episodeExists(id)) throw new LookupError(`episode id "${id}" is already in the database; choose a new one`, 409);
  }

  /** Opens an episode; unknown environments and tasks and taken ids are `LookupError`s with an HTTP status. */
  open(o: OpenOptions): EpisodeSession {
    const failure = this.recorder.failure;
    if (failure) throw new LookupError(`Service Unavailable: the store failed (${failure.reason}); new episodes are refused until it is writable again`, 503);
    if (o.id !== undefined && o.id !== null) this.checkNewId(o.id);
    const { entry, task } = this.registry.resolve(o.env, o.task);
    const id = o.id ?? randomUUID();
    const maxCalls = o.maxCalls ?? this.options.maxCalls;
    const submitTool = o.submitTool ?? this.options.submitTool;
    const mode = o.mode ?? this.options.mode;
    if ((submitTool ?? true) && entry.env.tools.some((t) => t.name === SUBMIT_TOOL)) throw new LookupError(submitClash(entry.env.id), 409);
    const episode = new EpisodeSession({
      env: entry.env,
      task,
      compiled: () => this.registry.compile(entry.env.id),
      recorder: this.recorder,
      transport: o.transport,
      id,
      envSha256: entry.sha256,
      sessionId: o.sessionId ?? null,
      face: o.face,
      ...(maxCalls !== undefined ? { maxCalls } : {}),
      ...(submitTool !== undefined ? { submitTool } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(mode !== undefined ? { mode } : {}),
      residency: this.residents,
      onEnd: (status) => {
        this.live.delete(id);
        this.residents.forget(id);
        o.onEnd?.(status);
      },
    });
    this.live.set(id, { episode, lastActive: performance.now(), holders: 0 });
    if (!o.lazy) episode.begin();
    return episode;
  }

  /** The live episode with this id; 404 when there is none, 410 when it is in the database but has ended. */
  get(id: string): EpisodeSession {
    const entry = this.live.get(id);
    if (entry) {
      entry.lastActive = performance.now();
      return entry.episode;
    }
    if (this.recorder.episodeExists(id)) throw new LookupError(`episode "${id}" has ended; open a new episode`, 410);
    throw new LookupError(`no episode "${id}": open one first (POST /v1/episodes, an MCP URL with ?env=&task=, or ORS /create)`, 404);
  }

  /** The live episode with this id, or undefined. */
  find(id: string): EpisodeSession | undefined {
    return this.live.get(id)?.episode;
  }

  /** A connection holds the episode: the idle reaper leaves it alone until `release`. */
  hold(id: string): void {
    const entry = this.live.get(id);
    if (entry) entry.holders++;
  }

  release(id: string): void {
    const entry = this.live.get(id);
    if (!entry) return;
    entry.holders = Math.max(0, entry.holders - 1);
    entry.lastActive = performance.now();
  }

  /** Ends, as `idle_timeout`, every episode no connection holds that has not been used for `idleMs`. */
  reap(idleMs: number): void {
    const cutoff = performance.now() - idleMs;
    for (const entry of this.live.values()) {
      if (entry.holders === 0 && entry.lastActive < cutoff) void entry.episode.end("idle_timeout");
    }
  }

  get size(): number {
    return this.live.size;
  }

  /** Ends every live episode (server shutdown). */
  async closeAll(status: Exclude<EpisodeStatus, "running"> = "closed"): Promise<void> {
    await Promise.all([...this.live.values()].map((e) => e.episode.end(status)));
  }
}
