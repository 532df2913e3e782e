// Opens a recording database: WAL journal, durability level, and migrations up to the current schema.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";

export type Db = Database.Database;

/**
 * `normal`: in WAL mode a commit survives the process being killed (it is in the OS page
 * cache), but the last commits can roll back if the machine loses power. `full`: every
 * commit is fsynced, which also survives power loss and costs an fsync per write.
 */
export type Synchronous = "normal" | "full";

export interface OpenOptions {
  readonly?: boolean;
  synchronous?: Synchronous;
  /** How long a writer waits for another process's write lock, in ms. */
  busyTimeoutMs?: number;
}

/** Applies every migration past the database's `user_version`, each in its own transaction. */
export function migrate(db: Db): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`database schema version ${version} is newer than this envforge understands (${SCHEMA_VERSION}); upgrade envforge`);
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/** The database file cannot be opened or created; the message says why in words. */
export class DatabaseOpenError extends Error {
  constructor(
    readonly file: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot open the database ${file}: ${reason}`, options);
  }
}

/** The nearest ancestor of `file` that exists and is not a folder, if any: no file can be made below it. */
function fileInTheWay(file: string): string | undefined {
  for (let p = dirname(file); p !== dirname(p); p = dirname(p)) {
    try {
      return statSync(p).isDirectory() ? undefined : p;
    } catch {
      // missing, or itself below a file: look further up
    }
  }
  return undefined;
}

function openFailure(file: string, readonly: boolean, err: Error & { code?: string }): DatabaseOpenError {
  const blocker = fileInTheWay(file);
  const reason =
    blocker !== undefined ? `${blocker} is a file, not a folder`
    : readonly && !existsSync(file) ? "no such file"
    : err.code === "SQLITE_NOTADB" ? "the file is not an SQLite database"
    : err.code === "EACCES" || err.code === "EPERM" || err.code === "SQLITE_READONLY" ? "permission denied"
    : err.message;
  return new DatabaseOpenError(file, reason, { cause: err });
}

/** Opens (creating if needed) and migrates a database file; `:memory:` works too. */
export function openDb(file: string, options: OpenOptions = {}): Db {
  let db: Db | undefined;
  let version: number;
  try {
    if (!options.readonly && file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    // The first read of the file: a file that is not a database fails here, not in a later statement.
    version = db.pragma("user_version", { simple: true }) as number;
  } catch (err) {
    db?.close();
    throw openFailure(file, options.readonly ?? false, err as Error);
  }
  if (options.readonly) {
    if (version !== SCHEMA_VERSION) {
      db.close();
      throw new Error(`${file}: schema version ${version}, expected ${SCHEMA_VERSION}; open it once read-write to migrate`);
    }
    return db;
  }
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${(options.synchronous ?? "normal").toUpperCase()}`);
  // Checkpoint every ~40 MiB of WAL instead of every 4 MiB: the hot pages (an episode's row and
  // its index entries, the tails of messages and calls) are rewritten by every call, and a
  // checkpoint copies each page once however often it changed; this halves the write cost of
  // a call. The file is cut back to 64 MiB after a checkpoint.
  db.pragma("wal_autocheckpoint = 10000");
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}
