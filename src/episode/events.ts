// What happens to a service's episodes, told to whoever counts it (the server's /metrics): opens, ends, calls, evictions and replays.
import type { EpisodeStatus } from "../schema/index.ts";

/** Hears what happens to episodes; every method runs synchronously, so it must be cheap and must not throw. */
export interface EpisodeObserver {
  /** An episode opened through `face` (mcp, mcp-2026, rest, ors). */
  opened(face: string): void;
  ended(face: string, status: EpisodeStatus): void;
  /** An environment tool call was answered: `ok` unless its result was an error or its record could not be stored. */
  called(face: string, ok: boolean, seconds: number): void;
  /** Idle episodes whose sandboxes were freed to keep to the memory budget (the eviction work reports them here). */
  evicted(episodes: number): void;
  /** An episode's sandbox was rebuilt by replaying `calls` recorded calls (after an eviction). */
  replayed(calls: number): void;
}

/** The observers of one service; the service reports to it as to a single observer. */
export class EpisodeEvents implements EpisodeObserver {
  private readonly observers = new Set<EpisodeObserver>();

  /** Adds an observer; the returned function removes it. */
  observe(observer: EpisodeObserver): () => void {
    this.observers.add(observer);
    return () => void this.observers.delete(observer);
  }

  opened(face: string): void {
    for (const o of this.observers) o.opened(face);
  }

  ended(face: string, status: EpisodeStatus): void {
    for (const o of this.observers) o.ended(face, status);
  }

  called(face: string, ok: boolean, seconds: number): void {
    for (const o of this.observers) o.called(face, ok, seconds);
  }

  evicted(episodes: number): void {
    for (const o of this.observers) o.evicted(episodes);
  }

  replayed(calls: number): void {
    for (const o of this.observers) o.replayed(calls);
  }
}
