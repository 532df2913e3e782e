// The Open Reward Standard face: a folder of environments as ORS environments, tasks and splits; sessions are episodes; calls answer in SSE with their reward.
import { clientOf } from "./fairness.ts";
import { createHash, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { z } from "zod";
import { EpisodeBusyError, EpisodeEndedError, LookupError, textOf, toolDoc, SUBMIT_TOOL_DOC, type EnvironmentRegistry, type EpisodeService, type EpisodeSession, type ToolDoc } from "../episode/index.ts";
import type { Environment } from "../schema/index.ts";
import { StoreError } from "../store/index.ts";
import { HttpError, type Route, type RouteContext } from "./http.ts";

/** The ORS environment holding every task of every environment served: one client trains on the whole folder. */
export const ORS_SUITE = "envforge";
export const ORS_SPLITS = ["train", "test"] as const;
export type OrsSplit = (typeof ORS_SPLITS)[number];
/** The share of tasks in `train`; the rest are `test`. */
export const TRAIN_SHARE = 0.8;
const VERSION = "0.1.0";
/** Finished call results kept for clients that reconnect with their `task_id` (SSE resumption) instead of running the call twice. */
const RESUMABLE = 1000;

/** A task as ORS clients hold it (`task_spec`); it names the task, it never carries its answer. */
export interface OrsTaskSpec {
  env: string;
  task: string;
}

/**
 * The split of a task: `train` or `test`, from the sha256 of `env/task`, so it depends on
 * nothing but the two ids (adding environments never moves a task between splits).
 */
export function splitOf(envId: string, taskId: string): OrsSplit {
  const h = createHash("sha256").update(`${envId}/${taskId}`).digest();
  return h.readUInt32BE(0) / 2 ** 32 < TRAIN_SHARE ? "train" : "test";
}

/** The tasks of an ORS environment in a split: the suite's are every environment's, in the registry's order. */
export function orsTasks(registry: EnvironmentRegistry, name: string, split: OrsSplit): OrsTaskSpec[] {
  const envs: Environment[] = name === ORS_SUITE && !registry.get(name) ? registry.list().map((e) => e.env) : [envOf(registry, name)];
  return envs.flatMap((env) => env.tasks.filter((t) => splitOf(env.id, t.id) === split).map((t) => ({ env: env.id, task: t.id })));
}

function envOf(registry: EnvironmentRegistry, name: string): Environment {
  const entry = registry.get(name);
  if (!entry) throw new HttpError(404, `unknown environment "${name}": /list_environments shows the ${registry.size + 1} there are (${ORS_SUITE} is all of them)`);
  return entry.env;
}

const isSuite = (registry: EnvironmentRegistry, name: string): boolean => name === ORS_SUITE && !registry.get(name);

const orsTool = (doc: ToolDoc) => ({ name: doc.name, description: doc.description, input_schema: doc.inputSchema });

const SplitBody = z.looseObject({ split: z.string() });
const TaskBody = z.looseObject({ split: z.string(), index: z.number().int() });
const RangeBody = z.looseObject({ split: z.string(), start: z.number().int().nullish(), stop: z.number().int().nullish() });
const TaskSpec = z.looseObject({ env: z.string().min(1), task: z.string().min(1), seed: z.number().int().optional() });
const CreateBody = z
  .looseObject({ env_name: z.string().nullish(), task_spec: TaskSpec.nullish(), split: z.string().nullish(), index: z.number().int().nullish() })
  .refine((b) => (b.task_spec != null) !== (b.split != null && b.index != null), { message: "give either task_spec or both split and index" });
const CallBody = z.looseObject({ name: z.string().min(1), input: z.record(z.string(), z.unknown()), task_id: z.string().nullish() });

/** ORS errors are FastAPI's shape, `{"detail": ...}`, which ORS clients read. */
function withDetail(handler: (ctx: RouteContext) => void | Promise<void>): Route["handler"] {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (err) {
      if (ctx.res.headersSent) return void ctx.res.end();
      if (err instanceof HttpError) return ctx.sendJson(err.status, { detail: err.message });
      if (err instanceof LookupError) return ctx.sendJson(err.status, { detail: err.message });
      if (err instanceof StoreError) return ctx.sendJson(503, { detail: err.publicMessage });
      if (err instanceof EpisodeBusyError) return ctx.sendJson(503, { detail: err.message }, { "retry-after": "1" });
      throw err;
    }
  };
}

