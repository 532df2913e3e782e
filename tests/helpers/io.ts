// In-memory streams for running CLI commands in process and reading what they printed.
import { PassThrough, Readable } from "node:stream";
import type { Io } from "../../src/cli/io.ts";

export interface MemoryIo {
  io: Io;
  out(): string;
  err(): string;
}

export function memoryIo(options: { cwd: string; stdin?: string; env?: NodeJS.ProcessEnv }): MemoryIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const stdin = Readable.from(options.stdin === undefined ? [] : [options.stdin]);
  return { io: { stdout, stderr, cwd: options.cwd, stdin, env: options.env ?? {} }, out: () => out, err: () => err };
}
