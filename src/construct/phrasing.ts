// Natural-language assembly: fill templates, wrap embedded questions, join parallel questions.
import type { Rng } from "./rng.ts";

export function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}

export const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** "A", "A and B", "A, B and C" (or with an Oxford comma, seeded). */
export function joinList(items: readonly string[], rng: Rng, conj = "and"): string {
  if (items.length <= 1) return items[0] ?? "";
  if (items.length === 2) return `${items[0]} ${conj} ${items[1]}`;
  const head = items.slice(0, -1).join(", ");
  return `${head}${rng.chance(0.5) ? "," : ""} ${conj} ${items[items.length - 1]}`;
}

const WRAPPERS = [
  "Can you tell me {c}?",
  "Could you find out {c}?",
  "I'd like to know {c}.",
  "Please look up {c}.",
  "Do you know {c}?",
  "I need to know {c}.",
  "Help me figure out {c}.",
  "Quick question: {c}?",
  "Find out {c}, please.",
  "Tell me {c}.",
  "I'm trying to work out {c}. Can you check?",
  "Would you check {c} for me?",
] as const;

/** Either a direct question or an embedded one inside a wrapper, seeded. */
export function questionFrom(ask: readonly string[], clause: readonly string[], vars: Record<string, string>, rng: Rng): string {
  if (clause.length > 0 && (ask.length === 0 || rng.chance(0.45))) return upperFirst(fill(rng.pick(WRAPPERS), { c: fill(rng.pick(clause), vars) }));
  return upperFirst(fill(rng.pick(ask), vars));
}

/** Several embedded questions in one wrapper. */
export function wrapClauses(clauses: readonly string[], rng: Rng): string {
  return upperFirst(fill(rng.pick(WRAPPERS), { c: joinList(clauses, rng) }));
}

const SENTENCE_JOINS = [
  (qs: string[]) => qs.join(" "),
  (qs: string[]) => `${qs[0]} ${qs.slice(1).map((q) => `Also, ${lowerFirst(q)}`).join(" ")}`,
  (qs: string[]) => `${qs.length === 2 ? "Two" : qs.length === 3 ? "Three" : "Four"} things: ${qs.join(" ")}`,
  (qs: string[]) => qs.map((q, i) => `${i + 1}) ${q}`).join(" "),
  (qs: string[]) => `I have a few questions. ${qs.join(" ")}`,
];

function lowerFirst(s: string): string {
  // Keep proper names and "I" capitalized: only lower a leading common word.
  const m = /^(\w+)(.*)$/s.exec(s);
  if (!m) return s;
  const word = m[1]!;
  const common = /^(who|what|which|where|when|how|in|on|book|please|order|buy|reserve|get|i'd|can|could|tell|find|name|quick|do|help|would)$/i;
  return common.test(word) && word !== "I" ? word.toLowerCase() + m[2]! : s;
}

/** Several full sentences or questions as one message. */
export function joinSentences(sentences: string[], rng: Rng): string {
  return rng.pick(SENTENCE_JOINS)(sentences);
}

export const ORDINALS = ["first", "second", "third", "fourth"] as const;
