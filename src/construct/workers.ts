// A pool of worker threads that each find the first passing candidate of one request at a time.
import { Worker } from "node:worker_threads";
import { workerBoot } from "../runtime/index.ts";
import type { BuildRequest } from "../schema/index.ts";
import type { Passing } from "./build.ts";

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
    const boot = workerBoot(new URL("./worker.ts", import.meta.url));
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
