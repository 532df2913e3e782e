// Prometheus metrics of one HTTP server (prom-client, a registry per server): episodes, tool calls, replays, evictions, the store, the process.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EpisodeObserver, EpisodeService } from "../episode/index.ts";
import { sandboxPool } from "../runtime/index.ts";
import type { Recorder } from "../store/index.ts";
import type { EpisodeStatus } from "../schema/index.ts";

/** Tool calls take from well under a millisecond (a lookup) to the sandbox's time limit (seconds). */
const CALL_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A group commit is tens of microseconds in WAL mode, and up to the busy timeout (5 s) behind another process's lock. */
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

let processMetrics: Registry | undefined;

/**
 * The process's default metrics (CPU, memory, event loop, GC), in a registry of their own made once: they
 * are the process's whatever server shows them, and their collectors (an event-loop histogram, a GC
 * observer) run for good, so one set per server would pile up in a process that starts many.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * The metrics of one server, in their own registry (never prom-client's global one: several
 * servers share a test process). It observes the episode service and times the recorder's
 * commits from `attach` until the function it returns is called.
 */
export class ServerMetrics implements EpisodeObserver {
  private readonly registry = new Registry();
  /** This server's metrics and the process's, as one exposition. */
  private readonly exposed: Registry;
  private readonly openEpisodes: Gauge<"face">;
  private readonly opens: Counter<"face">;
  private readonly ends: Counter<"status">;
  private readonly calls: Counter<"outcome">;
  private readonly callSeconds: Histogram;
  private readonly evictions: Counter;
  private readonly commitSeconds: Histogram;
  private readonly storeFailures: Counter;
  /** Rebuilds reported by the service (evicted episodes), on top of the sandbox pool's own moves. */
  private readonly rebuilt = { replays: 0, calls: 0 };

  constructor(
    private readonly service: EpisodeService,
    private readonly recorder: Recorder,
  ) {
    const registers = [this.registry];
    const rebuilt = this.rebuilt;
    this.openEpisodes = new Gauge({ name: "envforge_open_episodes", help: "Episodes open now, by the face that opened them (mcp, mcp-2026, rest, ors).", labelNames: ["face"], registers });
    this.opens = new Counter({ name: "envforge_episodes_opened_total", help: "Episodes opened, by face.", labelNames: ["face"], registers });
    this.ends = new Counter({ name: "envforge_episodes_ended_total", help: "Episodes ended, by final status.", labelNames: ["status"], registers });
    this.calls = new Counter({ name: "envforge_tool_calls_total", help: "Environment tool calls answered, by outcome: ok, or error (an error result, or a record the store could not take).", labelNames: ["outcome"], registers });
    // Both outcomes from zero, so rate() and error ratios work before the first error.
    for (const outcome of ["ok", "error"]) this.calls.inc({ outcome }, 0);
    this.callSeconds = new Histogram({ name: "envforge_tool_call_duration_seconds", help: "Time a tool call ran in its sandbox.", buckets: CALL_BUCKETS, registers });
    // The pool's counts are the process's (its one shared pool), read at scrape time.
    new Counter({
      name: "envforge_replays_total",
      help: "Episode sandboxes rebuilt by replaying their recorded calls: moved off a stuck worker of this process's pool, rebuilt after an eviction, or taken over from another process.",
      registers,
      collect() {
        this.reset();
        this.inc(sandboxPool().stats().moves + rebuilt.replays);
      },
    });
    new Counter({
      name: "envforge_replayed_calls_total",
      help: "Recorded calls run again to rebuild episode sandboxes.",
      registers,
      collect() {
        this.reset();
        this.inc(sandboxPool().stats().replayedCalls + rebuilt.calls);
      },
    });
    new Gauge({
      name: "envforge_resident_sandboxes",
      help: "Episode sandboxes open now (or opening for a call let in), never more than --resident.",
      registers,
      collect() {
        this.set(service.stats.resident);
      },
    });
    new Gauge({
      name: "envforge_sandbox_waiting_calls",
      help: "Calls waiting for a sandbox slot: every slot holds a call in flight. Sustained, it says --resident (or --memory-budget) is too small for the load.",
      registers,
      collect() {
        this.set(service.stats.waiting);
      },
    });
    this.evictions = new Counter({ name: "envforge_evictions_total", help: "Idle episodes whose sandboxes were freed to keep to the memory budget.", registers });
    this.commitSeconds = new Histogram({ name: "envforge_store_commit_duration_seconds", help: "Time of each group commit of records to the store.", buckets: COMMIT_BUCKETS, registers });
    this.storeFailures = new Counter({ name: "envforge_store_failures_total", help: "Times the store stopped taking records (locked past the busy timeout, disk full, file gone), as group commits found.", registers });
    new Gauge({
      name: "envforge_store_writable",
      help: "1 while the store takes records, 0 while it has failed (new episodes are refused).",
      registers,
      collect() {
        this.set(recorder.failure ? 0 : 1);
      },
    });
    this.exposed = Registry.merge([this.registry, processRegistry()]);
  }

  /** Observes the service's episodes and the recorder's commits; the returned function stops both. */
  attach(): () => void {
    const { recorder } = this;
    const unobserve = this.service.events.observe(this);
    const previous = recorder.onCommit;
    let counted: unknown = null;
    recorder.onCommit = (seconds, failed) => {
      previous(seconds, failed);
      // While the store is down every commit is refused at once with the same error: that is one failure, and no commit to time.
      if (failed && recorder.failure === counted) return;
      this.commitSeconds.observe(seconds);
      if (failed) {
        counted = recorder.failure;
        this.storeFailures.inc();
      }
    };
    return () => {
      unobserve();
      recorder.onCommit = previous;
    };
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    return { text: await this.exposed.metrics(), contentType: this.exposed.contentType };
  }

  opened(face: string): void {
    this.openEpisodes.inc({ face });
    this.opens.inc({ face });
  }

  ended(face: string, status: EpisodeStatus): void {
    this.openEpisodes.dec({ face });
    this.ends.inc({ status });
  }

  called(_face: string, ok: boolean, seconds: number): void {
    this.calls.inc({ outcome: ok ? "ok" : "error" });
    this.callSeconds.observe(seconds);
  }

  evicted(episodes: number): void {
    this.evictions.inc(episodes);
  }

  replayed(calls: number): void {
    this.rebuilt.replays++;
    this.rebuilt.calls += calls;
  }
}
