// The LLM build's report in words: per stage how often it ran and how often its output was taken, the
// gate's verdicts, requests, cache hits and tokens; and a dry run's prompts as they would be sent.
import type { DryRunPrompt, LlmReport } from "./build.ts";
import { STAGE_NAMES } from "./stage.ts";
import { plural } from "../../schema/index.ts";

const counts = (c: Record<string, number>): string =>
  Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ") || "none";

export function formatLlmReport(r: LlmReport): string {
  const rows = STAGE_NAMES.map((name) => {
    const s = r.stages[name];
    const rate = s.acceptance === null ? "-" : `${(s.acceptance * 100).toFixed(1)}%`;
    const replies = s.mode === "llm" ? `${plural(s.replies, "reply", "replies")} (invalid: ${counts(s.invalid)}), ${s.requests} sent, ${s.cached} cached, ${s.prompt_tokens}+${s.completion_tokens} tokens` : "procedural";
    return `  ${name.padEnd(9)} ${s.mode.padEnd(10)} ran ${String(s.runs).padStart(3)}, accepted ${String(s.accepted).padStart(3)} (${rate}); ${replies}; rejected: ${counts(s.rejected)}`;
  });
  const g = r.gate;
  return [
    `LLM stages: model ${r.model}, source ${r.source}; ${plural(r.requests, "request")} sent, ${plural(r.cached, "reply", "replies")} from the cache, ${r.prompt_tokens} prompt + ${r.completion_tokens} completion tokens`,
    ...rows,
    `  gate: ${plural(g.candidates, "candidate")}, ${g.passed} passed${g.candidates > 0 ? ` (${((g.passed / g.candidates) * 100).toFixed(1)}%)` : ""}; rejected: ${counts(g.rejected)}`,
    ...r.unbuilt.map((u) => `  not built: ${u.id} (${u.reasons.join(", ") || "no candidate"})`),
  ].join("\n");
}

export function formatDryRun(prompts: readonly DryRunPrompt[], r: LlmReport): string {
  const blocks = prompts.map((p) =>
    [
      `=== ${p.env}: stage ${p.stage} (prompts ${p.prompt}, model ${r.model}, ${p.messages.reduce((n, m) => n + m.content.length, 0)} characters) ===`,
      ...p.messages.map((m) => `--- ${m.role} ---\n${m.content}`),
    ].join("\n"),
  );
  return [...blocks, `dry run: ${prompts.length} prompt(s) would be sent first; ${r.complete_from_cache} environment(s) complete from the cache; nothing was sent or written`].join("\n\n");
}
