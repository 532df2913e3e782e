// The reward API for trainers that run their own rollouts: POST /v1/reward scores one response, GET /v1/episodes/:id returns a stored score.
import { z } from "zod";
import { episodeRecords, type Records } from "../store/index.ts";
import { formatCallError } from "../runtime/index.ts";
import { EpisodeTracker, failingArguments, parseOpenAIMessage, parseResponse, scoreState, scoreStep } from "../score/index.ts";
import { RewardMode, UnsolvedSet, type ParsedResponse, type StateScore, type StepScore, type StepState, type Task } from "../schema/index.ts";
import { HttpError, type Route } from "./http.ts";
import { LookupError, notAnObject, type EnvironmentRegistry } from "../episode/index.ts";

export const REWARD_PATH = "/v1/reward";
export const EPISODE_SCORE_PATH = "/v1/episodes/:id";

const OpenAIToolCall = z.looseObject({
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.looseObject({ name: z.string(), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]) }),
});

/** One model response: raw text (Hermes/Qwen or Llama 3.1 calls) or an OpenAI assistant message. */
export const ModelResponse = z.union([
  z.string(),
  z.looseObject({ content: z.string().nullable().optional(), tool_calls: z.array(OpenAIToolCall).nullable().optional() }),
]);
export type ModelResponse = z.infer<typeof ModelResponse>;

/** A model response parsed with the score layer's parsers. */
export const parseModelResponse = (response: ModelResponse): ParsedResponse =>
  typeof response === "string" ? parseResponse(response) : parseOpenAIMessage(response as Parameters<typeof parseOpenAIMessage>[0]);

/** The body of POST /v1/reward. */
export const RewardRequest = z.strictObject({
  env: z.string().min(1).optional(),
  task: z.string().min(1).optional(),
  /** The training state; defaults to the task's full unsolved set and solve rate 0. */
  state: z.strictObject({ unsolved_set: UnsolvedSet, solve_rate: z.number().min(0).max(1) }).optional(),
  /** A recorded episode whose current state (what its recorded calls left unsolved) is the state. */
  episode: z.string().min(1).optional(),
  /** Raw model text (Hermes/Qwen or Llama 3.1 calls), or an OpenAI assistant message. */
  response: ModelResponse,
  mode: RewardMode.optional(),
});
export type RewardRequest = z.infer<typeof RewardRequest>;

export interface ExecutedToolCall {
  name: string;
  arguments: Record<string, unknown>;
  output: string;
  is_error: boolean;
}

export interface RewardResult {
  env: string;
  task: string;
  episode: string | null;
  /** The state the response was scored in. */
  state: { unsolved_set: UnsolvedSet; solve_rate: number };
  /** What the parser read from the response. */
  parsed: ParsedResponse;
  /** Each parsed call as executed in a fresh sandbox episode, in order. */
  calls: ExecutedToolCall[];
  /** `rewards.f1` is the default training reward; the other variants and the deciding rule come with it. */
  score: StepScore;
  /**
   * For a task that declares a final state: the state check of the world the response leaves, from the
   * initial state (or, with `episode`, after replaying that episode's recorded calls) plus the response's
   * calls. Beside the reward, never in it; null for tasks without a final state.
   */
  final_state: StateScore | null;
}

/** The recorded episode's state: its task's unsolved set less what its recorded calls solved, replayed in `mode`. */
function episodeState(records: Records, episodeId: string, task: Task, mode: RewardMode): StepState {
  const tracker = new EpisodeTracker(task.unsolved_set, mode);
  for (const call of records.listCalls(episodeId)) tracker.record({ name: call.tool, arguments: call.arguments, output: call.output, is_error: call.isError });
  return { unsolved_set: tracker.pending(), solve_rate: tracker.metrics().solve_rate, answer: task.answer };
}

/**
 * Scores one response. Its tool calls run in a fresh sandbox episode of the environment, so
 * every call sees the environment's initial state (plus the effects of earlier calls in the
 * same response), never a recorded episode's state: a stateful tool can answer differently
 * here than it did, or would, mid-episode.
 */
