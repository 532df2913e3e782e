// The resident set's admission: never more sandboxes than the budget, slots given first come first served, and nobody waits while an idle sandbox could be evicted.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResidentSet } from "../../src/episode/index.ts";
import type { EpisodeSession } from "../../src/episode/index.ts";

/** An episode as the resident set sees it: a sandbox that can be evicted only while no call is in flight. */
class Fake {
  /** A call sent and not answered (waiting for a slot, or running). */
  calling = false;
  /** Holds a slot: admitted, and neither evicted nor forgotten since. */
  holding = false;
  evictions = 0;
  constructor(readonly id: string) {}
  evict(): boolean {
    if (this.calling || !this.holding) return false;
    this.holding = false;
    this.evictions++;
    return true;
  }
}

type Op = { kind: "call" | "answer" | "end"; episode: number };

const op = (episodes: number): fc.Arbitrary<Op> => fc.record({ kind: fc.constantFrom("call", "answer", "end"), episode: fc.nat({ max: episodes - 1 }) });

/** Lets the promise callbacks of admitted episodes run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ResidentSet admission", () => {
  it("keeps to the budget, admits in arrival order, and never leaves a caller waiting beside an idle sandbox", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 8 }).chain((n) => fc.tuple(fc.constant(n), fc.array(op(n), { maxLength: 80 }))), async (budget, [n, ops]) => {
        const set = new ResidentSet(budget);
        const fakes = Array.from({ length: n }, (_, i) => new Fake(`e${i}`));
        const as = (f: Fake) => f as unknown as EpisodeSession;
        /** Calls admitted and running; a call that had to wait joins when it is let in. */
        const running = new Set<Fake>();
        const queued: Fake[] = [];
        const admittedAfterWaiting: Fake[] = [];
        const call = (f: Fake) => {
          f.calling = true;
          set.used(as(f));
          if (f.holding) return void running.add(f);
          const before = set.stats.waiting;
          void set.admit(as(f)).then(() => {
            running.add(f);
            if (queued.includes(f)) admittedAfterWaiting.push(f);
          });
          // Admitted at once takes the slot at once; otherwise it is queued.
          if (set.stats.waiting > before) queued.push(f);
          else f.holding = true;
        };
        const check = () => {
          const holders = fakes.filter((f) => f.holding);
          expect(set.stats.resident).toBe(holders.length);
          expect(set.stats.resident).toBeLessThanOrEqual(budget);
          // Work-conserving: while anybody waits, every slot holds a call in flight.
          if (set.stats.waiting > 0) expect(holders.every((f) => f.calling)).toBe(true);
        };
        // The set marks a waiter as holding when it lets it in; the fake learns it from the resolved promise.
        const sync = () => {
          for (const f of running) f.holding = true;
        };
        for (const { kind, episode } of ops) {
          const f = fakes[episode]!;
          if (kind === "call" && !f.calling) call(f);
          else if (kind === "answer" && running.has(f)) {
            running.delete(f);
            f.calling = false;
            set.idle();
          } else if (kind === "end" && !f.calling) {
            f.holding = false;
            set.forget(f.id);
          }
          await flush();
          sync();
          check();
        }
        // Answer every call, the waiting ones as they are let in: everybody gets a slot in the end.
        while (running.size > 0) {
          for (const f of [...running]) {
            running.delete(f);
            f.calling = false;
            set.idle();
          }
          await flush();
          sync();
          check();
        }
        expect(set.stats.waiting).toBe(0);
        expect(admittedAfterWaiting).toEqual(queued);
        expect(set.stats.evictions).toBe(fakes.reduce((sum, f) => sum + f.evictions, 0));
      }),
      { seed: 20261203, numRuns: 300 },
    );
  });

  it("refuses a budget below one", () => {
    expect(() => new ResidentSet(0)).toThrow(/at least 1, got 0/);
  });
});
