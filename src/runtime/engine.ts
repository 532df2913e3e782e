// Compiles the QuickJS WebAssembly build once per process and makes isolated, memory-capped, clock-pinned instances of it.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as releaseSyncModule from "@jitl/quickjs-wasmfile-release-sync";
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSSyncVariant, type QuickJSWASMModule } from "quickjs-emscripten-core";

/** The parts of the WebAssembly API used here; the project's `lib` has no WebAssembly types. */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type WasmImports = Record<string, Record<string, unknown>>;
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (module: object, imports: WasmImports) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
// Its types describe the CommonJS build (variant under `.default.default`); Node's ESM loader gives the .mjs one.
const variantExport = (releaseSyncModule as unknown as { default: QuickJSSyncVariant & { default?: QuickJSSyncVariant } }).default;
const releaseSync: QuickJSSyncVariant = variantExport.default ?? variantExport;

/** What `Date.now()` and `new Date()` return inside every sandbox: 2025-01-01T00:00:00Z. */
export const SANDBOX_EPOCH_MS = Date.UTC(2025, 0, 1);

const PAGE = 64 * 1024;
/** The build declares 16 MiB of initial memory: about 5 MiB of static data and C stack, the rest heap. */
export const BASE_BYTES = 256 * PAGE;
/** Idle instances kept per memory cap for reuse (ungrown ones only, so each holds at most 16 MiB of touched pages). */
const IDLE_CAP = 16;

let compiled: Promise<object> | undefined;

/** Compiling is the slow part (~100 ms); instances share the compiled code. */
function compiledModule(): Promise<object> {
  compiled ??= (async () => {
    const entry = createRequire(import.meta.url).resolve("@jitl/quickjs-wasmfile-release-sync");
    const bytes = await readFile(join(dirname(entry), "emscripten-module.wasm"));
    return wasm.compile(bytes);
  })();
  compiled.catch(() => {
    compiled = undefined;
  });
  return compiled;
}

/** The C functions the per-call path uses directly (pointers are plain numbers here). */
export interface CApi {
  QTS_NewString(ctx: number, utf8: number): number;
  QTS_Call(ctx: number, fn: number, thisValue: number, argc: number, argv: number): number;
  QTS_ResolveException(ctx: number, maybeException: number): number;
  QTS_GetString(ctx: number, value: number): number;
  QTS_FreeCString(ctx: number, utf8: number): void;
  QTS_FreeValuePointer(ctx: number, value: number): void;
  QTS_Dump(ctx: number, value: number): number;
  QTS_GetUndefined(): number;
}

/** The Emscripten helpers for moving strings in and out of the instance's memory. */
export interface Heap {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  lengthBytesUTF8(s: string): number;
  stringToUTF8(s: string, ptr: number, maxBytes: number): void;
  UTF8ToString(ptr: number): string;
}

/**
 * One WebAssembly instance of QuickJS with its own linear memory. The memory's maximum is
 * the episode's memory limit: QuickJS's own limit does not count large allocations in
 * WebAssembly builds (it cannot see block sizes there), but a memory that cannot grow makes
 * malloc fail, and QuickJS turns that into a catchable out-of-memory error.
 */
export class Instance {
  /** Set when a host-level exception unwound through its code: its C state can no longer be trusted. */
  poisoned = false;
  /**
   * The library's wrappers allocate a handful of objects and a wasm buffer per call; the
   * per-call path goes to the C API directly. Both are checked when the instance is made.
   */
  readonly c: CApi;
  readonly heap: Heap;

  constructor(
    readonly qjs: QuickJSWASMModule,
    private readonly memory: WasmMemory,
    readonly maxBytes: number,
  ) {
    this.c = qjs.getFFI() as unknown as CApi;
    this.heap = (qjs as unknown as { module: Heap }).module;
    for (const [name, value] of Object.entries({ ...pick(this.c, C_FUNCTIONS), ...pick(this.heap, HEAP_FUNCTIONS) })) {
      if (typeof value !== "function") throw new Error(`envforge runtime: the QuickJS build lacks ${name}; expected quickjs-emscripten 0.32.0`);
    }
  }

  private view: Int32Array | undefined;

  /** The memory as 32-bit words; growing the memory replaces its buffer, and with it the view. */
  words(): Int32Array {
    const buffer = this.memory.buffer;
    if (this.view?.buffer !== buffer) this.view = new Int32Array(buffer);
    return this.view;
  }

  /** Memory never shrinks, so a grown instance would keep its pages while idle. */
  get grown(): boolean {
    return this.memory.buffer.byteLength > BASE_BYTES;
  }
}

const C_FUNCTIONS = ["QTS_NewString", "QTS_Call", "QTS_ResolveException", "QTS_GetString", "QTS_FreeCString", "QTS_FreeValuePointer", "QTS_Dump", "QTS_GetUndefined"] as const;
const HEAP_FUNCTIONS = ["_malloc", "_free", "lengthBytesUTF8", "stringToUTF8", "UTF8ToString"] as const;

function pick(obj: object, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(names.map((n) => [n, (obj as Record<string, unknown>)[n]]));
}

