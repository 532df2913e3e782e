// The final-state check: what an episode did to the world, judged against the changes a task expects.
import type { EpisodeScore, FinalState, StateChange, StateScore } from "../schema/index.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

const escape = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");
const unescape = (token: string): string => token.replace(/~1/g, "/").replace(/~0/g, "~");

/** The value at a JSON Pointer, or undefined when the path does not exist. */
export function valueAtPointer(state: unknown, pointer: string): unknown {
  let v: unknown = state;
  for (const token of pointer.split("/").slice(1).map(unescape)) {
    if (Array.isArray(v)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
      v = v[Number(token)];
    } else if (isObject(v)) {
      if (!Object.hasOwn(v, token)) return undefined;
      v = v[token];
    } else return undefined;
  }
  return v;
}

/** Structural equality of JSON values; object key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    // Counted with for-in rather than Object.keys: no arrays allocated on the hot path of every episode's end.
    let n = 0;
    for (const k in a) {
      if (!Object.hasOwn(b, k) || !jsonEqual(a[k], b[k])) return false;
      n++;
    }
    for (const _ in b) n--;
    return n === 0;
  }
  return false;
}

/**
 * The smallest changes that turn `before` into `after`, under `path`: objects and arrays are compared
 * member by member, so a changed field is one change and an appended record is one change.
 */
export function stateDiff(before: unknown, after: unknown, path = "", out: StateChange[] = []): StateChange[] {
  // Equal subtrees are skipped whole: most of a state is untouched, and comparing is cheaper than descending.
  if (jsonEqual(before, after)) return out;
  if (after === undefined) {
    out.push({ path, removed: true });
    return out;
  }
  const bothArrays = Array.isArray(before) && Array.isArray(after);
  const bothObjects = isObject(before) && isObject(after);
  if (!bothArrays && !bothObjects) {
    out.push({ path, value: after as Json });
    return out;
  }
  const keys = bothArrays
    ? Array.from({ length: Math.max((before as Json[]).length, (after as Json[]).length) }, (_, i) => String(i))
    : [...new Set([...Object.keys(before as object), ...Object.keys(after as object)])].sort();
  for (const k of keys) {
    const b = (before as Record<string, unknown>)[k];
    const a = (after as Record<string, unknown>)[k];
    stateDiff(b, a, `${path}/${escape(k)}`, out);
  }
  return out;
}

const under = (path: string, root: string): boolean => path === root || path.startsWith(`${root}/`);

/** Scores a final state against a task's expected one, both starting from the same initial state. */
export function scoreState(initial: unknown, final: unknown, expected: FinalState): StateScore {
  let made = 0;
  for (const c of expected.changes) {
    const v = valueAtPointer(final, c.path);
    if ("removed" in c ? v === undefined : jsonEqual(v, c.value)) made++;
  }
  let unexpected = 0;
  for (const root of expected.checked) {
    for (const d of stateDiff(valueAtPointer(initial, root), valueAtPointer(final, root), root)) {
      if (!expected.changes.some((c) => under(d.path, c.path))) unexpected++;
    }
  }
  const n = expected.changes.length;
  return {
    state_match: made === n && unexpected === 0 ? 1 : 0,
    changes_made: n > 0 ? made / n : 1,
    expected_changes: n,
    unexpected_changes: unexpected,
  };
}

/**
 * Derives a task's expected final state from a gold replay: the changes the plan made, checked under
 * every top-level part of the state it touched (so every other record there must stay as it was).
 */
export function deriveFinalState(initial: unknown, afterGold: unknown): FinalState {
  const changes = stateDiff(initial, afterGold);
  const checked = [...new Set(changes.map((c) => `/${c.path.split("/")[1]}`))].sort();
  return { checked, changes };
}

/** A rollout succeeds when it solved every sub-answer, its final answer is right and (tasks with a final state) the state matches. */
export const succeeded = (s: EpisodeScore): boolean => s.solve_rate === 1 && s.answer_correct === true && (s.state === undefined || s.state.state_match === 1);
