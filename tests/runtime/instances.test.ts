// QuickJS instances are made one at a time: the first episode of many opening together is ready before the next instance is begun.
import { afterEach, expect, it } from "vitest";
import { acquireInstance, maxBytesFor, releaseInstance } from "../../src/runtime/engine.ts";

/** The project's `lib` has no WebAssembly types: the one constructor counted here. */
type MemoryCtor = new (descriptor: { initial: number; maximum: number }) => object;
const wasm = (globalThis as unknown as { WebAssembly: { Memory: MemoryCtor } }).WebAssembly;
const RealMemory = wasm.Memory;
afterEach(() => {
  wasm.Memory = RealMemory;
});

it("finishes each new instance before it begins the next", async () => {
  let made = 0;
  wasm.Memory = class extends RealMemory {
    constructor(descriptor: { initial: number; maximum: number }) {
      super(descriptor);
      made++;
    }
  };
  // A memory cap of its own, so no idle instance of another test is handed out instead.
  const maxBytes = maxBytesFor(3 * 2 ** 20 + 65_536);
  const madeWhenReady: number[] = [];
  const instances = await Promise.all(Array.from({ length: 4 }, () => acquireInstance(maxBytes).then((i) => (madeWhenReady.push(made), i))));
  expect(madeWhenReady).toEqual([1, 2, 3, 4]);
  // Distinct instances, each with its own memory.
  expect(new Set(instances).size).toBe(4);
  for (const i of instances) releaseInstance(i);
  // Idle ones are handed out again before any new one is made.
  await Promise.all(Array.from({ length: 4 }, () => acquireInstance(maxBytes)));
  expect(made).toBe(4);
});