/** The memory maximum for an episode limit: the base the build needs plus the limit, in whole pages. */
export function maxBytesFor(memoryBytes: number): number {
  return BASE_BYTES + Math.ceil(memoryBytes / PAGE) * PAGE;
}

async function newInstance(maxBytes: number): Promise<Instance> {
  const module = await compiledModule();
  const memory = new wasm.Memory({ initial: BASE_BYTES / PAGE, maximum: maxBytes / PAGE });
  const variant = newVariant(releaseSync, {
    wasmMemory: memory as never,
    emscriptenModule: {
      instantiateWasm(imports: WasmImports, onSuccess: (instance: never) => void) {
        pinClock(imports, memory);
        const instance = new wasm.Instance(module, imports);
        onSuccess(instance as never);
        return instance.exports as never;
      },
    },
  });
  return new Instance(await newQuickJSWASMModuleFromVariant(variant), memory, maxBytes);
}

const idle = new Map<number, Instance[]>();

/** An idle instance with this cap, if one is ready; lets episodes open synchronously. */
export function takeIdleInstance(maxBytes: number): Instance | undefined {
  return idle.get(maxBytes)?.pop();
}

/** The instance being made last: the next waits for it (see acquireInstance). */
let making: Promise<unknown> = Promise.resolve();

/**
 * An idle instance, or a new one made after those already asked for. One at a time: made all at
 * once, the instances of hundreds of episodes opening together would all be ready late and
 * together, and their worker would answer no call until then (the pool would take it for stuck).
 */
export function acquireInstance(maxBytes: number): Promise<Instance> {
  const ready = takeIdleInstance(maxBytes);
  if (ready) return Promise.resolve(ready);
  const made = making.then(() => takeIdleInstance(maxBytes) ?? newInstance(maxBytes));
  making = made.catch(() => undefined);
  return made;
}

/** Returns an instance whose runtimes are all disposed; poisoned or grown ones are left to the garbage collector. */
export function releaseInstance(instance: Instance): void {
  if (instance.poisoned || instance.grown) return;
  const list = idle.get(instance.maxBytes) ?? [];
  if (list.length < IDLE_CAP) list.push(instance);
  idle.set(instance.maxBytes, list);
}

type ImportFn = (...args: never[]) => unknown;

/**
 * QuickJS reads the time and the local time zone through three Emscripten imports that call
 * the host's `Date`. Replacing them makes every instance see a fixed instant in UTC, whatever
 * the machine's clock and TZ, so tools that use dates give the same answer everywhere. The
 * imports have minified names, so they are found by what their code does; a build where
 * they cannot be found is refused rather than run with a live clock.
 */
function pinClock(imports: WasmImports, memory: WasmMemory): void {
  const found: Record<"now" | "localtime" | "tzset", [Record<string, unknown>, string][]> = { now: [], localtime: [], tzset: [] };
  for (const mod of Object.values(imports)) {
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== "function") continue;
      const src = Function.prototype.toString.call(value);
      if (/^\(\)\s*=>\s*Date\.now\(\)$/.test(src)) found.now.push([mod, name]);
      else if (src.includes("getTimezoneOffset") && src.includes("getSeconds")) found.localtime.push([mod, name]);
      else if (src.includes("getTimezoneOffset") && src.includes("UTC")) found.tzset.push([mod, name]);
    }
  }
  const one = (key: keyof typeof found): [Record<string, unknown>, string] => {
    const hits = found[key];
    if (hits.length !== 1 || !hits[0]) {
      throw new Error(`envforge runtime: cannot pin the sandbox clock (found ${hits.length} "${key}" imports); the QuickJS build is not the expected 0.32.0`);
    }
    return hits[0];
  };
  const [nowMod, nowName] = one("now");
  const [ltMod, ltName] = one("localtime");
  const [tzMod, tzName] = one("tzset");
  nowMod[nowName] = (() => SANDBOX_EPOCH_MS) satisfies ImportFn;
  // localtime_r(time, struct tm*): fill the struct with UTC fields, no DST, zero offset.
  ltMod[ltName] = ((time: bigint | number, tm: number) => {
    const d = new Date(Number(time) * 1000);
    const y = d.getUTCFullYear();
    const fields = [
      d.getUTCSeconds(), d.getUTCMinutes(), d.getUTCHours(), d.getUTCDate(), d.getUTCMonth(), y - 1900, d.getUTCDay(),
      (Date.UTC(y, d.getUTCMonth(), d.getUTCDate()) - Date.UTC(y, 0, 1)) / 86_400_000, 0, 0,
    ];
    new Int32Array(memory.buffer, tm, fields.length).set(fields.map((f) => (Number.isFinite(f) ? f : 0)));
  }) satisfies ImportFn;
  // tzset(long* timezone, int* daylight, char* std_name, char* dst_name)
  tzMod[tzName] = ((timezone: number, daylight: number, stdName: number, dstName: number) => {
    const view = new DataView(memory.buffer);
    view.setInt32(timezone, 0, true);
    view.setInt32(daylight, 0, true);
    const utc = new TextEncoder().encode("UTC\0");
    new Uint8Array(memory.buffer).set(utc, stdName);
    new Uint8Array(memory.buffer).set(utc, dstName);
  }) satisfies ImportFn;
}
