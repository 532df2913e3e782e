// A large, seeded recording for viewer tests and the view benchmark: episodes written through the recorder's own API in one transaction.
import type { Recorder, WriteOp } from "../../src/store/index.ts";
import { episodeMetrics } from "../../src/score/index.ts";
import { RUN_META_KEY, type EpisodeScore, type EpisodeStatus, type RunMeta } from "../../src/schema/index.ts";

/** xorshift32: the same seed gives the same recording. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export const SYNTHETIC_AGENTS = ["oracle", "random", "qwen2.5-7b-instruct", "llama-3.1-8b"] as const;
const CLIENTS = ["envforge-run", "claude-code", "inspector"] as const;
const STATUSES: EpisodeStatus[] = ["submitted", "submitted", "submitted", "submitted", "closed", "idle_timeout", "limit_exceeded", "interrupted", "running"];

export interface SyntheticOptions {
  episodes: number;
  envIds: readonly string[];
  tasksPerEnv?: number;
  /** Tool calls recorded per episode (0 keeps generation fast). */
  callsPerEpisode?: number;
  seed?: number;
  idPrefix?: string;
}

const score = (mode: "ftrl" | "strict", solved: number, calls: number, needed: number, answerCorrect: boolean | null): EpisodeScore => ({
  ...episodeMetrics(solved, calls, needed),
  mode,
  answer_correct: answerCorrect,
});

/** Writes `episodes` episodes (ids `<prefix><n>`) straight through the store backend, in large transactions; returns how many carry a score. */
export async function writeSynthetic(recorder: Recorder, options: SyntheticOptions): Promise<number> {
  const next = rng(options.seed ?? 7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const tasksPerEnv = options.tasksPerEnv ?? 3;
  const callsPerEpisode = options.callsPerEpisode ?? 0;
  const prefix = options.idPrefix ?? "syn-";
  let scored = 0;
  let ops: WriteOp[] = [];
  const flush = async (): Promise<void> => {
    for (const result of await recorder.backend.commit(ops)) if ("error" in result) throw result.error;
    ops = [];
  };
  {
    for (let i = 0; i < options.episodes; i++) {
      if (ops.length > 20_000) await flush();
      const id = `${prefix}${i}`;
      const envId = pick(options.envIds);
      const taskId = `task-${Math.floor(next() * tasksPerEnv)}`;
      const needed = 1 + Math.floor(next() * 4);
      ops.push({ op: "begin", id, kind: "episode", envId, envSha256: null, taskId, transport: "http", sessionId: null, needed, startedAt: 1_700_000_000_000 + i, owner: recorder.owner, meta: null });
      const viaRunner = next() < 0.8;
      ops.push({ op: "client", id, name: viaRunner ? "envforge-run" : pick(CLIENTS.slice(1)), version: "1.0", protocol: null });
      for (let c = 1; c <= callsPerEpisode; c++) {
        ops.push({
          op: "call",
          episodeId: id,
          seq: c,
          requestId: String(c + 1),
          tool: "get_film",
          arguments: JSON.stringify({ title: `Film ${c}` }),
          output: `{"title":"Film ${c}"}`,
          isError: false,
          errorKind: null,
          solvedFtrl: c === 1 ? "x" : null,
          solvedStrict: null,
          startedAt: 0,
          latencyMs: 1,
          assistantMeta: null,
        });
      }
      const status = pick(STATUSES);
      if (status === "running") continue;
      const calls = Math.floor(next() * 8);
      const solvedFtrl = Math.min(calls, needed, Math.floor(next() * (needed + 1)));
      const solvedStrict = Math.floor(next() * (solvedFtrl + 1));
      const correct = status === "submitted" ? next() < 0.5 : null;
      const run: RunMeta = { agent: pick(SYNTHETIC_AGENTS), rollout: `${envId}:${taskId}:${i % 8}`, env: envId, task: taskId, k: i % 8, attempt: 1, end: next() < 0.03 ? "error" : "answer", turns: 2 };
      const hasScore = status !== "interrupted";
      if (hasScore) scored++;
      ops.push({
        op: "end",
        id,
        status,
        endedAt: 1_700_000_000_000 + i + 1,
        finalAnswer: status === "submitted" ? "an answer" : null,
        finalMeta: viaRunner ? JSON.stringify({ [RUN_META_KEY]: run }) : null,
        score: hasScore ? JSON.stringify({ ftrl: score("ftrl", solvedFtrl, calls, needed, correct), strict: score("strict", solvedStrict, calls, needed, correct) }) : null,
      });
    }
  }
  await flush();
  return scored;
}
