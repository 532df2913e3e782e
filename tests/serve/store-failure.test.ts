// The store failing under a running server: a call whose record cannot be written does not take effect, and the server says so and recovers.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { BIN, COUNTER, ROOT, spawnHttpServer, spawnServe, tempDir, type TempDir } from "./fixtures.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function temp(): TempDir {
  const tmp = tempDir("envforge-store-failure-");
  cleanups.push(() => tmp.cleanup());
  return tmp;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "store-failure-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  cleanups.push(() => client.close().catch(() => undefined));
  return client;
}

const count = (result: unknown): number => JSON.parse((result as { content: { text: string }[] }).content[0]!.text).count as number;

async function readyz(origin: string): Promise<{ status: number; body: { ready: boolean; reason?: string } }> {
  const res = await fetch(`${origin}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reason?: string } };
}

it("rolls back a call whose record is blocked by another connection's lock, refuses new episodes, and recovers when the lock goes", async () => {
  const tmp = temp();
  // A short busy timeout: the lock below is held for good until the test lets it go.
  const recorder = Recorder.open(tmp.db, { busyTimeoutMs: 50 });
  const statuses: (string | null)[] = [];
  recorder.onStatus = (failure) => statuses.push(failure ? failure.message : null);
  const server: HttpServer = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }]), recorder, port: 0, admin: { port: 0 } });
  cleanups.push(() => recorder.close(), () => server.close());
  const client = await connect(`${server.url}?env=test-counter&task=code-alpha&episode=locked-1`);
  expect(count(await client.callTool({ name: "add", arguments: { n: 1 } }))).toBe(1);
  expect((await readyz(server.adminOrigin!)).status).toBe(200);

  const other = new Database(tmp.db);
  other.exec("BEGIN IMMEDIATE");
  await expect(client.callTool({ name: "add", arguments: { n: 10 } })).rejects.toThrow(/the store failed \(database is locked \(SQLITE_BUSY\)\), so this request did not take effect/);
  // While it fails, calls fail the same way without running, and no new episode starts.
  await expect(client.callTool({ name: "add", arguments: { n: 100 } })).rejects.toThrow(/the store failed \(database is locked \(SQLITE_BUSY\)\)/);
  expect(await readyz(server.adminOrigin!)).toEqual({ status: 503, body: { ready: false, reason: "database is locked (SQLITE_BUSY)", store: "unwritable", environments: 1, sessions: 1, episodes: 1 } });
  await expect(connect(`${server.url}?env=test-counter&task=code-alpha`)).rejects.toThrow(/new episodes are refused until it is writable again/);
  expect(statuses).toEqual([expect.stringContaining(`cannot write to ${tmp.db}: database is locked`)]);

  other.exec("ROLLBACK");
  other.close();
  while ((await readyz(server.adminOrigin!)).status !== 200) await new Promise((r) => setTimeout(r, 50));
  expect(statuses).toEqual([expect.any(String), null]);
  // The counter never saw the failed calls: 1 + 2.
  expect(count(await client.callTool({ name: "add", arguments: { n: 2 } }))).toBe(3);
  const again = await connect(`${server.url}?env=test-counter&task=code-alpha&episode=locked-2`);
  expect(count(await again.callTool({ name: "add", arguments: { n: 5 } }))).toBe(5);

  const records = new Records(recorder.db);
  const detail = records.getEpisodeDetail("locked-1")!;
  expect(detail.calls.map((c) => [c.seq, (c.arguments as { n: number }).n, c.output])).toEqual([
    [1, 1, '{"count": 1}'],
    [2, 2, '{"count": 3}'],
  ]);
  expect(detail.episode.callCount).toBe(2);
});

it("takes back a submit_answer it could not store: the episode stays open and a retry ends it", async () => {
  const tmp = temp();
  const recorder = Recorder.open(tmp.db, { busyTimeoutMs: 50 });
  const server = await startHttpServer({ registry: new EnvironmentRegistry([{ env: COUNTER }]), recorder, port: 0, admin: { port: 0 } });
  cleanups.push(() => recorder.close(), () => server.close());
  const client = await connect(`${server.url}?env=test-counter&task=code-alpha&episode=submit-1`);
  await client.callTool({ name: "lookup_code", arguments: { name: "alpha" } });
  const other = new Database(tmp.db);
  other.exec("BEGIN IMMEDIATE");
  await expect(client.callTool({ name: "submit_answer", arguments: { answer: "K-7731-QZ" } })).rejects.toThrow(/the store failed/);
  other.exec("ROLLBACK");
  other.close();
  while ((await readyz(server.adminOrigin!)).status !== 200) await new Promise((r) => setTimeout(r, 50));
  const submitted = JSON.parse(((await client.callTool({ name: "submit_answer", arguments: { answer: "K-7731-QZ" } })) as { content: { text: string }[] }).content[0]!.text);
  expect(submitted).toMatchObject({ status: "submitted", score: { ftrl: { solve_rate: 1 } } });
  expect(new Records(recorder.db).getEpisode("submit-1")).toMatchObject({ status: "submitted", callCount: 1 });
});

it("notices the database file being deleted under a running server, on stderr, in /readyz and in the client's error", async () => {
  const tmp = temp();
  const server = await spawnHttpServer(["--dir", tmp.envDir, "--db", tmp.db]);
  cleanups.push(() => void server.child.kill("SIGKILL"));
  const client = await connect(`${server.url}?env=test-counter&task=code-alpha`);
  expect(count(await client.callTool({ name: "add", arguments: { n: 1 } }))).toBe(1);
  for (const suffix of ["", "-wal", "-shm"]) rmSync(tmp.db + suffix, { force: true });
  await expect(client.callTool({ name: "add", arguments: { n: 1 } })).rejects.toThrow(/the store failed \(the database file was deleted while the server was running; restart it to record again\)/);
  expect((await readyz(server.admin)).status).toBe(503);
  expect(server.stderr()).toContain(`cannot write to ${tmp.db}: the database file was deleted`);
});

/** Runs `envforge serve --http` with the given --db and resolves with its exit code and stderr. */
function serveOnce(db: string, dir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "serve", "--http", "127.0.0.1:0", "--dir", dir, "--db", db], { cwd: ROOT });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // A server that started would print its URL; this one must not.
    child.stdout.on("data", () => child.kill("SIGKILL"));
    child.once("exit", (code) => resolve({ code, stderr }));
  });
}

it("refuses to start on a store it cannot write, naming the file and the reason", async () => {
  const tmp = temp();
  const notADb = join(tmp.path, "notes.db");
  writeFileSync(notADb, "these are not the pages of a database, just text long enough to be read as one. ".repeat(20));
  const underAFile = join(tmp.path, "notes.db", "envforge.db");
  const locked = join(tmp.path, "locked", "envforge.db");
  mkdirSync(join(tmp.path, "locked"));
  new Database(locked).close();

  const garbage = await serveOnce(notADb, tmp.envDir);
  expect(garbage.code).toBe(1);
  expect(garbage.stderr.trim()).toBe(`envforge serve: cannot open the database ${notADb}: the file is not an SQLite database; give --db another file`);

  const nested = await serveOnce(underAFile, tmp.envDir);
  expect(nested.code).toBe(1);
  expect(nested.stderr.trim()).toBe(`envforge serve: cannot open the database ${underAFile}: ${notADb} is a file, not a folder; give --db another file`);
  expect(nested.stderr).not.toMatch(/\n\s+at /);

  // An exclusive lock held by another connection for longer than the busy timeout.
  const other = new Database(locked);
  other.exec("PRAGMA journal_mode = WAL; BEGIN EXCLUSIVE");
  cleanups.push(() => void other.close());
  const busy = await serveOnce(locked, tmp.envDir);
  expect(busy.code).toBe(1);
  expect(busy.stderr).toContain(`cannot write to ${locked}: database is locked`);
  unlinkSync(notADb);
});

it("on a full disk (a file-size limit on the server process), answers the call that no longer fits with an error and records every call it answered", async () => {
  const tmp = temp();
  // RLIMIT_FSIZE: writes past 4 MiB fail with EFBIG, as on a full disk; Node ignores the SIGXFSZ that comes with them.
  const { child, url, admin, stderr: serverStderr } = await spawnServe(["--http", "127.0.0.1:0", "--dir", tmp.envDir, "--db", tmp.db], { shell: `ulimit -f ${(4 * 1024 * 1024) / 512}` });
  cleanups.push(() => void child.kill("SIGKILL"));
  const client = await connect(`${url}?env=test-counter&task=code-alpha&episode=full-1`);
  const big = "x".repeat(200_000);
  let answered = 0;
  let failure: Error | null = null;
  for (let i = 0; i < 200 && !failure; i++) {
    try {
      await client.callTool({ name: "fail", arguments: { message: big } });
      answered++;
    } catch (err) {
      failure = err as Error;
    }
  }
  expect(failure?.message).toMatch(/the store failed \(.*\), so this request did not take effect/);
  expect(serverStderr()).toContain(`cannot write to ${tmp.db}`);
  expect((await readyz(admin)).status).toBe(503);
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  const records = Records.open(tmp.db);
  cleanups.push(() => records.close());
  expect(records.getEpisode("full-1")!.callCount).toBe(answered);
});
