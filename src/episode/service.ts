// The episode service: opens episodes by environment and task, finds them by id for any face, serializes their calls, ends idle ones and keeps their sandboxes under a memory budget.
import { randomUUID } from "node:crypto";
import { now, type Recorder, type StoredEpisode } from "../store/index.ts";
import type { EpisodeStatus, TransportKind } from "../schema/index.ts";
import { EpisodeSession, SUBMIT_TOOL } from "./live.ts";
import { SERVE_MODES, type ServeMode } from "./views.ts";
import { LookupError, type EnvironmentRegistry } from "./registry.ts";
import { EpisodeEvents } from "./events.ts";
import { DEFAULT_RESIDENT, ResidentSet, type ResidencyStats } from "./resident.ts";
import { admit, EPISODES, type FairnessLimits } from "./fairness.ts";

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
  /**
   * The store is shared with other server processes (replicas): episodes opened by id (REST, ORS,
   * 2026-07-28 MCP) are leased per call, and any process takes over any of them from the store.
   * `leaseMs` bounds how long a call of a process that died keeps others waiting.
   */
  shared?: { leaseMs: number };
  /** Sandboxes kept open at most; the least recently used idle ones are evicted. Default DEFAULT_RESIDENT. */
  resident?: number;
  /**
   * Per-client limits on live episodes opened by id (REST, ORS, 2026-07-28 MCP), applied to opens
   * that name their client: a full server lets a smaller client take a larger one's long-idle
   * episode (see admit). MCP sessions have their own limits, where the connection is made.
   */
  episodeLimits?: FairnessLimits;
}

/** Episodes one sweep ends at most, so that a large backlog does not hold up the server for long. */
export const SWEEP_LIMIT = 100;

/** Faces whose episodes are addressed by id, not by a connection: the ones another process can take over. */
const BY_ID_FACES = new Set(["rest", "ors", "mcp-2026"]);

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
  /** Who asks (see clientOf), for the per-client limits of `episodeLimits`; an open without one is not limited. */
  client?: string;
  /** Insert the episode's row only at `begin()` (MCP does it at the first message); default: now. */
  lazy?: boolean;
  maxCalls?: number;
  submitTool?: boolean;
  mode?: ServeMode;
  onEnd?: (status: EpisodeStatus) => void;
}

interface Entry {
  episode: EpisodeSession;
  /** Who opened it, for the per-client limits; "unknown" for one taken over from the store. */
  client: string;
  /** Counted by the per-client limits: opened by id, and not already being ended to make room. */
  limited: boolean;
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
  /** Takeovers in progress, so that concurrent requests for one episode build it once. */
  private readonly resuming = new Map<string, Promise<EpisodeSession>>();
  /** Live episodes the per-client limits count, in all and by client (kept as they come and go: an open must not scan thousands). */
  private limitedCount = 0;
  private readonly limitedBy = new Map<string, number>();
  /** Opens, ends and calls of these episodes, for the server's metrics. */
  readonly events = new EpisodeEvents();
  private readonly residents: ResidentSet;
  /** The sweep under way, if any: ticks that come while it runs join it rather than start another. */
  private sweeping: Promise<number> | null = null;
  /**
   * The last episode the previous sweep looked at, when it stopped at its limit: the next one pages
   * on from there, so episodes this process cannot end (an environment it does not serve) never
   * hold back the ones after them.
   */
  private sweptUpTo: string | undefined;

