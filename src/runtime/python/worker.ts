// The worker thread that holds one Pyodide interpreter: loads it offline, installs the harness, and runs one request at a time.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { loadPyodide, type PyodideAPI } from "pyodide";
import { HARNESS_PY } from "./harness.ts";
import type { WorkerReply, WorkerRequest } from "./protocol.ts";

interface WasmMemoryLike {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const PAGE = 64 * 1024;
/** WebAssembly's 32-bit address space: the interpreter never grows past this whatever the limits say. */
const CEILING = 2 ** 31;

const { interrupt } = workerData as { interrupt: SharedArrayBuffer };
const flag = new Int32Array(interrupt);

/**
 * The memory limit: Emscripten grows the heap through `WebAssembly.Memory.prototype.grow`
 * and turns a throw into a failed malloc, which CPython raises as MemoryError. `cap` is
 * set before each request from the size after start and the allowance per live episode.
 */
let cap = Infinity;
const memoryProto = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemoryLike } } }).WebAssembly.Memory.prototype;
const grow = memoryProto.grow;
let memory: WasmMemoryLike | undefined;
memoryProto.grow = function (this: WasmMemoryLike, pages: number): number {
  memory ??= this;
  if (this.buffer.byteLength + pages * PAGE > Math.min(cap, CEILING)) throw new RangeError("the sandbox's memory limit was reached");
  return grow.call(this, pages);
};

const started = performance.now();
const py: PyodideAPI = await loadPyodide({
  // The files come from the npm package itself: nothing is fetched.
  indexURL: `${dirname(createRequire(import.meta.url).resolve("pyodide"))}/`,
  // The `js` module is this empty object, so Python holds no handle on the worker's globals.
  jsglobals: Object.create(null) as object,
  env: { PYTHONHASHSEED: "0", HOME: "/home/pyodide" },
  stdout: () => {},
  stderr: () => {},
  checkAPIVersion: true,
});
py.setInterruptBuffer(flag);
const harness = py.globals.get("dict")() as { destroy(): void };
py.runPython(HARNESS_PY, { globals: harness as never });
const fn = (name: string) => (harness as unknown as { get(k: string): (...a: unknown[]) => string }).get(name);
const ops = {
  load: fn("load_program"),
  open: fn("open_episode"),
  call: fn("call"),
  save: fn("save"),
  state: fn("state_json"),
  close: fn("close_episode"),
};
const live = fn("live") as unknown as () => number;
/** Pyodide may start with enough memory never to grow; its module's heap view shows the size either way. */
const moduleHeap = (py as unknown as { _module?: { HEAPU8?: Uint8Array } })._module;
const heapBytes = () => (memory ? memory.buffer.byteLength : (moduleHeap?.HEAPU8?.buffer.byteLength ?? 0));
const readyBytes = heapBytes();
parentPort!.postMessage({ type: "ready", startMs: performance.now() - started, heapBytes: readyBytes } satisfies WorkerReply);

parentPort!.on("message", (req: WorkerRequest) => {
  Atomics.store(flag, 0, 0);
  // Each live episode may hold up to the allowance, plus one call's worth; freed memory is reused, never returned.
  cap = Math.max(heapBytes(), readyBytes + req.memoryBytes * (1 + live()));
  let reply: WorkerReply;
  try {
    const result = ops[req.op](...req.args);
    reply = { type: "result", id: req.id, result, heapBytes: heapBytes() };
  } catch (err) {
    // Only the harness's own failures land here (tool failures come back as outcome codes).
    const message = err instanceof Error ? err.message : String(err);
    reply = { type: "error", id: req.id, message: /MemoryError|memory limit/.test(message) ? `out of memory: ${message.slice(-300)}` : message.slice(-2000), heapBytes: heapBytes() };
  } finally {
    cap = Infinity;
  }
  parentPort!.postMessage(reply);
});
