// Opens the store a --db value names: an SQLite file (the embedded default) or a PostgreSQL URL.
import { Recorder } from "./recorder.ts";
import { Records } from "./reader.ts";
import { openDb, type OpenOptions } from "./db.ts";
import { PostgresBackend, snapshotToSqlite } from "./postgres.ts";
import { StoreError } from "./failure.ts";

/** Whether a --db value is a PostgreSQL connection URL rather than a file. */
export const isDatabaseUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);

/** A recorder on the store: the file opened and migrated, or the PostgreSQL database connected, migrated and proven writable. */
export async function openRecorder(location: string, options: Omit<OpenOptions, "readonly"> = {}): Promise<Recorder> {
  if (!isDatabaseUrl(location)) return Recorder.open(location, options);
  const backend = await PostgresBackend.open(location);
  try {
    await backend.probe();
  } catch (err) {
    await backend.close();
    throw new StoreError(backend.location, (err as Error).message);
  }
  return new Recorder(backend);
}

/**
 * Readers over some episodes of a recorder's store, for a request that reads them (the reward
 * API): the SQLite file in place, or a snapshot of just their rows on PostgreSQL. `close` when done.
 */
export async function episodeRecords(recorder: Recorder, episodes: readonly string[]): Promise<{ records: Records; close(): void }> {
  if (!(recorder.backend instanceof PostgresBackend)) return { records: new Records(recorder.db), close: () => undefined };
  const records = new Records(await recorder.backend.snapshot(episodes));
  return { records, close: () => records.close() };
}

/**
 * Readers over the store. A file is read in place (`live`: read-write, so the viewer follows new
 * records); PostgreSQL is read through one consistent snapshot copied into memory, so score,
 * export and the viewer run the same queries on either store.
 */
export async function openRecords(location: string, options: { live?: boolean } = {}): Promise<Records> {
  if (isDatabaseUrl(location)) return new Records(await snapshotToSqlite(location));
  return options.live ? new Records(openDb(location)) : Records.open(location);
}
