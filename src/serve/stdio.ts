// MCP over stdio: newline-delimited JSON-RPC on stdin/stdout, one episode per process, ending at stdin EOF.
import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";
import { InvalidMessageError } from "../store/index.ts";
import type { EpisodeStatus } from "../schema/index.ts";
import { errorResponse, idOf, INVALID_REQUEST, INVALID_REQUEST_MESSAGE, isJsonRpcMessage, PARSE_ERROR } from "./jsonrpc.ts";
import { openSession, type SessionOptions } from "./session.ts";

/** Longest line accepted; a longer one is answered with a parse error and dropped. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** Parses one line into a message, or describes why it is not one (JSON-RPC -32700 / -32600). */
export function parseLine(line: string): { ok: true; message: JSONRPCMessage } | { ok: false; error: InvalidMessageError } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: new InvalidMessageError(line, errorResponse(null, PARSE_ERROR, `Parse error: ${(err as Error).message}`)) };
  }
  if (isJsonRpcMessage(value)) return { ok: true, message: value };
  return { ok: false, error: new InvalidMessageError(line, errorResponse(idOf(value), INVALID_REQUEST, INVALID_REQUEST_MESSAGE)) };
}

/**
 * A stdio server transport. Unlike the SDK's, it answers malformed lines with a JSON-RPC
 * error (reporting them as `InvalidMessageError` so the recorder keeps them) and closes at
 * stdin EOF, which is how stdio clients end a session.
 */
export class StdioLineTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  private buffer = "";
  private closed = false;

  constructor(
    private readonly stdin: Readable,
    private readonly stdout: Writable,
  ) {}

  private readonly onData = (chunk: Buffer | string): void => {
    this.buffer += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) !== -1) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() !== "") this.deliver(line);
    }
    if (Buffer.byteLength(this.buffer) > MAX_LINE_BYTES) {
      const head = this.buffer.slice(0, 200);
      this.buffer = "";
      this.onerror?.(new InvalidMessageError(head, errorResponse(null, PARSE_ERROR, `Parse error: line longer than ${MAX_LINE_BYTES} bytes`)));
    }
  };

  private readonly onEnd = (): void => void this.close();
  private readonly onStreamError = (error: Error): void => this.onerror?.(error);
  /** A client that went away leaves stdout broken (EPIPE): that ends the session too. */
  private readonly onOutputError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  private deliver(line: string): void {
    const parsed = parseLine(line);
    if (parsed.ok) this.onmessage?.(parsed.message);
    else this.onerror?.(parsed.error);
  }

  async start(): Promise<void> {
    this.stdin.setEncoding("utf8");
    this.stdin.on("data", this.onData);
    this.stdin.on("end", this.onEnd);
    this.stdin.on("close", this.onEnd);
    this.stdin.on("error", this.onStreamError);
    this.stdout.on("error", this.onOutputError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("stdio transport is closed"));
      if (this.stdout.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.stdout.once("drain", resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off("data", this.onData);
    this.stdin.off("end", this.onEnd);
    this.stdin.off("close", this.onEnd);
    this.stdin.off("error", this.onStreamError);
    // The stdout error listener stays: a late EPIPE must not become an uncaught exception.
    this.stdin.pause();
    this.onclose?.();
  }
}

/** Whether a connection's first message opens the 2026-07-28 era: a discover probe, or a request carrying the per-request envelope. */
export function isModernOpening(m: JSONRPCMessage): boolean {
  if (!("method" in m)) return false;
  const meta = (m.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  return m.method === "server/discover" || (meta !== undefined && meta["io.modelcontextprotocol/protocolVersion"] !== undefined);
}

/**
 * Holds what arrives until the first event tells the era (a 2025 `initialize`, or a 2026-07-28
 * `server/discover`), then passes it, and everything after, to the server that connects.
 */
class OpeningTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void) | undefined;
  /** Resolves at the first event: true when it opens the modern era. */
  readonly era: Promise<"legacy" | "modern">;
  private decide!: (era: "legacy" | "modern") => void;
  private held: (() => void)[] = [];
  private connected = false;

  constructor(
    private readonly inner: StdioLineTransport,
    private readonly ended: () => void,
  ) {
    this.era = new Promise((resolve) => (this.decide = resolve));
    inner.onmessage = (message, extra) => {
      this.decide(isModernOpening(message) ? "modern" : "legacy");
      this.pass(() => this.onmessage?.(message, extra));
    };
    inner.onerror = (error) => {
      this.decide("legacy");
      this.pass(() => this.onerror?.(error));
    };
    inner.onclose = () => {
      this.decide("legacy");
      this.pass(() => this.onclose?.());
      this.ended();
    };
  }

  private pass(event: () => void): void {
    if (this.connected) event();
    else this.held.push(event);
  }

  /** Listens to stdin before any server is connected, so the first message can choose one. */
  listen(): Promise<void> {
    return this.inner.start();
  }

  async start(): Promise<void> {
    this.connected = true;
    // After connect() has set the handlers: replay what came first.
    setImmediate(() => {
      for (const event of this.held.splice(0)) event();
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.inner.send(message);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface StdioServeOptions extends Omit<SessionOptions, "transport"> {
  stdin?: Readable;
  stdout?: Writable;
}

export interface StdioServing {
  readonly episodeId: string;
  /** Resolves when the session has ended (stdin EOF, or `stop`), with the episode's final status. */
  readonly done: Promise<EpisodeStatus | "catalog">;
  /** Ends the session from this side (for SIGINT/SIGTERM). */
  stop(): Promise<void>;
}

/** Serves one episode (or the catalog, without an environment) over stdin/stdout, in the era the client opens with. */
export async function serveStdio(options: StdioServeOptions): Promise<StdioServing> {
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  const session = await openSession({
    ...options,
    transport: "stdio",
    onClose: () => {
      options.onClose?.();
      closed();
    },
  });
  const opening = new OpeningTransport(new StdioLineTransport(options.stdin ?? process.stdin, options.stdout ?? process.stdout), () => void session.close("closed"));
  await opening.listen();
  // One process, one episode, in whichever era its client opens.
  void opening.era.then((era) => session.connect(opening, era));
  return {
    episodeId: session.id,
    done: done.then(() => (session.episode ? session.episode.status : ("catalog" as const))),
    stop: () => session.close(),
  };
}