export async function computeReward(registry: EnvironmentRegistry, records: Records, body: unknown): Promise<RewardResult> {
  const parsedBody = RewardRequest.safeParse(body);
  if (!parsedBody.success) throw new HttpError(400, `invalid reward request: ${z.prettifyError(parsedBody.error)}`);
  const request = parsedBody.data;
  const mode = request.mode ?? "ftrl";
  let envId = request.env;
  let taskId = request.task;
  if (request.episode !== undefined) {
    if (request.state !== undefined) throw new HttpError(400, "give either state or episode, not both");
    const row = records.getEpisode(request.episode);
    if (!row) throw new HttpError(404, `no episode "${request.episode}" in the database`);
    if (row.kind !== "episode" || row.envId === null || row.taskId === null) throw new HttpError(400, `episode "${request.episode}" is a ${row.kind} session, not an episode of a task`);
    if ((envId !== undefined && envId !== row.envId) || (taskId !== undefined && taskId !== row.taskId)) {
      throw new HttpError(400, `episode "${request.episode}" is of ${row.envId}/${row.taskId}, not ${envId ?? row.envId}/${taskId ?? row.taskId}`);
    }
    envId = row.envId;
    taskId = row.taskId;
  }
  if (envId === undefined) throw new HttpError(400, "env is required (or an episode to take it from)");
  let resolved;
  try {
    resolved = registry.resolve(envId, taskId);
  } catch (err) {
    if (err instanceof LookupError) throw new HttpError(err.status, err.message);
    throw err;
  }
  const { entry, task } = resolved;
  const state: StepState =
    request.episode !== undefined
      ? episodeState(records, request.episode, task, mode)
      : { unsolved_set: request.state?.unsolved_set ?? task.unsolved_set, solve_rate: request.state?.solve_rate ?? 0, answer: task.answer };

  const parsed = parseModelResponse(request.response);
  const calls: ExecutedToolCall[] = [];
  let finalState: StateScore | null = null;
  if (parsed.tool_calls.length > 0 || task.final_state) {
    const sandbox = (await registry.compile(entry.env.id)).openEpisode();
    try {
      // The recorded calls only rebuild the world for the state check; the reward's pending set comes from episodeState.
      if (task.final_state && request.episode !== undefined) for (const call of records.listCalls(request.episode)) await sandbox.call(call.tool, call.arguments);
      for (const call of parsed.tool_calls) {
        // A call the reference keeps only to fail (arguments "[1]") fails, as when its codes are run.
        const text = failingArguments(call);
        const result = text === undefined ? await sandbox.call(call.name, call.arguments) : notAnObject(text);
        calls.push({ name: call.name, arguments: call.arguments, output: result.ok ? result.text : formatCallError(call.name, result.error), is_error: !result.ok });
      }
      if (task.final_state) finalState = scoreState(entry.env.initial_state, await sandbox.state(), task.final_state);
    } finally {
      sandbox.close();
    }
  }
  const score = scoreStep(state, parsed, calls.map((c) => c.output), { mode, errors: calls.map((c) => c.is_error) });
  return { env: entry.env.id, task: task.id, episode: request.episode ?? null, state: { unsolved_set: state.unsolved_set, solve_rate: state.solve_rate }, parsed, calls, score, final_state: finalState };
}

/** An episode's stored record and score, or a 404. */
export function episodeScore(records: Records, id: string) {
  const row = records.getEpisode(id);
  if (!row) throw new HttpError(404, `no episode "${id}" in the database`);
  return {
    id: row.id,
    kind: row.kind,
    env: row.envId,
    task: row.taskId,
    status: row.status,
    calls: row.callCount,
    needed: row.needed,
    solved: { ftrl: row.solvedFtrl, strict: row.solvedStrict },
    final_answer: row.finalAnswer,
    /** Null while the episode runs (or for sessions that are not scored). */
    score: row.score,
  };
}

/**
 * The routes, to mount on `startHttpServer`. They are the control plane: the reward API
 * echoes a task's sub-answers and shows any episode's score, so it never answers the agent.
 */
export function rewardRoutes(): Route[] {
  const routes: Route[] = [
    {
      method: "POST",
      path: REWARD_PATH,
      async handler(ctx) {
        const type = (ctx.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        if (type !== "application/json") throw new HttpError(415, "Content-Type must be application/json");
        const body = await ctx.readJson();
        const episode = (body as { episode?: unknown } | null)?.episode;
        const { records, close } = await episodeRecords(ctx.recorder, typeof episode === "string" ? [episode] : []);
        try {
          ctx.sendJson(200, await computeReward(ctx.registry, records, body));
        } finally {
          close();
        }
      },
    },
    // Other methods get a clear answer here rather than falling through to routes mounted after these (the viewer).
    {
      method: "*",
      path: REWARD_PATH,
      handler: () => {
        throw new HttpError(405, `use POST ${REWARD_PATH}`);
      },
    },
    {
      method: "GET",
      path: EPISODE_SCORE_PATH,
      async handler(ctx) {
        const { records, close } = await episodeRecords(ctx.recorder, [ctx.params.id!]);
        try {
          ctx.sendJson(200, episodeScore(records, ctx.params.id!));
        } finally {
          close();
        }
      },
    },
  ];
  return routes.map((r) => ({ ...r, plane: "control" as const }));
}
