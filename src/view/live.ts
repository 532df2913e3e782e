// Live updates: polls the database's change counters while anyone listens, and pushes new and changed episodes as server-sent events.
import type { ServerResponse } from "node:http";
import { changeToken, episodeStates, lastEpisodeRowid, type EpisodeState, type Records } from "../store/index.ts";

/** One episode that appeared or moved on since the last event. */
export interface EpisodeChange {
  id: string;
  status: EpisodeState["status"];
  calls: number;
  solved: number;
  /** True when the episode was not there before. */
  new: boolean;
}

export interface LiveOptions {
  /** How often to look for changes, in ms (the change check is two integer reads). */
  pollMs?: number;
  /** Most listeners at once; more get 503 (browsers reconnect on their own). */
  maxClients?: number;
  log?: (line: string) => void;
}

const signature = (s: EpisodeState): string => `${s.status}:${s.callCount}:${s.solvedFtrl}:${s.solvedStrict}`;
const HEARTBEAT_MS = 15_000;

export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly pollMs: number;
  private readonly maxClients: number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | null = null;
  private token = "";
  private lastRowid = 0;
  /** Episodes running at the last look, with their signature: ending is a change too. */
  private watch = new Map<string, string>();
  private sinceBeat = 0;

  constructor(
    private readonly records: Records,
    options: LiveOptions = {},
  ) {
    this.pollMs = Math.max(10, options.pollMs ?? 1000);
    this.maxClients = options.maxClients ?? 100;
    this.log = options.log ?? (() => undefined);
  }

  get listeners(): number {
    return this.clients.size;
  }

  /** Turns a request into an event stream; returns false (and answers 503) when too many are open. */
  subscribe(res: ServerResponse): boolean {
    if (this.clients.size >= this.maxClients) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "5" });
      res.end(`too many live listeners (${this.maxClients}); close a tab or retry later\n`);
      return false;
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ poll_ms: this.pollMs })}\n\n`);
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (!this.timer) this.start();
    return true;
  }

  private start(): void {
    this.token = changeToken(this.records);
    this.lastRowid = lastEpisodeRowid(this.records);
    this.watch = new Map(episodeStates(this.records, this.lastRowid).map((s) => [s.id, signature(s)]));
    this.timer = setInterval(() => this.tick(), this.pollMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    try {
      if (!this.records.db.open) return this.close();
      this.sinceBeat += this.pollMs;
      const changes = this.poll();
      if (changes.length > 0) this.broadcast("episodes", { changed: changes });
      else if (this.sinceBeat >= HEARTBEAT_MS) {
        this.sinceBeat = 0;
        for (const res of this.clients) res.write(": keep-alive\n\n");
      }
    } catch (err) {
      this.log(`envforge view: live update failed: ${(err as Error).message}`);
    }
  }

  /** What changed since the last call; nothing when the database did not move. */
  poll(): EpisodeChange[] {
    const token = changeToken(this.records);
    if (token === this.token) return [];
    this.token = token;
    const changes: EpisodeChange[] = [];
    const watch = new Map<string, string>();
    let last = this.lastRowid;
    for (const s of episodeStates(this.records, this.lastRowid, [...this.watch.keys()])) {
      const sig = signature(s);
      const isNew = s.rowid > this.lastRowid;
      last = Math.max(last, s.rowid);
      if (s.status === "running") watch.set(s.id, sig);
      if (s.kind === "episode" && (isNew || this.watch.get(s.id) !== sig)) {
        changes.push({ id: s.id, status: s.status, calls: s.callCount, solved: s.solvedFtrl, new: isNew });
      }
    }
    this.lastRowid = last;
    this.watch = watch;
    return changes;
  }

  private broadcast(event: string, data: unknown): void {
    this.sinceBeat = 0;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(frame);
  }

  /** Ends every stream and stops polling. */
  close(): void {
    this.stop();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
