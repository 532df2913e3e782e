// Wraps any MCP transport so that every JSON-RPC message, in both directions, is recorded before it moves on.
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";
import { now, type Direction, type MessageType, type Recorder } from "./recorder.ts";
import { StoreError } from "./failure.ts";

export interface RecordingOptions {
  recorder: Recorder;
  /** The episode (or catalog/proxy session) every message of this transport belongs to. */
  episodeId: string;
  /** Runs once, before the first message is recorded: the place to insert the episode row. */
  onFirstMessage?: () => void;
  /** Reports what could not be recorded (the message is then not passed on). */
  onRecordError?: (error: Error) => void;
  /** Messages passed on unrecorded (a protocol probe that may come from a throwaway process). */
  skip?: (message: JSONRPCMessage) => boolean;
}

/** The parts of a JSON-RPC message the messages table indexes. */
export function describeMessage(m: unknown): { type: MessageType; method: string | null; requestId: string | null } {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return { type: "invalid", method: null, requestId: null };
  const o = m as Record<string, unknown>;
  const id = typeof o.id === "string" || typeof o.id === "number" ? String(o.id) : null;
  if (typeof o.method === "string") return { type: "id" in o ? "request" : "notification", method: o.method, requestId: id };
  if ("error" in o) return { type: "error", method: null, requestId: id };
  if ("result" in o) return { type: "response", method: null, requestId: id };
  return { type: "invalid", method: null, requestId: id };
}

/** What a client is told when its request or the response to it could not be recorded. */
function unrecorded(what: "request" | "response", err: unknown): string {
  return err instanceof StoreError ? err.publicMessage : `the server could not record this ${what}: ${(err as Error).message}`;
}

/** A malformed input line or body a transport could not turn into a message; see `RecordingTransport.recordInvalid`. */
export class InvalidMessageError extends Error {
  constructor(
    readonly raw: string,
    /** The JSON-RPC error to answer with (-32700 parse error, -32600 invalid request). */
    readonly response: JSONRPCMessage,
  ) {
    super(`invalid JSON-RPC input: ${raw.slice(0, 200)}`);
  }
}

/**
 * A Transport that records every message: an outgoing one is committed before the inner
 * transport sends it, and an incoming one by the end of the event-loop turn it arrived in,
 * at the latest with the response to it (see `Recorder`). It pairs requests with their
 * responses (either direction) to store latency, and takes the client's name and version
 * from `initialize`.
 */
export class RecordingTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;

  private started = false;
  /** When each request still awaiting a response arrived, keyed by direction and id. */
  private readonly pending = new Map<string, number>();
  private readonly initializeIds = new Set<string>();

  constructor(
    readonly inner: Transport,
    private readonly options: RecordingOptions,
  ) {
    inner.onmessage = (message, extra) => this.receive(message, extra);
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => {
      if (error instanceof InvalidMessageError) this.recordInvalid(error);
      else this.onerror?.(error);
    };
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion = (version: string): void => this.inner.setProtocolVersion?.(version);

  start(): Promise<void> {
    return this.inner.start();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.options.skip?.(message)) return this.inner.send(message, options);
    try {
      this.record("out", message, JSON.stringify(message));
      await this.options.recorder.committed();
    } catch (err) {
      // Never send what is not recorded; tell the client instead of leaving it waiting.
      this.options.onRecordError?.(err as Error);
      const id = (message as { id?: unknown }).id;
      if (id === undefined) return;
      const error = { jsonrpc: "2.0" as const, id: id as string | number, error: { code: -32603, message: unrecorded("response", err) } };
      return this.inner.send(error, options);
    }
    return this.inner.send(message, options);
  }

  /**
   * Records a malformed input and answers it with its JSON-RPC error, for transports that
   * report such input as an `InvalidMessageError` through `onerror`.
   */
  recordInvalid(error: InvalidMessageError): void {
    try {
      this.record("in", null, error.raw);
    } catch (err) {
      this.options.onRecordError?.(err as Error);
    }
    this.send(error.response).catch((err: Error) => this.onerror?.(err));
  }

  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (this.options.skip?.(message)) return void this.onmessage?.(message, extra);
    try {
      this.record("in", message, JSON.stringify(message));
    } catch (err) {
      this.options.onRecordError?.(err as Error);
      const id = (message as { id?: unknown }).id;
      if ("method" in message && id !== undefined) {
        this.inner
          .send({ jsonrpc: "2.0", id: id as string | number, error: { code: -32603, message: unrecorded("request", err) } })
          .catch((e: Error) => this.onerror?.(e));
      }
      return;
    }
    this.onmessage?.(message, extra);
  }

  private record(direction: Direction, message: JSONRPCMessage | null, body: string): void {
    const { recorder, episodeId } = this.options;
    // A failed store refuses at once: the message is then answered with an error, not passed on.
    if (recorder.failure) throw recorder.failure;
    if (!this.started) {
      this.started = true;
      this.options.onFirstMessage?.();
    }
    const ts = now();
    const d = message ? describeMessage(message) : { type: "invalid" as const, method: null, requestId: null };
    let latencyMs: number | null = null;
    if (d.requestId !== null) {
      // A request waits under its own direction; its response travels the other way.
      if (d.type === "request") this.pending.set(`${direction}:${d.requestId}`, ts);
      else if (d.type === "response" || d.type === "error") {
        const key = `${direction === "in" ? "out" : "in"}:${d.requestId}`;
        const start = this.pending.get(key);
        if (start !== undefined) {
          latencyMs = ts - start;
          this.pending.delete(key);
        }
      }
    }
    void recorder.queueMessage({ episodeId, direction, type: d.type, method: d.method, requestId: d.requestId, latencyMs, body, ts });
    if (direction === "in" && d.method === "initialize" && message && "params" in message) {
      const params = message.params as { clientInfo?: { name?: string; version?: string }; protocolVersion?: string } | undefined;
      if (d.requestId !== null) this.initializeIds.add(d.requestId);
      void recorder.setClient(episodeId, { name: params?.clientInfo?.name ?? null, version: params?.clientInfo?.version ?? null, protocolVersion: params?.protocolVersion ?? null });
    } else if (direction === "out" && d.type === "response" && d.requestId !== null && this.initializeIds.delete(d.requestId)) {
      // The negotiated version is the one the server answers with.
      const result = (message as { result?: { protocolVersion?: string } }).result;
      void recorder.setClient(episodeId, { protocolVersion: result?.protocolVersion ?? null });
    }
  }
}