  constructor(
    readonly registry: EnvironmentRegistry,
    readonly recorder: Recorder,
    private readonly options: ServiceOptions = {},
  ) {
    this.residents = new ResidentSet(options.resident ?? DEFAULT_RESIDENT, this.events);
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
  async checkNewId(id: string): Promise<void> {
    if (!EPISODE_ID.test(id)) throw new LookupError(`invalid episode id ${JSON.stringify(id)}: use 1-128 of [A-Za-z0-9_.:-]`, 400);
    if (this.live.has(id) || (await this.recorder.episodeExists(id))) throw new LookupError(`episode id "${id}" is already in the database; choose a new one`, 409);
  }

  /** Opens an episode; unknown environments and tasks and taken ids are `LookupError`s with an HTTP status. */
  async open(o: OpenOptions): Promise<EpisodeSession> {
    if (o.id !== undefined && o.id !== null) await this.checkNewId(o.id);
    const episode = this.openChecked(o);
    if (o.lazy) return episode;
    // The episode exists for a client once its row is stored: the answer that names it waits for the commit.
    try {
      await this.recorder.committed();
    } catch (err) {
      this.remove(episode.id);
      throw err;
    }
    return episode;
  }

  /**
   * `open` for an id already checked to be new (the store's key refuses a duplicate at the first
   * record anyway), without waiting for the store.
   */
  openChecked(o: OpenOptions): EpisodeSession {
    const failure = this.recorder.failure;
    if (failure) throw new LookupError(`Service Unavailable: the store failed (${failure.reason}); new episodes are refused until it is writable again`, 503);
    if (o.id !== undefined && o.id !== null && !EPISODE_ID.test(o.id)) throw new LookupError(`invalid episode id ${JSON.stringify(o.id)}: use 1-128 of [A-Za-z0-9_.:-]`, 400);
    const { entry, task } = this.registry.resolve(o.env, o.task);
    const id = o.id ?? randomUUID();
    const maxCalls = o.maxCalls ?? this.options.maxCalls;
    const submitTool = o.submitTool ?? this.options.submitTool;
    const mode = o.mode ?? this.options.mode;
    if ((submitTool ?? true) && entry.env.tools.some((t) => t.name === SUBMIT_TOOL)) throw new LookupError(submitClash(entry.env.id), 409);
    const limited = BY_ID_FACES.has(o.face);
    if (limited && o.client !== undefined) this.makeRoom(o.client);
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
      ...(this.options.shared && BY_ID_FACES.has(o.face) ? { shared: { leaseMs: this.options.shared.leaseMs, epoch: 1 } } : {}),
      residency: this.residents,
      onEnd: (status) => {
        this.remove(id);
        this.residents.forget(id);
        this.events.ended(o.face, status);
        o.onEnd?.(status);
      },
      onCall: (ok, seconds) => this.events.called(o.face, ok, seconds),
    });
    this.add({ episode, client: o.client ?? "unknown", limited, lastActive: performance.now(), holders: 0 });
    this.events.opened(o.face);
    if (!o.lazy) episode.begin();
    return episode;
  }

  /**
   * The live episode with this id; 404 when there is none, 410 when it is in the database but has
   * ended. In a shared store, a running episode another process opened is taken over from its record.
   */
  async get(id: string): Promise<EpisodeSession> {
    const entry = this.live.get(id);
    if (entry) {
      entry.lastActive = performance.now();
      return entry.episode;
    }
    if (this.options.shared) {
      const resuming = this.resuming.get(id) ?? this.resume(id).finally(() => this.resuming.delete(id));
      this.resuming.set(id, resuming);
      return resuming;
    }
    if (await this.recorder.episodeExists(id)) throw new LookupError(`episode "${id}" has ended; open a new episode`, 410);
    throw unknownEpisode(id);
  }

  /** Builds a live episode from its record, for a process that did not open it; its first call catches up from the store. */
  private async resume(id: string): Promise<EpisodeSession> {
    const row = await this.recorder.loadEpisode(id);
    if (!row || row.kind !== "episode") throw unknownEpisode(id);
    if (row.status !== "running") throw new LookupError(`episode "${id}" has ended; open a new episode`, 410);
    if (!row.lease) throw new LookupError(`episode "${id}" belongs to the connection that opened it (an MCP session or stdio) and cannot be continued from another server process`, 409);
    const { entry, task } = this.registry.resolve(row.envId ?? "", row.taskId);
    if (row.envSha256 !== null && row.envSha256 !== entry.sha256) {
      throw new LookupError(`episode "${id}" ran on another version of environment "${entry.env.id}" (sha256 ${row.envSha256.slice(0, 12)}, this server has ${entry.sha256.slice(0, 12)}); it can be continued only where that version is served`, 409);
    }
    const settings = storedSettings(row);
    const episode = new EpisodeSession({
      env: entry.env,
      task,
      compiled: () => this.registry.compile(entry.env.id),
      recorder: this.recorder,
      transport: row.transport,
      id,
      envSha256: entry.sha256,
      sessionId: row.sessionId,
      face: settings.face,
      maxCalls: settings.maxCalls,
      submitTool: settings.submitTool,
      mode: settings.mode,
      ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
      // Epoch 0 is no lease's: the first call always catches up from the record.
      shared: { leaseMs: this.options.shared!.leaseMs, epoch: 0 },
      residency: this.residents,
      onEnd: (status) => {
        this.remove(id);
        this.residents.forget(id);
        this.events.ended(settings.face, status);
      },
      onCall: (ok, seconds) => this.events.called(settings.face, ok, seconds),
    });
    this.add({ episode, client: "unknown", limited: true, lastActive: performance.now(), holders: 0 });
    this.events.opened(settings.face);
    return episode;
  }

  /**
   * Applies `episodeLimits` to one more episode for `client`: refused with 429 (past its own limit)
   * or 503 (full), or admitted, after ending the longest-idle episode of the largest holder when the
   * server is full. A shared episode is only let go from memory: its client may still continue it.
   */
  private makeRoom(client: string): void {
    const limits = this.options.episodeLimits;
    if (!limits) return;
    // Under both limits admit() admits; only a full server or client needs the scan.
    if ((this.limitedBy.get(client) ?? 0) < limits.maxPerClient && this.limitedCount < limits.maxSessions) return;
    const holders = [...this.live.values()].filter((e) => e.limited).map((e) => ({ entry: e, client: e.client, lastActive: e.lastActive, inflight: e.episode.busy ? 1 : 0 }));
    const admission = admit(holders, client, limits, performance.now(), EPISODES);
    if (admission.type === "refuse") throw new LookupError(admission.message, admission.status);
    if (admission.type === "admit") return;
    const victim = admission.session.entry;
    this.uncount(victim);
    if (victim.episode.shared) void this.letGo(victim.episode);
    else void victim.episode.end("idle_timeout");
  }

  private add(entry: Entry): void {
    this.live.set(entry.episode.id, entry);
    if (!entry.limited) return;
    this.limitedCount++;
    this.limitedBy.set(entry.client, (this.limitedBy.get(entry.client) ?? 0) + 1);
  }

  private remove(id: string): void {
    const entry = this.live.get(id);
    if (!entry) return;
    this.live.delete(id);
    this.uncount(entry);
  }

  /** Out of the per-client counts: gone, or being ended to make room. */
  private uncount(entry: Entry): void {
    if (!entry.limited) return;
    entry.limited = false;
    this.limitedCount--;
    const n = this.limitedBy.get(entry.client)! - 1;
    if (n === 0) this.limitedBy.delete(entry.client);
    else this.limitedBy.set(entry.client, n);
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

  /**
   * Ends, as `idle_timeout`, every episode no connection holds that has not been used for `idleMs`.
   * A shared episode is only let go here: another process may be using it, and any process that is
   * asked for it later takes it up again from the store.
   */
  reap(idleMs: number): void {
    const cutoff = performance.now() - idleMs;
    for (const entry of this.live.values()) {
      if (entry.holders !== 0 || entry.lastActive >= cutoff) continue;
      if (entry.episode.shared) void this.letGo(entry.episode);
      else void entry.episode.end("idle_timeout");
    }
  }

  /**
   * In a shared store, ends as `idle_timeout` the episodes of any process that nobody has used for
   * `idleMs` and whose lease no process holds: their client went away, and since no process is asked
   * about them any more, no idle reaper sees them. Each is taken over and ended as the process that
   * opened it would have ended it, scored from its record; one that a call or a client took up
   * meanwhile, or that another sweeper ended first, is let go. At most `limit` per sweep, each sweep
   * going on where the last one stopped; episodes live in this process are left to `reap`. Resolves
   * how many this process ended.
   */
  sweep(idleMs: number, limit = SWEEP_LIMIT): Promise<number> {
    // While the store is unwritable nothing could be ended; the recorder's probe says when it is back.
    if (!this.options.shared || this.recorder.failure) return Promise.resolve(0);
    this.sweeping ??= this.sweepNow(idleMs, limit).finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async sweepNow(idleMs: number, limit: number): Promise<number> {
    const before = now() - idleMs;
    let ended = 0;
    const ids = await this.recorder.staleEpisodes(before, limit, this.sweptUpTo);
    this.sweptUpTo = ids.length < limit ? undefined : ids.at(-1);
    for (const id of ids) {
      if (this.live.has(id) || this.resuming.has(id)) continue;
      let episode: EpisodeSession;
      try {
        episode = await this.get(id);
      } catch (err) {
        // Not continuable here (an environment this process does not serve, or ended meanwhile): a process that can will sweep it.
        if (err instanceof LookupError) continue;
        throw err;
      }
      let expired = false;
      try {
        expired = await episode.expire(before);
      } finally {
        if (!expired) await this.letGo(episode);
      }
      if (expired) ended++;
    }
    return ended;
  }

  /** Lets a shared episode go from this process without ending it (after its calls in flight): it stays running in the store for any process to take up. */
  private async letGo(episode: EpisodeSession): Promise<void> {
    if (this.live.get(episode.id)?.episode === episode) this.remove(episode.id);
    this.residents.forget(episode.id);
    await episode.dispose();
  }

  get size(): number {
    return this.live.size;
  }

  /** Ends every live episode (server shutdown); shared ones are only let go, for the other processes to continue. */
  async closeAll(status: Exclude<EpisodeStatus, "running"> = "closed"): Promise<void> {
    // A sweep under way finishes first: the episodes it is ending are not left half taken over.
    await this.sweeping?.catch(() => undefined);
    await Promise.all([...this.live.values()].map(({ episode }) => (episode.shared ? this.letGo(episode) : episode.end(status))));
  }
}

const unknownEpisode = (id: string): LookupError =>
  new LookupError(`no episode "${id}": open one first (POST /v1/episodes, an MCP URL with ?env=&task=, or ORS /create)`, 404);

/** The settings an episode was opened with, as its row's meta keeps them. */
function storedSettings(row: StoredEpisode): { face: string; maxCalls?: number; submitTool?: boolean; mode?: ServeMode; seed?: number } {
  const meta = row.meta ?? {};
  const mode = SERVE_MODES.find((m) => m === meta.mode);
  return {
    face: typeof meta.face === "string" ? meta.face : "rest",
    ...(typeof meta.max_calls === "number" ? { maxCalls: meta.max_calls } : {}),
    ...(typeof meta.submit_tool === "boolean" ? { submitTool: meta.submit_tool } : {}),
    ...(mode ? { mode } : {}),
    ...(typeof meta.seed === "number" ? { seed: meta.seed } : {}),
  };
}
