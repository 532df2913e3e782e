// Who may open one more session or episode when the server is full: per-client limits and fair reclaiming of idle ones.
import { plural } from "../schema/index.ts";

export interface FairnessLimits {
  /** Open sessions (or episodes) in all, whoever holds them. */
  maxSessions: number;
  /** Open sessions one client may hold. */
  maxPerClient: number;
  /** How long a session must have been idle before a client with fewer sessions may take its place. */
  reclaimIdleMs: number;
}

/** What is limited, in the words of a refusal: MCP sessions, or episodes opened by id (REST, ORS, 2026-07-28 MCP). */
export interface Limited {
  noun: string;
  /** How a client frees one. */
  end: string;
}
export const SESSIONS: Limited = { noun: "session", end: "end one (HTTP DELETE)" };
export const EPISODES: Limited = { noun: "episode", end: "end one (REST DELETE /v1/episodes/ID, ORS /delete, or its answer)" };

/** What the admission decision needs to know of an open session. */
export interface Holder {
  client: string;
  /** performance.now() of its last request. */
  lastActive: number;
  /** Requests being answered now: such a session is never reclaimed. */
  inflight: number;
}

export type Admission<H extends Holder> =
  | { type: "admit" }
  /** Admit once this session (the largest holder's longest idle one) has been ended. */
  | { type: "reclaim"; session: H }
  | { type: "refuse"; status: 429 | 503; message: string };

/**
 * Whether `client` may open one more session. Under its own limit and with room, yes. When the
 * server is full, a client holding fewer sessions than the largest holder takes the place of that
 * holder's longest-idle session (idle at least `reclaimIdleMs`): one client that opens every
 * session and leaves them idle no longer locks everyone else out until they time out, while a
 * client alone may still use the whole server. Otherwise the answer is 503 (full) or 429 (this
 * client is at its own limit).
 */
export function admit<H extends Holder>(sessions: Iterable<H>, client: string, limits: FairnessLimits, now: number, limited: Limited = SESSIONS): Admission<H> {
  const open = [...sessions];
  const counts = new Map<string, number>();
  for (const h of open) counts.set(h.client, (counts.get(h.client) ?? 0) + 1);
  const mine = counts.get(client) ?? 0;
  const full: Admission<H> = { type: "refuse", status: 503, message: `Service Unavailable: ${plural(limits.maxSessions, limited.noun)} ${limits.maxSessions === 1 ? "is" : "are"} open, the most this server allows; ${limited.end} or retry later` };
  if (mine >= limits.maxPerClient) {
    // A per-client limit as large as the server's is no limit of its own: the server being full is the reason then.
    if (limits.maxPerClient >= limits.maxSessions) return full;
    return { type: "refuse", status: 429, message: `Too Many Requests: this client (${client}) has ${plural(mine, limited.noun)} open, the most one client may hold; ${limited.end} or retry later` };
  }
  if (open.length < limits.maxSessions) return { type: "admit" };
  let largest = 0;
  for (const n of counts.values()) largest = Math.max(largest, n);
  // Taking a session from a holder with only one more than us would just swap who is short.
  if (largest <= mine + 1) return full;
  let victim: H | undefined;
  for (const h of open) {
    if (counts.get(h.client) !== largest || h.inflight > 0 || now - h.lastActive < limits.reclaimIdleMs) continue;
    if (!victim || h.lastActive < victim.lastActive) victim = h;
  }
  return victim ? { type: "reclaim", session: victim } : full;
}
