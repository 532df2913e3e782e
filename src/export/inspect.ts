// Episodes as an Inspect AI eval log (`.json`, log format version 2): one sample per episode, GRPO groups as epochs, the two reward modes as two scorers.
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { EpisodeScore, RewardMode } from "../schema/index.ts";
import { argumentsObject } from "./atif.ts";
import type { ExportStats } from "./rows.ts";
import { scoreOf, type Transcript } from "./transcript.ts";

const SCORERS: Record<RewardMode, string> = { ftrl: "envforge_ftrl", strict: "envforge_strict" };

type InspectMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; tool_calls?: { id: string; function: string; arguments: Record<string, unknown>; type: "function"; parse_error?: string }[]; model?: string }
  | { role: "tool"; content: string; tool_call_id: string; function: string; error?: { type: "unknown"; message: string } };

/** The sample of one episode; `epoch` counts the rollouts of its group (1-based). */
export function inspectSample(t: Transcript, id: string, epoch: number): Record<string, unknown> {
  const messages: InspectMessage[] = [{ role: "user", content: t.task.question }];
  t.turns.forEach((turn) => {
    const calls = turn.meta.message.tool_calls ?? [];
    messages.push({
      role: "assistant",
      content: turn.meta.message.content ?? "",
      tool_calls: calls.map((tc) => {
        const { arguments: args, raw } = argumentsObject(tc.function.arguments);
        return { id: tc.id, function: tc.function.name, arguments: args, type: "function", ...(raw !== undefined ? { parse_error: `arguments are not a JSON object: ${raw}` } : {}) };
      }),
    });
    turn.toolMessages.forEach((m, i) => {
      if (m.role !== "tool") return;
      const error = turn.executed[i]?.is_error === true;
      messages.push({ role: "tool", content: m.content, tool_call_id: m.tool_call_id, function: calls[i]?.function.name ?? "", ...(error ? { error: { type: "unknown", message: m.content } } : {}) });
    });
  });
  const answer = t.final?.message.content ?? t.episode.finalAnswer ?? "";
  if (t.final) messages.push({ role: "assistant", content: answer });
  const scores: Record<string, unknown> = {};
  for (const mode of ["ftrl", "strict"] as const) {
    const s: EpisodeScore | null = scoreOf(t.episode, mode);
    if (s) scores[SCORERS[mode]] = { value: s.solve_f1, answer, explanation: `solved ${s.solved} of ${s.needed} sub-answers in ${s.calls} calls; answer ${s.answer_correct === null ? "not given" : s.answer_correct ? "correct" : "wrong"}`, metadata: s };
  }
  return {
    id,
    epoch,
    input: t.task.question,
    target: t.task.answer,
    messages,
    output: { model: t.agent, choices: [{ message: { role: "assistant", content: answer, source: "generate" }, stop_reason: t.final ? "stop" : "unknown" }], completion: answer },
    scores,
    metadata: { episode: t.episode.id, env: t.env.id, task: t.task.id, agent: t.agent, status: t.episode.status, ...(t.run ? { k: t.run.k, attempt: t.run.attempt } : {}) },
  };
}

/**
 * Streams the eval log: samples are written as they are read, then the spec, results and
 * stats (key order does not matter to the reader). A sample is one GRPO group, `env/task/agent`
 * (ids never contain `/`); its epochs are the group's rollouts. `created` is the newest
 * episode's start, so the same database gives the same bytes.
 */
export async function writeInspectLog(selected: Iterable<Transcript>, file: string, stats: ExportStats): Promise<void> {
  const stream = createWriteStream(file, { encoding: "utf8" });
  const put = async (text: string): Promise<void> => {
    if (!stream.write(text)) await once(stream, "drain");
  };
  const groups = new Map<string, number>();
  const agents = new Set<string>();
  const sums: Record<RewardMode, { n: number; total: number }> = { ftrl: { n: 0, total: 0 }, strict: { n: 0, total: 0 } };
  let first = true;
  let latest = 0;
  try {
    await put('{"version":2,"status":"success","samples":[');
    for (const t of selected) {
      agents.add(t.agent);
      latest = Math.max(latest, t.episode.startedAt);
      const id = `${t.env.id}/${t.task.id}/${t.agent}`;
      const epoch = (groups.get(id) ?? 0) + 1;
      groups.set(id, epoch);
      for (const mode of ["ftrl", "strict"] as const) {
        const s = scoreOf(t.episode, mode);
        if (s) (sums[mode].n++, (sums[mode].total += s.solve_f1));
      }
      await put(`${first ? "" : ","}${JSON.stringify(inspectSample(t, id, epoch))}`);
      first = false;
      stats.exported++;
      stats.rows++;
    }
    const created = new Date(latest).toISOString();
    const epochs = Math.max(1, ...groups.values());
    const model = agents.size === 1 ? [...agents][0]! : "envforge/mixed";
    const eval_ = {
      created,
      task: "envforge",
      task_id: "envforge",
      dataset: { name: "envforge", samples: groups.size },
      model,
      config: { epochs },
      metadata: { agents: [...agents].sort() },
    };
    const results = {
      total_samples: stats.rows,
      completed_samples: stats.rows,
      scores: (["ftrl", "strict"] as const).map((mode) => ({
        name: SCORERS[mode],
        scorer: SCORERS[mode],
        scored_samples: sums[mode].n,
        metrics: { mean: { name: "mean", value: sums[mode].n > 0 ? sums[mode].total / sums[mode].n : 0 } },
      })),
    };
    await put(`],"eval":${JSON.stringify(eval_)},"plan":{"name":"plan","steps":[],"config":{}},"results":${JSON.stringify(results)},"stats":{"started_at":"${created}","completed_at":"${created}","model_usage":{}}}\n`);
  } finally {
    stream.end();
    await once(stream, "close");
  }
}
