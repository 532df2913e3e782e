// Three `envforge serve --http` replicas on one real PostgreSQL behind a real HAProxy: no affinity for episodes addressed by id, sticky legacy MCP sessions, and a replica killed mid-load losing nothing.
import { Client as Client2, StreamableHTTPClientTransport as Http2 } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHaproxy, type Balancer } from "../helpers/haproxy.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { spawnHttpServer, tempDir, type ServeChild, type TempDir } from "./fixtures.ts";

let tmp: TempDir;
let postgres: TestPostgres;
let url: string;
let replicas: ServeChild[];
let lb: Balancer;

beforeAll(async () => {
  tmp = tempDir("envforge-replicas-");
  postgres = await startPostgres();
  url = await postgres.createDatabase("replicas");
  // Started together: the first to migrate holds the others back (an advisory lock), none fails. Behind the
  // balancer the Host header names the balancer, which each replica is told to accept.
  replicas = await Promise.all([0, 1, 2].map(() => spawnHttpServer(["--dir", tmp.envDir, "--db", url, "--lease", "3", "--allowed-host", "127.0.0.1"])));
  lb = await startHaproxy(replicas.map((r) => ({ host: "127.0.0.1", port: Number(new URL(r.url).port) })));
}, 180_000);

afterAll(async () => {
  for (const r of replicas ?? []) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
  await lb?.stop();
  await postgres?.remove();
  tmp?.cleanup();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${lb.origin}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const count = (n: number): string => `{"count": ${n}}`;

describe("replicas behind a load balancer", () => {
  it("round-robins one REST episode across the replicas with the outputs of one uninterrupted run", async () => {
    expect((await post("/v1/episodes", { env: "test-counter", task: "code-alpha", episode: "rr-1", seed: 5 })).status).toBe(201);
    const steps = [3, -1, 4, 1, -5, 9, 2, 6, -5, 3, 5, 8];
    let total = 0;
    for (const n of steps) {
      total += n;
      const call = await post("/v1/episodes/rr-1/calls", { tool: "add", arguments: { n } });
      expect([call.status, call.json.output]).toEqual([200, count(total)]);
    }
    const progress = (await (await fetch(`${lb.origin}/v1/episodes/rr-1`)).json()) as { calls: { made: number } };
    expect(progress.calls.made).toBe(steps.length);
    // The lease changed hands: the calls ran on more than one replica, each time continuing the record.
    const [row] = await query<{ lease_epoch: number; call_count: number }>(`SELECT lease_epoch, call_count FROM episodes WHERE id = 'rr-1'`);
    expect(row!.call_count).toBe(steps.length);
    expect(row!.lease_epoch).toBeGreaterThanOrEqual(3);
  });

  it("serves the reward API on each replica's control plane from the shared store", async () => {
    await post("/v1/episodes", { env: "test-counter", task: "code-alpha", episode: "rewarded", seed: 1 });
    expect((await post("/v1/episodes/rewarded/calls", { tool: "lookup_code", arguments: { name: "alpha" } })).status).toBe(200);
    expect((await post("/v1/episodes/rewarded/calls", { tool: "submit_answer", arguments: { answer: "K-7731-QZ" } })).status).toBe(200);
    for (const replica of replicas.slice(1)) {
      const score = (await (await fetch(`${replica.admin}/v1/episodes/rewarded`)).json()) as { status: string; calls: number; score: { ftrl: { solved: number; answer_correct: boolean } } };
      expect(score).toMatchObject({ status: "submitted", calls: 1, score: { ftrl: { solved: 1, answer_correct: true } } });
      const reward = await fetch(`${replica.admin}/v1/reward`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ episode: "rewarded", response: { content: "K-7731-QZ", tool_calls: [] } }),
      });
      expect(reward.status).toBe(200);
    }
  });

  it("serves a 2026-07-28 MCP client (no session) through any replica, each request continuing the episode", async () => {
    const client = new Client2({ name: "replica-test-2026", version: "2" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new Http2(new URL(`${lb.origin}/mcp?env=test-counter&task=code-alpha&episode=modern-1`)));
    for (let i = 1; i <= 6; i++) {
      const result = (await client.callTool({ name: "add", arguments: { n: 2 } })) as { content: { text: string }[] };
      expect(result.content[0]!.text).toBe(count(2 * i));
    }
    await client.close();
    const [row] = await query<{ lease_epoch: number; call_count: number }>(`SELECT lease_epoch, call_count FROM episodes WHERE id = 'modern-1'`);
    expect(row!.call_count).toBe(6);
    expect(row!.lease_epoch).toBeGreaterThanOrEqual(2);
  });

  it("keeps a legacy MCP session on the replica that issued its Mcp-Session-Id", async () => {
    const client = new Client({ name: "replica-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${lb.origin}/mcp?env=test-counter&task=code-alpha&episode=sticky-1`)));
    for (let i = 1; i <= 6; i++) {
      const result = (await client.callTool({ name: "add", arguments: { n: 1 } })) as { content: { text: string }[] };
      expect(result.content[0]!.text).toBe(count(i));
    }
    await client.close();
  });

  it("loses no received response when a replica is killed mid-load, and every episode goes on elsewhere with the same outputs", async () => {
    const EPISODES = 16;
    const CALLS = 14;
    const ids = Array.from({ length: EPISODES }, (_, i) => `load-${i}`);
    for (const id of ids) expect((await post("/v1/episodes", { env: "test-counter", task: "code-alpha", episode: id })).status).toBe(201);
    /** What each client received: seq -> output, the seq known from the episode's progress. */
    const received = new Map(ids.map((id) => [id, new Map<number, string>()]));
    let answered = 0;
    let killed = false;
    const victim = replicas[0]!;
    const loop = async (id: string): Promise<void> => {
      let made = 0;
      for (let attempts = 0; made < CALLS && attempts < 200; attempts++) {
        let call: { status: number; json: Record<string, unknown> } | null = null;
        try {
          call = await post(`/v1/episodes/${id}/calls`, { tool: "add", arguments: { n: 1 } });
        } catch {
          call = null;
        }
        if (call?.status === 200) {
          made++;
          received.get(id)!.set(made, call.json.output as string);
          answered++;
          continue;
        }
        // The call may or may not have taken effect (its replica died): ask the store through any replica.
        for (;;) {
          const res = await fetch(`${lb.origin}/v1/episodes/${id}`).catch(() => null);
          if (res?.status === 200) {
            made = ((await res.json()) as { calls: { made: number } }).calls.made;
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const loops = ids.map(loop);
    while (answered < 40) await new Promise((r) => setTimeout(r, 5));
    victim.child.kill("SIGKILL");
    killed = true;
    await Promise.all(loops);
    expect(killed).toBe(true);

    const rows = await query<{ episode_id: string; seq: number; output: string }>(`SELECT episode_id, seq, output FROM calls WHERE episode_id LIKE 'load-%' ORDER BY episode_id, seq`);
    for (const id of ids) {
      const stored = rows.filter((r) => r.episode_id === id);
      // One call per seq, in order, each with the output of an uninterrupted run: no call lost, none doubled.
      expect(stored.map((r) => [r.seq, r.output])).toEqual(stored.map((_, i) => [i + 1, count(i + 1)]));
      expect(stored.length).toBeGreaterThanOrEqual(CALLS);
      // Every response a client received is the stored one for its seq.
      for (const [seq, output] of received.get(id)!) expect(stored[seq - 1]?.output).toBe(output);
    }
  });
});
