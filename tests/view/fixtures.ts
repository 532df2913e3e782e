// Viewer test fixtures: the shipped example environment and a variant, temp databases, and episodes written through the recorder as the server writes them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Recorder } from "../../src/store/index.ts";
import { EpisodeTracker, finalAnswerFound } from "../../src/score/index.ts";
import { ASSISTANT_META_KEY, Environment, RUN_META_KEY, type AssistantTurnMeta, type EpisodeScore, type EpisodeStatus, type RewardMode } from "../../src/schema/index.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const EXAMPLE_FILE = join(ROOT, "environments/examples/films-director-birth.json");

export const EXAMPLE: Environment = Environment.parse(JSON.parse(readFileSync(EXAMPLE_FILE, "utf8")));

/** The example under another id, scenario and complexity (mixed levels: the viewer shows the highest, 2), so scenario and complexity filters have something to tell apart. */
export const VARIANT: Environment = Environment.parse({
  ...JSON.parse(readFileSync(EXAMPLE_FILE, "utf8")),
  id: "example-films-variant",
  scenario: "single-hop",
  complexity: { functional_generalization: 2, parameter_expansion: 1, parameter_type_generalization: 0, toolset_extension: 2 },
});

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "envforge-view-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface PlannedCall {
  tool: string;
  arguments: Record<string, unknown>;
  output: string;
  isError?: boolean;
}

export interface PlannedEpisode {
  id: string;
  env: Environment;
  taskId: string;
  agent?: string;
  client?: string;
  /** Assistant turns, each a text and its calls; `unsent` adds a call the client could not send. */
  turns: { content: string | null; calls: PlannedCall[]; unsent?: { name: string; arguments: string; result: string } }[];
  /** Submitted answer; undefined leaves the episode running. */
  answer?: string | null;
  status?: Exclude<EpisodeStatus, "running">;
}

/**
 * Writes an episode the way the server does: each call with its assistant turn in `_meta`,
 * solved sub-answers tracked live in both modes, then the score in both modes at the end.
 */
export function recordEpisode(recorder: Recorder, plan: PlannedEpisode): void {
  const task = plan.env.tasks.find((t) => t.id === plan.taskId)!;
  const trackers: Record<RewardMode, EpisodeTracker> = { ftrl: new EpisodeTracker(task.unsolved_set, "ftrl"), strict: new EpisodeTracker(task.unsolved_set, "strict") };
  recorder.beginEpisode({ id: plan.id, envId: plan.env.id, taskId: task.id, transport: "http", needed: trackers.ftrl.needed });
  recorder.setClient(plan.id, { name: plan.client ?? "envforge-run", version: "0.1.0" });
  let seq = 0;
  plan.turns.forEach((turn, t) => {
    const toolCalls = turn.calls.map((c, k) => ({ id: `call_${t}_${k}`, type: "function" as const, function: { name: c.tool, arguments: JSON.stringify(c.arguments) } }));
    if (turn.unsent) toolCalls.push({ id: `call_${t}_x`, type: "function", function: { name: turn.unsent.name, arguments: turn.unsent.arguments } });
    const meta: AssistantTurnMeta = {
      turn: t,
      message: { role: "assistant", content: turn.content, tool_calls: toolCalls },
      ...(turn.unsent ? { local_results: { [`call_${t}_x`]: turn.unsent.result } } : {}),
    };
    turn.calls.forEach((c, k) => {
      const executed = { name: c.tool, arguments: c.arguments, output: c.output, is_error: c.isError ?? false };
      seq++;
      recorder.recordCall({
        episodeId: plan.id,
        seq,
        requestId: String(seq + 2),
        tool: c.tool,
        arguments: c.arguments,
        output: c.output,
        isError: c.isError ?? false,
        errorKind: c.isError ? "tool_error" : null,
        solvedFtrl: trackers.ftrl.record(executed),
        solvedStrict: trackers.strict.record(executed),
        startedAt: 1_700_000_000_000 + seq,
        latencyMs: 1.25 * seq,
        assistantMeta: { [ASSISTANT_META_KEY]: { ...meta, tool_call_id: `call_${t}_${k}` } },
      });
    });
  });
  if (plan.answer === undefined) return;
  const answer = plan.answer;
  const score = (mode: RewardMode): EpisodeScore => ({ ...trackers[mode].metrics(), mode, answer_correct: answer === null ? null : finalAnswerFound(answer, task.answer, mode) });
  const finalTurn: AssistantTurnMeta = { turn: plan.turns.length, message: { role: "assistant", content: answer } };
  recorder.endEpisode(plan.id, {
    status: plan.status ?? "submitted",
    finalAnswer: answer,
    finalMeta: {
      [ASSISTANT_META_KEY]: finalTurn,
      [RUN_META_KEY]: { agent: plan.agent ?? "oracle", rollout: plan.id, env: plan.env.id, task: task.id, k: 0, attempt: 1, end: "answer", turns: plan.turns.length + 1 },
    },
    score: { ftrl: score("ftrl"), strict: score("strict") },
  });
}

/** The gold plan of the example's first task, as an oracle plays it: one call per turn. */
export function oraclePlan(id: string, env: Environment = EXAMPLE, taskId = "director-birth-year"): PlannedEpisode {
  const task = env.tasks.find((t) => t.id === taskId)!;
  const films: Record<string, unknown> = { "Elena Vastrova": { title: "Crimson Harbor", director: "Elena Vastrova", year: 1994, genre: "drama" }, "Tomas Okonkwo-Reyes": { title: "Salt Meridian", director: "Tomas Okonkwo-Reyes", year: 2003, genre: "thriller" } };
  const people: Record<string, unknown> = { "1961": { name: "Elena Vastrova", born: 1961, birthplace: "Varnholm", occupation: "film director" }, "Port Calder": { name: "Tomas Okonkwo-Reyes", born: 1958, birthplace: "Port Calder", occupation: "film director" } };
  return {
    id,
    env,
    taskId,
    agent: "oracle",
    turns: task.gold_plan.map((step) => ({
      content: null,
      calls: [{ tool: step.tool, arguments: step.arguments, output: JSON.stringify(step.tool === "get_film" ? films[step.yields] : people[step.yields]) }],
    })),
    answer: task.answer,
  };
}
