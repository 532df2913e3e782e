// The streams and folder a command works with, so tests can run commands in process.
import type { Writable } from "node:stream";

export interface Io {
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  /** Where JSON Lines input is read from when a command takes `-`. */
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export const processIo = (): Io => ({
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  stdin: process.stdin,
  env: process.env,
});

/** A usage error: the command line itself is wrong (exit code 2). */
export class UsageError extends Error {}

export const write = (s: Writable, text: string): void => {
  s.write(text.endsWith("\n") ? text : `${text}\n`);
};
