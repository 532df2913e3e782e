// One line for an error a user can meet (a taken port, a path through a file): what failed and what to do; a stack only for a bug.
import { DatabaseOpenError, StoreError } from "../store/index.ts";

type SystemError = NodeJS.ErrnoException & { address?: string; port?: number; dest?: string };

/** What to do about a system error, by its code; the text before it names what failed. */
function systemLine(err: SystemError): string | undefined {
  const host = err.address?.includes(":") ? `[${err.address}]` : err.address;
  const where = host === undefined ? undefined : err.port === undefined ? host : `${host}:${err.port}`;
  const path = err.path ?? "";
  switch (err.code) {
    case "EADDRINUSE":
      return `${where ?? "the port"} is already in use: stop the program using it, or choose another port (0 picks a free one)`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where ?? "that address"}: it is not an address of this machine; use 127.0.0.1 or one of this machine's addresses`;
    case "EACCES":
    case "EPERM":
      if (err.syscall === "listen" || err.syscall === "bind") return `cannot listen on ${where ?? "that port"}: permission denied (ports below 1024 need privileges); choose a port above 1023`;
      return `${path}: permission denied; choose a path you can write to`;
    case "ENOTDIR":
      return `${path}: part of this path is a file, not a folder; choose another path`;
    case "EISDIR":
      return `${path} is a folder; give a file name`;
    case "ENOENT":
      return `${path}: no such file or folder`;
    case "ENOSPC":
      return `no space left on the device${path ? ` (writing ${path})` : ""}; free some space and run it again`;
    case "EROFS":
      return `${path}: the file system is read-only; choose another path`;
    default:
      return undefined;
  }
}

/** Errors JavaScript throws for mistakes in the code itself: these keep their stack, to be reported. */
const BUG = [TypeError, ReferenceError, RangeError];

export function errorLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof DatabaseOpenError) return `${err.message}; give --db another file`;
  // A store that cannot be written is the operator's to fix: its path and reason say all there is.
  if (err instanceof StoreError) return err.message;
  const system = typeof (err as SystemError).syscall === "string" ? systemLine(err as SystemError) : undefined;
  if (system !== undefined) return system;
  if (BUG.some((kind) => err instanceof kind)) return err.stack ?? err.message;
  return err.message;
}