async function parse<S extends z.ZodType>(ctx: RouteContext, schema: S): Promise<z.output<S>> {
  const parsed = schema.safeParse(await ctx.readJson());
  if (!parsed.success) throw new HttpError(422, z.prettifyError(parsed.error));
  return parsed.data;
}

function sessionId(ctx: RouteContext): string {
  const sid = ctx.req.headers["x-session-id"];
  if (typeof sid !== "string" || sid.trim() === "") throw new HttpError(400, "X-Session-ID header is required: POST /create_session gives one");
  return sid.trim();
}

/** The session's episode; its environment must be the path's (or the suite). */
async function sessionEpisode(ctx: RouteContext, name: string): Promise<EpisodeSession> {
  const sid = sessionId(ctx);
  const episode = await ctx.service.get(sid);
  if (!isSuite(ctx.registry, name) && name !== episode.env.id) throw new HttpError(400, `session "${sid}" is an episode of ${episode.env.id}, not of ${name}`);
  return episode;
}

function split(value: string): OrsSplit {
  if (!(ORS_SPLITS as readonly string[]).includes(value)) throw new HttpError(400, `Invalid split "${value}": the splits are ${ORS_SPLITS.join(", ")}`);
  return value as OrsSplit;
}

function sse(res: ServerResponse, events: readonly [string, string][]): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${data}\n\n`);
  res.end();
}

/** The ORS routes, at the root of the agent listener (ORS clients build absolute paths). */
export function orsRoutes(): Route[] {
  const results = new Map<string, string>();
  const remember = (taskId: string, result: string): void => {
    results.set(taskId, result);
    if (results.size > RESUMABLE) results.delete(results.keys().next().value!);
  };
  /** The same route at `/:env/x` and at `/x` (clients without a variant use bare paths; they mean the suite). */
  const both = (method: string, suffix: string, handler: (ctx: RouteContext, env: string) => void | Promise<void>): Route[] => [
    { method, path: `/:env${suffix}`, handler: withDetail((ctx) => handler(ctx, ctx.params.env!)) },
    { method, path: suffix, handler: withDetail((ctx) => handler(ctx, ORS_SUITE)) },
  ];
  const tasksIn = (ctx: RouteContext, env: string, s: string): OrsTaskSpec[] => {
    if (!isSuite(ctx.registry, env)) envOf(ctx.registry, env);
    return orsTasks(ctx.registry, env, split(s));
  };

  async function call(ctx: RouteContext, env: string): Promise<void> {
    const body = await parse(ctx, CallBody);
    if (body.task_id) {
      const done = results.get(body.task_id);
      return sse(ctx.res, done === undefined ? [["error", "unknown task_id"]] : [["task_id", body.task_id], ["end", done]]);
    }
    let episode: EpisodeSession | null = null;
    try {
      episode = await sessionEpisode(ctx, env);
    } catch (err) {
      // An ended episode is an ORS result, not an HTTP error: the trainer reads `episode_finished`.
      if (!(err instanceof LookupError && err.status === 410)) throw err;
    }
    const taskId = randomUUID();
    let payload: unknown;
    // Ended in another process (a shared store) is found only when the call takes the lease.
    const outcome = episode === null || episode.ended ? null : await episode.call(body.name, body.input).catch((err: unknown) => (err instanceof EpisodeEndedError ? null : Promise.reject(err)));
    if (episode === null || outcome === null) payload = { ok: false, error: `episode "${sessionId(ctx)}" has ended${episode ? ` (${episode.status})` : ""}; open a new session`, reason: "episode_finished" };
    else {
      const text = textOf(outcome.result);
      payload = {
        ok: true,
        output: {
          blocks: [{ type: "text", text }],
          // The step's components, never a sub-answer: what a trainer logs next to the reward.
          metadata: { episode: episode.id, is_error: outcome.result.isError === true, status: episode.status, step: outcome.step },
          reward: outcome.step?.rewards.f1 ?? 0,
          finished: outcome.done,
        },
      };
    }
    const result = JSON.stringify(payload);
    remember(taskId, result);
    sse(ctx.res, [["task_id", taskId], ["end", result]]);
  }

  const routes: Route[] = [
    { method: "GET", path: "/health", handler: (ctx) => ctx.sendJson(200, { status: "ok" }) },
    { method: "GET", path: "/version", handler: (ctx) => ctx.sendJson(200, { version: VERSION, build_sha: null }) },
    { method: "GET", path: "/list_environments", handler: (ctx) => ctx.sendJson(200, [ORS_SUITE, ...ctx.registry.list().map((e) => e.env.id).filter((id) => id !== ORS_SUITE)]) },
    { method: "POST", path: "/create_session", handler: (ctx) => sse(ctx.res, [["task_id", randomUUID()], ["end", ""]]) },
    {
      method: "POST",
      path: "/create",
      handler: withDetail(async (ctx) => {
        const sid = sessionId(ctx);
        const body = await parse(ctx, CreateBody);
        const name = body.env_name ?? ORS_SUITE;
        let spec: OrsTaskSpec & { seed?: number };
        if (body.task_spec) spec = body.task_spec;
        else {
          const tasks = tasksIn(ctx, name, body.split!);
          const found = tasks[body.index!];
          if (!found) throw new HttpError(400, `Invalid index ${body.index}: split ${body.split} of ${name} has ${tasks.length} tasks`);
          spec = found;
        }
        if (!isSuite(ctx.registry, name) && spec.env !== name) throw new HttpError(400, `task ${spec.env}/${spec.task} is not in environment ${name}`);
        if (ctx.service.find(sid)) throw new HttpError(400, "Session already exists");
        await ctx.service.open({ env: spec.env, task: spec.task, id: sid, transport: "http", face: "ors", client: clientOf(ctx.req.socket.remoteAddress), ...(spec.seed !== undefined ? { seed: spec.seed } : {}) });
        ctx.sendJson(200, { sid });
      }),
    },
    {
      method: "POST",
      path: "/ping",
      handler: withDetail(async (ctx) => {
        const sid = sessionId(ctx);
        // Live here, or (in a shared store) taken over from another process.
        await ctx.service.get(sid).catch((err: unknown) => {
          throw err instanceof LookupError && err.status === 404 ? new HttpError(404, "Active environment not found") : err;
        });
        ctx.sendJson(200, { status: "ok" });
      }),
    },
    ...["/delete", "/delete_session"].map(
      (path): Route => ({
        method: "POST",
        path,
        handler: withDetail(async (ctx) => {
          const sid = sessionId(ctx);
          const episode = ctx.service.find(sid) ?? (await ctx.service.get(sid).catch(() => undefined));
          await episode?.end("closed");
          ctx.sendJson(200, { sid });
        }),
      }),
    ),
    ...both("GET", "/tools", (ctx, env) => {
      const tools = isSuite(ctx.registry, env) ? [SUBMIT_TOOL_DOC] : [...envOf(ctx.registry, env).tools.map(toolDoc), SUBMIT_TOOL_DOC];
      ctx.sendJson(200, { tools: tools.map(orsTool) });
    }),
    ...both("GET", "/splits", (ctx, env) => {
      if (!isSuite(ctx.registry, env)) envOf(ctx.registry, env);
      ctx.sendJson(200, ORS_SPLITS.map((name) => ({ name, type: name })));
    }),
    ...both("POST", "/tasks", async (ctx, env) => ctx.sendJson(200, { tasks: tasksIn(ctx, env, (await parse(ctx, SplitBody)).split), env_name: env })),
    ...both("POST", "/num_tasks", async (ctx, env) => ctx.sendJson(200, { num_tasks: tasksIn(ctx, env, (await parse(ctx, SplitBody)).split).length })),
    ...both("POST", "/task", async (ctx, env) => {
      const body = await parse(ctx, TaskBody);
      const task = tasksIn(ctx, env, body.split)[body.index];
      if (!task) throw new HttpError(400, "Invalid index");
      ctx.sendJson(200, { task, env_name: env });
    }),
    ...both("POST", "/task_range", async (ctx, env) => {
      const body = await parse(ctx, RangeBody);
      ctx.sendJson(200, { tasks: tasksIn(ctx, env, body.split).slice(body.start ?? undefined, body.stop ?? undefined), env_name: env });
    }),
    ...both("GET", "/task_tools", async (ctx, env) => ctx.sendJson(200, { tools: (await sessionEpisode(ctx, env)).toolDocs().map(orsTool), terminal_tool: null })),
    ...both("GET", "/prompt", async (ctx, env) => ctx.sendJson(200, [{ type: "text", text: (await sessionEpisode(ctx, env)).instructions }])),
    ...both("POST", "/call", call),
  ];
  return routes;
}
