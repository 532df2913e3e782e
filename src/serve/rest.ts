// The REST episode API next to /mcp: open an episode, run calls or whole model responses against its state, answer, read, close.
import { clientOf } from "./fairness.ts";
import { z } from "zod";
import { agentProgress, EpisodeBusyError, EpisodeEndedError, LookupError, textOf, type CallOutcome, type EpisodeService, type EpisodeSession } from "../episode/index.ts";
import { StoreError } from "../store/index.ts";
import { HttpError, type Route, type RouteContext } from "./http.ts";
import { ModelResponse, parseModelResponse } from "./reward-api.ts";

export const EPISODES_PATH = "/v1/episodes";

export const OpenEpisodeRequest = z.strictObject({
  env: z.string().min(1),
  task: z.string().min(1).optional(),
  /** Your own id for the episode (a rollout id); must be new. */
  episode: z.string().min(1).optional(),
  seed: z.number().int().optional(),
});
export type OpenEpisodeRequest = z.infer<typeof OpenEpisodeRequest>;

export const CallRequest = z.strictObject({ tool: z.string().min(1), arguments: z.record(z.string(), z.unknown()).optional() });
export type CallRequest = z.infer<typeof CallRequest>;

export const RespondRequest = z.strictObject({ response: ModelResponse });
export const AnswerRequest = z.strictObject({ answer: z.string() });

/** Runs `f`, turning the episode layer's errors into HTTP statuses. */
export async function episodeErrors<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof LookupError) throw new HttpError(err.status, err.message);
    if (err instanceof EpisodeEndedError) throw new HttpError(410, err.message);
    // The call did not take effect; the message names no path of the server's.
    if (err instanceof StoreError) throw new HttpError(503, err.publicMessage);
    if (err instanceof EpisodeBusyError) throw new HttpError(503, err.message);
    throw err;
  }
}

async function body<S extends z.ZodType>(ctx: RouteContext, schema: S, what: string): Promise<z.output<S>> {
  const type = (ctx.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "Content-Type must be application/json");
  const parsed = schema.safeParse(await ctx.readJson());
  if (!parsed.success) throw new HttpError(400, `invalid ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The live episode of the route's `:id`, or 404 / 410. */
const live = (service: EpisodeService, id: string): Promise<EpisodeSession> => episodeErrors(() => service.get(id));

/** A call's answer on the agent plane: what the agent saw, its step reward with components, and whether the episode is over. */
function callView(episode: EpisodeSession, outcome: CallOutcome) {
  const text = textOf(outcome.result);
  return {
    episode: episode.id,
    output: text,
    is_error: outcome.result.isError === true,
    ...(outcome.result.structuredContent ? { structured: outcome.result.structuredContent } : {}),
    reward: outcome.step?.rewards.f1 ?? null,
    step: outcome.step,
    status: episode.status,
    done: outcome.done,
  };
}

/** The agent plane's REST face over the episode service. */
export function restRoutes(): Route[] {
  return [
    {
      method: "POST",
      path: EPISODES_PATH,
      async handler(ctx) {
        const req = await body(ctx, OpenEpisodeRequest, "episode request");
        const episode = await episodeErrors(() =>
          ctx.service.open({ env: req.env, task: req.task ?? null, id: req.episode ?? null, transport: "http", face: "rest", client: clientOf(ctx.req.socket.remoteAddress), ...(req.seed !== undefined ? { seed: req.seed } : {}) }),
        );
        ctx.sendJson(201, { episode: episode.id, env: episode.env.id, task: episode.task.id, prompt: episode.instructions, tools: episode.toolDocs() }, { location: `${EPISODES_PATH}/${encodeURIComponent(episode.id)}` });
      },
    },
    {
      method: "GET",
      path: `${EPISODES_PATH}/:id`,
      async handler(ctx) {
        const id = ctx.params.id!;
        const episode = await episodeErrors(() => ctx.service.get(id)).catch((err: unknown) => {
          if (err instanceof HttpError && err.status === 410) return null;
          throw err;
        });
        if (episode) {
          // In a shared store other processes may have run calls since this one last did.
          await episodeErrors(() => episode.refresh());
          return ctx.sendJson(200, agentProgress(episode));
        }
        // Ended: what the agent plane may see of it is its status and score, never a sub-answer.
        const row = await ctx.service.recorder.loadEpisode(id);
        if (!row || row.kind !== "episode") throw new HttpError(404, `no episode "${id}"`);
        ctx.sendJson(200, { episode: row.id, environment: row.envId, task: row.taskId, status: row.status, calls: { made: row.callCount }, score: row.score });
      },
    },
    {
      method: "POST",
      path: `${EPISODES_PATH}/:id/calls`,
      async handler(ctx) {
        const episode = await live(ctx.service, ctx.params.id!);
        const req = await body(ctx, CallRequest, "call");
        if (episode.ended) throw new HttpError(410, `episode "${episode.id}" has ended (${episode.status}); open a new episode`);
        // In a shared store a call waits for the lease and reads the record: busy, ended elsewhere or a failed store are statuses, not 500s.
        ctx.sendJson(200, callView(episode, await episodeErrors(() => episode.call(req.tool, req.arguments ?? {}))));
      },
    },
    {
      method: "POST",
      path: `${EPISODES_PATH}/:id/responses`,
      async handler(ctx) {
        const episode = await live(ctx.service, ctx.params.id!);
        const req = await body(ctx, RespondRequest, "response");
        const outcome = await episodeErrors(() => episode.respond(parseModelResponse(req.response)));
        ctx.sendJson(200, { episode: episode.id, reward: outcome.step.rewards.f1, step: outcome.step, calls: outcome.calls, parsed: outcome.parsed, status: episode.status, done: outcome.done });
      },
    },
    {
      method: "POST",
      path: `${EPISODES_PATH}/:id/answer`,
      async handler(ctx) {
        const episode = await live(ctx.service, ctx.params.id!);
        const req = await body(ctx, AnswerRequest, "answer");
        if (episode.ended) throw new HttpError(410, `episode "${episode.id}" has ended (${episode.status}); open a new episode`);
        const outcome = await episodeErrors(() => episode.answer(req.answer));
        if (outcome.result.isError) throw new HttpError(409, textOf(outcome.result));
        ctx.sendJson(200, { ...agentProgress(episode), reward: outcome.step?.rewards.f1 ?? null, step: outcome.step, done: true });
      },
    },
    {
      method: "DELETE",
      path: `${EPISODES_PATH}/:id`,
      async handler(ctx) {
        const episode = await live(ctx.service, ctx.params.id!);
        // In a shared store the end waits for the lease like a call: busy elsewhere is a 503 to retry.
        await episodeErrors(() => episode.end("closed"));
        ctx.sendJson(200, agentProgress(episode));
      },
    },
  ];
}
