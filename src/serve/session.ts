// One MCP session, whatever carries it: an episode or the catalog, its server, and the recording transport it talks through.
import { randomUUID } from "node:crypto";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { RecordingTransport, type Recorder } from "../store/index.ts";
import type { EpisodeStatus, TransportKind } from "../schema/index.ts";
import { EpisodeService, LookupError, type EnvironmentRegistry, type EpisodeSession, type ServeMode } from "../episode/index.ts";
import { serveStdio as serveModernStdio, type StdioServerHandle } from "@modelcontextprotocol/server/stdio";
import { catalogSurface, createCatalogServer, createEpisodeServer, episodeSurface, type CatalogOptions } from "./mcp.ts";
import { modernServer } from "./modern.ts";
import type { Tracer } from "@opentelemetry/api";
import { TracingTransport } from "./otel.ts";

export interface SessionOptions {
  registry: EnvironmentRegistry;
  recorder: Recorder;
  /** The episodes of this process; a session-only service is made when absent (stdio, in process). */
  service?: EpisodeService;
  transport: TransportKind;
  /** Without an environment (and without the id of a live episode) the session is the catalog. */
  envId?: string | null;
  taskId?: string | null;
  /** The id of a live episode to drive (opened by REST, ORS or another session), or a new id for this session's episode. */
  episodeId?: string | null;
  sessionId?: string | null;
  maxCalls?: number;
  submitTool?: boolean;
  /** `train` keeps progress and the score off the agent plane. */
  mode?: ServeMode;
  seed?: number;
  connectHint?: CatalogOptions["connectHint"];
  /** Runs once when an episode this session opened ends (not for the catalog or an episode it joined). */
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
  /**
   * Connects the server through a recording wrapper around `inner`: the SDK 1.x server for a
   * 2025-era opening, or (stdio) the SDK 2.x entry pinned to 2026-07-28 for a modern one.
   */
  connect(inner: Transport, era?: "legacy" | "modern"): Promise<void>;
  /** Ends the episode it opened (or closes the catalog's record, or lets go of a joined episode) and closes the connection. */
  close(status?: Exclude<EpisodeStatus, "running">): Promise<void>;
}

const defaultHint = (envId: string, taskId: string): string => `envforge serve --env ${envId} --task ${taskId}`;

/**
 * Creates a session: an episode of its own (a 2025-11-25 session is an episode), a live
 * episode it joins by id, or the catalog. Checks the environment, task and episode id
 * (throwing `LookupError` with an HTTP status for the caller to report), and builds the MCP
 * server. Nothing is recorded until the first message arrives.
 */
export async function openSession(options: SessionOptions): Promise<Session> {
  const { registry, recorder } = options;
  if (recorder.failure) {
    throw new LookupError(`Service Unavailable: the store failed (${recorder.failure.reason}); new episodes are refused until it is writable again`, 503);
  }
  const service = options.service ?? new EpisodeService(registry, recorder);
  const requested = options.episodeId ?? null;
  const joined = requested !== null ? service.find(requested) : undefined;
  let episode: EpisodeSession | null = null;
  let server: Server;
  let begin: () => void;
  let id: string;
  if (joined) {
    if ((options.envId && options.envId !== joined.env.id) || (options.taskId && options.taskId !== joined.task.id)) {
      throw new LookupError(`episode id "${joined.id}" is already in the database, an episode of ${joined.env.id}/${joined.task.id}, not ${options.envId ?? joined.env.id}/${options.taskId ?? joined.task.id}; choose a new id, or join it with ?episode= alone`, 409);
    }
    episode = joined;
  } else if (options.envId) {
    episode = await service.open({
      env: options.envId,
      task: options.taskId,
      id: requested,
      transport: options.transport,
      face: "mcp",
      sessionId: options.sessionId ?? null,
      lazy: true,
      ...(options.maxCalls !== undefined ? { maxCalls: options.maxCalls } : {}),
      ...(options.submitTool !== undefined ? { submitTool: options.submitTool } : {}),
      ...(options.mode !== undefined ? { mode: options.mode } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.onEnd ? { onEnd: options.onEnd } : {}),
    });
  }
  if (episode) {
    const ep = episode;
    id = ep.id;
    service.hold(id);
    server = createEpisodeServer(ep);
    begin = () => ep.begin();
  } else {
    if (requested !== null) await service.checkNewId(requested);
    id = requested ?? randomUUID();
    server = createCatalogServer(registry, { connectHint: options.connectHint ?? defaultHint });
    begin = () => void recorder.beginEpisode({ id, kind: "catalog", transport: options.transport, sessionId: options.sessionId ?? null });
  }
  let begun = false;
  let closing: Promise<void> | null = null;
  let modern: StdioServerHandle | null = null;
  const session: Session = {
    id,
    kind: episode ? "episode" : "catalog",
    episode,
    server,
    async connect(inner, era = "legacy") {
      // A 2026-07-28 stdio client in auto mode probes with server/discover on a sibling process it then drops:
      // the probe is answered but not recorded, so that process leaves no episode behind.
      const probes = new Set<string | number>();
      const skip = (m: JSONRPCMessage): boolean => {
        if ("method" in m) return m.method === "server/discover" && "id" in m && m.id !== undefined && (probes.add(m.id as string | number), true);
        return "id" in m && m.id !== null && m.id !== undefined && probes.delete(m.id);
      };
      const recording = new RecordingTransport(inner, {
        recorder,
        episodeId: id,
        ...(era === "modern" ? { skip } : {}),
        onFirstMessage: () => {
          begun = true;
          begin();
        },
        ...(options.onRecordError ? { onRecordError: options.onRecordError } : {}),
      });
      const traced = options.tracer ? new TracingTransport(recording, options.tracer, { episodeId: id, transport: options.transport, envId: episode?.env.id ?? options.envId ?? null, taskId: episode?.task.id ?? null }) : recording;
      if (era === "legacy") return server.connect(traced);
      const surface = episode ? episodeSurface(episode) : catalogSurface(registry, { connectHint: options.connectHint ?? defaultHint });
      modern = serveModernStdio(() => modernServer(surface), { transport: traced as never, legacy: "reject", ...(options.onRecordError ? { onerror: options.onRecordError } : {}) });
    },
    close(status = "closed") {
      // Every caller waits for the same close, so a server shutting down knows when it is done.
      closing ??= (async () => {
        if (episode) {
          service.release(id);
          // An episode this session joined outlives it: whoever opened it ends it.
          if (!joined) await episode.end(status);
        } else if (begun) {
          // The store failed: the catalog's row stays running and the next start marks it interrupted.
          await recorder.endEpisode(id, { status }).catch(() => undefined);
        }
        await modern?.close();
        await server.close();
        options.onClose?.();
      })();
      return closing;
    },
  };
  // However the connection ends (client closes, stdin EOF, transport error), the episode it opened ends with it.
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
  const session = await openSession({ ...options, transport: "memory" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await session.connect(serverSide);
  return {
    episode: session.episode!,
    transport: clientSide,
    close: () => session.close(),
  };
}
