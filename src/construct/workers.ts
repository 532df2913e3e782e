// A pool of worker threads that each find the first passing candidate of one request at a time.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { BuildRequest } from "../schema/index.ts";
import type { Passing } from "./build.ts";

/**
 * The worker's entry, named by absolute URL so any cwd works. Compiled (dist/), it imports worker.js.
 * From sources (tests, bench), workers start without the parent's TypeScript loader, so the entry
 * registers tsx before importing worker.ts.
 */
function bootSource(): string {
  if (import.meta.url.endsWith(".js")) return `import(${JSON.stringify(new URL("./worker.js", import.meta.url).href)});`;
  const pkgFile = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgFile), pkg.exports["./esm/api"]!.import.default)).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(new URL("./worker.ts", import.meta.url).href)}); });`;
}

type Reply = { id: number; ok: true; passing: Omit<Passing, "built"> & { text: string } } | { id: number; ok: false; error: string };

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: { request: BuildRequest; resolve: (p: Passing) => void; reject: (e: Error) => void }[] = [];
  private readonly waiting = new Map<number, { resolve: (p: Passing) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(
    size: number,
    private readonly validate: boolean,
  ) {
    const boot = bootSource();
    for (let i = 0; i < size; i++) {
      const w = new Worker(boot, { eval: true });
      w.on("message", (reply: Reply) => this.settle(w, reply));
      w.on("error", (err) => this.fail(err));
      this.all.push(w);
      this.idle.push(w);
    }
  }

  run(request: BuildRequest): Promise<Passing> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      this.waiting.set(id, job);
      w.postMessage({ id, request: job.request, validate: this.validate });
    }
  }

  private settle(w: Worker, reply: Reply): void {
    const job = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    this.idle.push(w);
    if (job) {
      if (reply.ok) {
        const { text, ...rest } = reply.passing;
        job.resolve({ ...rest, built: { env: JSON.parse(text), text } });
      } else job.reject(new Error(reply.error));
    }
    this.pump();
  }

  private fail(err: Error): void {
    for (const job of [...this.waiting.values(), ...this.queue]) job.reject(err);
    this.waiting.clear();
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
