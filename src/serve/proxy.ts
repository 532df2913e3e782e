// A recording proxy for any stdio MCP server: bytes pass through unchanged both ways, each message is recorded, tool calls are optionally scored.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { describeMessage, now, type Direction, type Recorder } from "../store/index.ts";
import { EpisodeTracker } from "../score/index.ts";
import type { EpisodeScore, EpisodeScores, Task } from "../schema/index.ts";
import type { RegisteredEnvironment } from "../episode/index.ts";
import { MAX_LINE_BYTES } from "./stdio.ts";

export interface ProxyOptions {
  command: string;
  args: readonly string[];
  recorder: Recorder;
  /** The client's side: what it writes, and where the server's output goes. */
  input: Readable;
  output: Writable;
  /** Where the server's stderr goes. */
  errorOutput: Writable;
  /** Score calls to tools of this environment's task (matched by tool name); other calls are only recorded. */
  scoring?: { entry: RegisteredEnvironment; task: Task };
  episodeId?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Recording failures; traffic keeps flowing regardless. */
  onRecordError?: (error: Error) => void;
}

export interface ProxyRun {
  /** The `proxy` episode every message is recorded under. */
  episodeId: string;
  /** Resolves with the server's exit code (128 + signal number when a signal ended it) once its output is passed on and recorded. */
  done: Promise<number>;
  /** Sends a signal to the server. */
  kill(signal?: NodeJS.Signals): void;
}

interface OpenCall {
  name: string;
  args: Record<string, unknown>;
  startedAt: number;
  requestId: string;
}

const textOf = (result: unknown): string => {
  const content = (result as { content?: unknown } | null)?.content;
  if (!Array.isArray(content)) return JSON.stringify(result ?? null);
  return content
    .filter((c): c is { type: "text"; text: string } => c?.type === "text" && typeof c.text === "string")
    .map((c) => c.text)
    .join("\n");
};

/**
 * Splits a byte stream into lines for the recorder while the bytes themselves are passed on
 * as they came. A line longer than `MAX_LINE_BYTES` is recorded by its head only.
 */
function lineSplitter(onLine: (line: string) => Promise<void> | void): (chunk: Buffer) => Promise<void> | void {
  let parts: Buffer[] = [];
  let size = 0;
  let overlong = false;
  return (chunk) => {
    const waits: Promise<void>[] = [];
    const see = (line: string): void => {
      const wait = onLine(line);
      if (wait) waits.push(wait);
    };
    let from = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, from)) !== -1) {
      const piece = chunk.subarray(from, nl);
      const line = overlong ? "" : Buffer.concat([...parts, piece]).toString("utf8");
      parts = [];
      size = 0;
      overlong = false;
      if (line.trim() !== "") see(line.replace(/\r$/, ""));
      from = nl + 1;
    }
    if (from < chunk.length && !overlong) {
      parts.push(chunk.subarray(from));
      size += chunk.length - from;
      if (size > MAX_LINE_BYTES) {
        see(Buffer.concat(parts).subarray(0, 200).toString("utf8"));
        parts = [];
        overlong = true;
      }
    }
    if (waits.length > 0) return Promise.all(waits).then(() => undefined);
  };
}

/**
 * Copies `from` to `to` chunk by chunk with backpressure, showing each chunk to `see` first; when
 * `see` returns a promise (its lines' records committing), the chunk moves on once it settles.
 * Resolves at the source's end.
 */
function pump(from: Readable, to: Writable, see: (chunk: Buffer) => Promise<void> | void, endTarget: boolean): Promise<void> {
  return new Promise((resolve) => {
    let draining = false;
    let last: Promise<void> = Promise.resolve();
    const forward = (buf: Buffer): void => {
      if (!to.writableEnded && !to.destroyed && !to.write(buf)) {
        draining = true;
        from.pause();
        to.once("drain", () => ((draining = false), from.resume()));
      }
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      const seen = see(buf);
      if (!seen) return forward(buf);
      from.pause();
      last = seen.then(() => {
        forward(buf);
        if (!draining) from.resume();
      });
    };
    const finish = (): void => {
      from.off("data", onData);
      void last.then(() => {
        if (endTarget && !to.writableEnded) to.end();
        resolve();
      });
    };
    from.on("data", onData);
    from.once("end", finish);
    from.once("close", finish);
    from.once("error", finish);
  });
}

