// The store failing: an error that names the database and the reason, and the probe that tells when it is writable again.
import { statSync } from "node:fs";
import type { Db } from "./db.ts";

/**
 * A write to the recording database failed (locked by another process, read-only, disk
 * full, file deleted). `reason` is safe to show a client; `message` adds the file's path
 * for the operator.
 */
export class StoreError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`the store failed: cannot write to ${file}: ${reason}`);
    this.name = "StoreError";
  }

  /** What a client is told: the reason without the server's paths. */
  get publicMessage(): string {
    return `the store failed (${this.reason}), so this request did not take effect; retry once the server reports it ready (GET /readyz)`;
  }
}

/** The identity of a file on disk, to notice it being deleted or replaced under an open connection. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export function fileIdentity(file: string): FileIdentity | null {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? { dev: st.dev, ino: st.ino } : null;
}

/** Throws a StoreError when the file behind `db` is no longer the one it opened. */
export function checkSameFile(file: string, opened: FileIdentity): void {
  const current = fileIdentity(file);
  if (current === null) throw new StoreError(file, "the database file was deleted while the server was running; restart it to record again");
  if (current.dev !== opened.dev || current.ino !== opened.ino) {
    throw new StoreError(file, "the database file was replaced while the server was running; restart it to record again");
  }
}

/**
 * Writes one page for real (setting `user_version` to its own value rewrites the header in
 * a committed transaction) without waiting for another process's lock: a store that passes
 * can take records again.
 */
export function probeWrite(db: Db, busyTimeoutMs: number): void {
  db.pragma("busy_timeout = 0");
  try {
    const version = db.pragma("user_version", { simple: true }) as number;
    db.transaction(() => db.pragma(`user_version = ${version}`)).immediate();
  } finally {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  }
}

/** A SQLite or file-system error as a short reason: "database is locked", "disk I/O error"... */
export function reasonOf(err: unknown): string {
  if (err instanceof StoreError) return err.reason;
  const e = err as { code?: string; message?: string };
  const message = e?.message ?? String(err);
  return e?.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}
