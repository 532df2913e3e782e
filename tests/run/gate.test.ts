// The endpoint gate on its own: its queue is FIFO, a retry goes first, an abort empties it, and the AIMD rule keeps N in [1, concurrency].
import { getEventListeners } from "node:events";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adaptLimit, EndpointGate, type GateOutcome, type GateSlot } from "../../src/run/gate.ts";

/** Queues `names` on `gate` (each admission pushes its name to `order`), returning their slots as they come. */
function queue(gate: EndpointGate, names: string[], order: string[], options: { retry?: boolean; signal?: AbortSignal } = {}): Promise<GateSlot>[] {
  return names.map((name) =>
    gate.acquire(options.signal, options.retry).then((slot) => {
      order.push(name);
      return slot;
    }),
  );
}

const SUCCESS_WITH_ROOM: GateOutcome = { kind: "success", latencyMs: 1, inFlight: 1, timeoutMs: 1000 };

describe("EndpointGate", () => {
  it("admits up to the limit at once and the rest in arrival order, one per release", async () => {
    const gate = new EndpointGate(2);
    const order: string[] = [];
    const slots = queue(gate, ["a", "b", "c", "d", "e"], order);
    await Promise.resolve();
    expect(order).toEqual(["a", "b"]);
    expect([gate.inFlight, gate.waiting]).toEqual([2, 3]);
    (await slots[1]!).release({ kind: "other" });
    await slots[2];
    expect(order).toEqual(["a", "b", "c"]);
    for (const s of [slots[0]!, slots[2]!]) (await s).release({ kind: "other" });
    await Promise.all(slots);
    expect(order).toEqual(["a", "b", "c", "d", "e"]);
    expect(gate.waiting).toBe(0);
  });

  it("puts a retry ahead of every first attempt, behind earlier retries", async () => {
    const gate = new EndpointGate(1);
    const order: string[] = [];
    const [held] = queue(gate, ["held"], order);
    const fresh = queue(gate, ["f1", "f2"], order);
    const retries = queue(gate, ["r1", "r2"], order, { retry: true });
    const late = queue(gate, ["f3"], order);
    let slot = await held!;
    for (const next of [...retries, ...fresh, ...late]) {
      slot.release({ kind: "other" });
      slot = await next;
    }
    slot.release({ kind: "other" });
    expect(order).toEqual(["held", "r1", "r2", "f1", "f2", "f3"]);
  });

  it("empties its queue at once when the run is aborted, and leaves no listener behind", async () => {
    const gate = new EndpointGate(1);
    const run = new AbortController();
    const order: string[] = [];
    const [held] = queue(gate, ["held"], order, { signal: run.signal });
    const waiting = queue(gate, ["w1", "w2", "w3"], order, { signal: run.signal, retry: false }).map((p) => p.catch((e: Error) => e.message));
    await held;
    expect(gate.waiting).toBe(3);
    // The admitted request took its listener off when it left the queue; the waiting ones hold theirs.
    expect(getEventListeners(run.signal, "abort")).toHaveLength(3);
    run.abort(new Error("interrupted by SIGINT"));
    expect(await Promise.all(waiting)).toEqual(["interrupted by SIGINT", "interrupted by SIGINT", "interrupted by SIGINT"]);
    expect(gate.waiting).toBe(0);
    expect(getEventListeners(run.signal, "abort")).toHaveLength(0);
    (await held!).release({ kind: "other" });
    expect([gate.inFlight, order]).toEqual([0, ["held"]]);
    await expect(gate.acquire(run.signal)).rejects.toThrow("interrupted by SIGINT");
  });

  it("admits fewer after an overload and more again after successes with room", async () => {
    const gate = new EndpointGate(4);
    const order: string[] = [];
    const first = queue(gate, ["a", "b", "c", "d"], order);
    (await first[0]!).release({ kind: "overload" });
    (await first[1]!).release({ kind: "overload" });
    expect(gate.limit).toBe(1);
    const more = queue(gate, ["e", "f"], order);
    await Promise.resolve();
    // c and d are still out: nothing more goes until fewer than floor(N) = 1 are.
    expect(order).toEqual(["a", "b", "c", "d"]);
    (await first[2]!).release(SUCCESS_WITH_ROOM);
    expect(gate.limit).toBe(2);
    (await first[3]!).release(SUCCESS_WITH_ROOM);
    await Promise.all(more);
    expect(order).toEqual(["a", "b", "c", "d", "e", "f"]);
  });
});

const outcome = fc.oneof(
  fc.constant<GateOutcome>({ kind: "overload" }),
  fc.constant<GateOutcome>({ kind: "other" }),
  fc.record({ kind: fc.constant("success" as const), latencyMs: fc.double({ min: 0, max: 2000, noNaN: true }), inFlight: fc.integer({ min: 1, max: 64 }), timeoutMs: fc.integer({ min: 1, max: 2000 }) }),
);

describe("adaptLimit (AIMD)", () => {
  it("keeps N within [1, concurrency]: halves on overload, adds 1/N on a success with room, holds otherwise", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(outcome, { maxLength: 200 }), (max, outcomes) => {
        let n = max;
        for (const o of outcomes) {
          const next = adaptLimit(n, max, o);
          expect(next).toBeGreaterThanOrEqual(1);
          expect(next).toBeLessThanOrEqual(max);
          if (o.kind === "overload") expect(next).toBe(Math.max(1, n / 2));
          else if (o.kind === "other") expect(next).toBe(n);
          else if ((o.latencyMs * (o.inFlight + 1)) / o.inFlight < o.timeoutMs) expect(next).toBe(Math.min(max, n + 1 / n));
          else expect(next).toBe(n);
          n = next;
        }
      }),
    );
  });

  it("climbs back from 1 to the ceiling on successes with room, a whole request per limit's worth", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 32 }), (max) => {
        let n = 1;
        let successes = 0;
        while (n < max) {
          const before = Math.floor(n);
          n = adaptLimit(n, max, SUCCESS_WITH_ROOM);
          successes++;
          // Never more than one more whole request per success.
          expect(Math.floor(n) - before).toBeLessThanOrEqual(1);
        }
        expect(n).toBe(max);
        // About max^2 / 2 successes: linear growth per round trip, as TCP's congestion avoidance.
        expect(successes).toBeGreaterThanOrEqual(max - 1);
        expect(successes).toBeLessThanOrEqual((max * max) / 2 + max);
      }),
    );
  });

  it("never grows on a success whose latency leaves no room for one more request", () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 64, noNaN: true }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 1000 }), (n, k, service) => {
        const max = 64;
        // A serial server answers k in flight in k service times; the timeout falls short of k + 1.
        const timeoutMs = service * (k + 1) - 1e-6 * service;
        expect(adaptLimit(n, max, { kind: "success", latencyMs: service * k, inFlight: k, timeoutMs })).toBe(n);
      }),
    );
  });
});