/** Runs `command` as a stdio MCP server between `input`/`output` and records the session. */
export function startProxy(options: ProxyOptions): ProxyRun {
  const { recorder, scoring } = options;
  const episodeId = options.episodeId ?? randomUUID();
  const report = (err: unknown): void => options.onRecordError?.(err instanceof Error ? err : new Error(String(err)));
  const trackers = scoring ? ([new EpisodeTracker(scoring.task.unsolved_set, "ftrl"), new EpisodeTracker(scoring.task.unsolved_set, "strict")] as const) : null;
  const scoredTools = new Set(scoring?.entry.env.tools.map((t) => t.name) ?? []);
  const waiting = new Map<string, number>();
  const openCalls = new Map<string, OpenCall>();
  let seq = 0;

  const safely = (what: () => void): void => {
    try {
      what();
    } catch (err) {
      report(err);
    }
  };
  safely(() =>
    void recorder.beginEpisode({
      id: episodeId,
      kind: "proxy",
      envId: scoring?.entry.env.id ?? null,
      envSha256: scoring?.entry.sha256 ?? null,
      taskId: scoring?.task.id ?? null,
      transport: "stdio",
      needed: trackers ? trackers[0].needed : null,
      meta: { command: options.command, args: options.args },
    }),
  );

  function track(direction: Direction, message: Record<string, unknown>): void {
    const id = typeof message.id === "string" || typeof message.id === "number" ? String(message.id) : null;
    if (id === null) return;
    if (direction === "in" && message.method === "initialize") {
      const params = message.params as { clientInfo?: { name?: string; version?: string }; protocolVersion?: string } | undefined;
      void recorder.setClient(episodeId, { name: params?.clientInfo?.name ?? null, version: params?.clientInfo?.version ?? null, protocolVersion: params?.protocolVersion ?? null });
    }
    if (!trackers) return;
    const params = message.params as { name?: unknown; arguments?: unknown } | undefined;
    if (direction === "in" && message.method === "tools/call" && typeof params?.name === "string" && scoredTools.has(params.name)) {
      const args = typeof params.arguments === "object" && params.arguments !== null ? (params.arguments as Record<string, unknown>) : {};
      openCalls.set(id, { name: params.name, args, startedAt: now(), requestId: id });
      return;
    }
    const call = direction === "out" && !("method" in message) ? openCalls.get(id) : undefined;
    if (!call) return;
    openCalls.delete(id);
    const error = message.error as { message?: unknown } | undefined;
    const result = message.result as { isError?: unknown } | undefined;
    const output = error ? String(error.message ?? "error") : textOf(result);
    const isError = error !== undefined || result?.isError === true;
    const executed = { name: call.name, arguments: call.args, output, is_error: isError };
    const [ftrl, strict] = trackers;
    const solvedFtrl = ftrl.record(executed);
    const solvedStrict = strict.record(executed);
    void recorder.recordCall({
      episodeId,
      seq: ++seq,
      requestId: call.requestId,
      tool: call.name,
      arguments: call.args,
      output,
      isError,
      errorKind: isError ? (error ? "rpc_error" : "tool_error") : null,
      solvedFtrl,
      solvedStrict,
      startedAt: call.startedAt,
      latencyMs: now() - call.startedAt,
      assistantMeta: null,
    });
  }

  /** Records a line; an outgoing one is passed on once its record is committed (a failure is reported, and the line still goes). */
  const record = (direction: Direction) => (line: string): Promise<void> | void => {
    let committed: Promise<unknown> | undefined;
    safely(() => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        value = undefined;
      }
      const ts = now();
      const messages = (Array.isArray(value) ? value : [value]).filter((m): m is Record<string, unknown> => typeof m === "object" && m !== null);
      const d = value === undefined ? { type: "invalid" as const, method: null, requestId: null } : describeMessage(value);
      let latencyMs: number | null = null;
      if (d.requestId !== null && d.type === "request") waiting.set(`${direction}:${d.requestId}`, ts);
      else if (d.requestId !== null && (d.type === "response" || d.type === "error")) {
        const key = `${direction === "in" ? "out" : "in"}:${d.requestId}`;
        const start = waiting.get(key);
        if (start !== undefined) (latencyMs = ts - start), waiting.delete(key);
      }
      committed = recorder.queueMessage({ episodeId, direction, ...d, latencyMs, body: line, ts });
      for (const m of messages) track(direction, m);
    });
    if (direction === "out" && committed) return committed.then(() => undefined, report);
  };

  const child = spawn(options.command, [...options.args], { stdio: ["pipe", "pipe", "pipe"], ...(options.cwd ? { cwd: options.cwd } : {}), ...(options.env ? { env: options.env } : {}) });
  // The server may exit before reading all its input; a write to its closed stdin is not our failure.
  child.stdin.on("error", () => undefined);
  void pump(options.input, child.stdin, lineSplitter(record("in")), true);
  const fromServer = pump(child.stdout, options.output, lineSplitter(record("out")), false);
  const fromServerErr = pump(child.stderr, options.errorOutput, () => undefined, false);

  const done = new Promise<number>((resolve) => {
    let settled = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      // Stop reading the client once the server is gone, so the process can exit.
      options.input.pause();
      const scores: EpisodeScores | null = trackers
        ? { ftrl: { ...trackers[0].metrics(), mode: "ftrl", answer_correct: null } satisfies EpisodeScore, strict: { ...trackers[1].metrics(), mode: "strict", answer_correct: null } }
        : null;
      void recorder.endEpisode(episodeId, { status: "closed", score: scores }).then(() => resolve(code), (err) => (report(err), resolve(code)));
    };
    child.once("error", (err) => {
      options.errorOutput.write(`envforge record: could not start ${options.command}: ${err.message}\n`);
      finish(127);
    });
    child.once("close", (code, signal) => {
      void Promise.all([fromServer, fromServerErr]).then(() => finish(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
  });
  return { episodeId, done, kill: (signal = "SIGTERM") => void child.kill(signal) };
}
