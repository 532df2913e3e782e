// One MCP session, whatever carries it: an episode or the catalog, its server, and the recording transport it talks through.
import { randomUUID } from "node:crypto";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { RecordingTransport, type Recorder } from "../store/index.ts";
import type { EpisodeStatus, TransportKind } from "../schema/index.ts";
import { EpisodeSession } from "./episode.ts";
import { createCatalogServer, createEpisodeServer, type CatalogOptions } from "./mcp.ts";
import { LookupError, type EnvironmentRegistry } from "./registry.ts";
import type { Tracer } from "@opentelemetry/api";
import { TracingTransport } from "./otel.ts";

/** Ids a client may choose: safe in URLs, headers, file names and SQL text. */
export const EPISODE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface SessionOptions {
  registry: EnvironmentRegistry;
  recorder: Recorder;
  transport: TransportKind;
  /** Without an environment the session is the catalog. */
  envId?: string | null;
  taskId?: string | null;
  /** A client-supplied episode id; must be new to the database. */
  episodeId?: string | null;
  sessionId?: string | null;
  maxCalls?: number;
  submitTool?: boolean;
  seed?: number;
  connectHint?: CatalogOptions["connectHint"];
  /** Runs once when an episode ends (not for the catalog). */
  onEnd?: (status: EpisodeStatus) => void;
  /** Reports messages that could not be recorded. */
  onRecordError?: (error: Error) => void;
  /** Runs once after the session has closed, however it closed. */
  onClose?: () => void;
  /** Sends OpenTelemetry spans for every request of the session (`serve --otlp`). */
  tracer?: Tracer;
}

export interface Session {
  /** The id of the episode row every message of this session is recorded under. */
  readonly id: string;
  readonly kind: "episode" | "catalog";
  /** Null for the catalog. */
  readonly episode: EpisodeSession | null;
  readonly server: Server;
  /** Connects the server through a recording wrapper around `inner`. */
  connect(inner: Transport): Promise<void>;
  /** Ends the episode (or closes the catalog's record) and closes the connection. */
  close(status?: Exclude<EpisodeStatus, "running">): Promise<void>;
}

const defaultHint = (envId: string, taskId: string): string => `envforge serve --env ${envId} --task ${taskId}`;

/**
 * Creates a session: checks the environment, task and episode id (throwing `LookupError`
 * with an HTTP status for the caller to report), and builds the MCP server. Nothing is
 * recorded until the first message arrives.
 */
export function openSession(options: SessionOptions): Session {
  const { registry, recorder } = options;
  const requested = options.episodeId ?? null;
  if (requested !== null) {
    if (!EPISODE_ID.test(requested)) throw new LookupError(`invalid episode id ${JSON.stringify(requested)}: use 1-128 of [A-Za-z0-9_.:-]`, 400);
    if (recorder.episodeExists(requested)) throw new LookupError(`episode id "${requested}" is already in the database; choose a new one`, 409);
  }
  const id = requested ?? randomUUID();
  let episode: EpisodeSession | null = null;
  let server: Server;
  let begin: () => void;
  if (options.envId) {
    const { entry, task } = registry.resolve(options.envId, options.taskId);
    episode = new EpisodeSession({
      env: entry.env,
      task,
      compiled: () => registry.compile(entry.env.id),
      recorder,
      transport: options.transport,
      id,
      envSha256: entry.sha256,
      sessionId: options.sessionId ?? null,
      ...(options.maxCalls !== undefined ? { maxCalls: options.maxCalls } : {}),
      ...(options.submitTool !== undefined ? { submitTool: options.submitTool } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.onEnd ? { onEnd: options.onEnd } : {}),
    });
    server = createEpisodeServer(episode);
    const ep = episode;
    begin = () => ep.begin();
  } else {
    server = createCatalogServer(registry, { connectHint: options.connectHint ?? defaultHint });
    begin = () => recorder.beginEpisode({ id, kind: "catalog", transport: options.transport, sessionId: options.sessionId ?? null });
  }
  let begun = false;
  let closed = false;
  const session: Session = {
    id,
    kind: episode ? "episode" : "catalog",
    episode,
    server,
    connect(inner) {
      const recording = new RecordingTransport(inner, {
        recorder,
        episodeId: id,
        onFirstMessage: () => {
          begun = true;
          begin();
        },
        ...(options.onRecordError ? { onRecordError: options.onRecordError } : {}),
      });
      return server.connect(options.tracer ? new TracingTransport(recording, options.tracer, { episodeId: id, transport: options.transport, envId: options.envId ?? null, taskId: episode?.task.id ?? null }) : recording);
    },
    async close(status = "closed") {
      if (closed) return;
      closed = true;
      if (episode) await episode.end(status);
      else if (begun) recorder.endEpisode(id, { status });
      await server.close();
      options.onClose?.();
    },
  };
  // However the connection ends (client closes, stdin EOF, transport error), the episode ends with it.
  server.onclose = () => void session.close("closed");
  return session;
}

export interface InProcessEpisode {
  readonly episode: EpisodeSession;
  /** Hand this to an SDK `Client`: `await client.connect(ip.transport)`. */
  readonly transport: Transport;
  /** Ends the episode as `closed` if it is still running, and closes both ends. */
  close(): Promise<void>;
}

/** An episode served in this process over a linked in-memory transport pair, recorded like any other. */
export async function openInProcessEpisode(options: Omit<SessionOptions, "transport" | "envId"> & { envId: string }): Promise<InProcessEpisode> {
  const session = openSession({ ...options, transport: "memory" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await session.connect(serverSide);
  return {
    episode: session.episode!,
    transport: clientSide,
    close: () => session.close(),
  };
}
