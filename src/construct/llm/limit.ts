// Cost control: a requests-per-minute limiter that spaces requests evenly, and a pool that runs at
// most N jobs at once and stops handing out work after the first failure.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Requests start at least 60 000 / rpm ms apart; a burst waits its turn instead of failing. */
export class RateLimiter {
  private next = -Infinity;

  constructor(
    readonly rpm: number,
    private readonly clock: Clock = realClock,
  ) {
    if (!(rpm > 0)) throw new Error(`a rate limit must be positive, got ${rpm}`);
  }

  /** Resolves when the caller may send; returns how long it waited, in ms. */
  async take(): Promise<number> {
    const now = this.clock.now();
    const at = Math.max(now, this.next);
    this.next = at + 60_000 / this.rpm;
    if (at > now) await this.clock.sleep(at - now);
    return at - now;
  }
}

/**
 * Runs `job` on every item with at most `concurrency` in flight. After a job throws, no new job
 * starts; the first error is rethrown once the running ones have settled.
 */
export async function pool<T>(items: readonly T[], concurrency: number, job: (item: T, index: number) => Promise<void>): Promise<void> {
  let nextIndex = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (!failure && nextIndex < items.length) {
      const i = nextIndex++;
      try {
        await job(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}
