// A per-endpoint admission gate for model requests: at most N in flight, N adapting (AIMD), the rest waiting here in order.
//
// Why: a server that works one request at a time (llama.cpp with one slot, a small vLLM) holds the others in its own
// queue, where they time out and every retry goes to the back again. Waiting here instead keeps `--timeout` for the
// request itself (the timer starts when a request leaves this queue) and lets a retry keep its place.

/** How an admitted request ended, as far as the gate cares. */
export type GateOutcome =
  /** An answer. `latencyMs` from leaving the queue to the answer; `inFlight` counts this request and the others out with it when it was sent. */
  | { kind: "success"; latencyMs: number; inFlight: number; timeoutMs: number }
  /** It timed out, or the endpoint said 429/503: the endpoint has more than it can take. */
  | { kind: "overload" }
  /** Anything else (a 400, a refused connection, an abort): says nothing about load. */
  | { kind: "other" };

/**
 * The AIMD rule. Overload halves the limit, down to 1. A success adds 1/limit (one more request
 * in flight after a limit's worth of successes, as TCP's congestion avoidance), up to `max`; but
 * only when the answer leaves room for one more: a server that works requests one after another
 * answers k in flight in about k times its service time, so a success of `latency` with k out grows
 * the limit only if latency * (k + 1) / k stays under the timeout. Without that check, against a
 * one-slot server with a timeout under twice the service time, every probe to 2 would time out.
 */
export function adaptLimit(limit: number, max: number, outcome: GateOutcome): number {
  if (outcome.kind === "overload") return Math.max(1, limit / 2);
  if (outcome.kind === "other") return limit;
  const k = Math.max(1, outcome.inFlight);
  if ((outcome.latencyMs * (k + 1)) / k >= outcome.timeoutMs) return limit;
  return Math.min(max, limit + 1 / limit);
}

/** A place taken in the gate; `release` exactly once, with how the request went. */
export interface GateSlot {
  /** Requests in flight when this one was admitted, itself included. */
  readonly inFlight: number;
  release(outcome: GateOutcome): void;
}

interface Waiter {
  retry: boolean;
  admit: () => void;
}

/** One per endpoint (base URL + model), shared by every rollout of a run. */
export class EndpointGate {
  private current: number;
  private out = 0;
  private readonly queue: Waiter[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`an endpoint gate wants a positive integer limit, got ${max}`);
    this.current = max;
  }

  /** The current limit N (fractional: only whole requests are admitted). */
  get limit(): number {
    return this.current;
  }

  get inFlight(): number {
    return this.out;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves when the request may be sent. Requests wait in arrival order; a retry goes ahead of
   * every first attempt (behind earlier retries), so it keeps its place. An abort of `signal` rejects
   * at once with its reason and leaves neither a queue entry nor a listener behind.
   */
  acquire(signal?: AbortSignal, retry = false): Promise<GateSlot> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i !== -1) this.queue.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        retry,
        admit: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.take());
        },
      };
      const at = retry ? this.queue.findIndex((w) => !w.retry) : -1;
      this.queue.splice(at === -1 ? this.queue.length : at, 0, waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pump();
    });
  }

  private take(): GateSlot {
    this.out++;
    const inFlight = this.out;
    let released = false;
    return {
      inFlight,
      release: (outcome) => {
        if (released) return;
        released = true;
        this.out--;
        this.current = adaptLimit(this.current, this.max, outcome);
        this.pump();
      },
    };
  }

  private pump(): void {
    while (this.queue.length > 0 && this.out < Math.floor(this.current)) this.queue.shift()!.admit();
  }
}
