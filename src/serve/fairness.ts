// Who may open a session when the server is full: per-client limits and fair reclaiming of idle sessions.
import { isIPv6 } from "node:net";
import { plural } from "../schema/index.ts";

/**
 * The client a request comes from: its remote address. Not the bearer token (one `--token` is shared
 * by everyone who has it) and not a header (anyone can send any value). IPv4-mapped IPv6 addresses
 * are folded to IPv4, and IPv6 addresses to their /64, since one host commonly holds a whole /64.
 * Local processes each connecting from 127.0.0.1 are one client; behind a proxy, so is everyone.
 */
export function clientOf(remoteAddress: string | undefined): string {
  if (!remoteAddress) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  if (!isIPv6(remoteAddress)) return remoteAddress;
  const [head = "", tail = ""] = remoteAddress.toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = remoteAddress.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

export interface FairnessLimits {
  /** Open sessions in all, whoever holds them. */
  maxSessions: number;
  /** Open sessions one client may hold. */
  maxPerClient: number;
  /** How long a session must have been idle before a client with fewer sessions may take its place. */
  reclaimIdleMs: number;
}

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
export function admit<H extends Holder>(sessions: Iterable<H>, client: string, limits: FairnessLimits, now: number): Admission<H> {
  const open = [...sessions];
  const counts = new Map<string, number>();
  for (const h of open) counts.set(h.client, (counts.get(h.client) ?? 0) + 1);
  const mine = counts.get(client) ?? 0;
  const full: Admission<H> = { type: "refuse", status: 503, message: `Service Unavailable: ${plural(limits.maxSessions, "session")} ${limits.maxSessions === 1 ? "is" : "are"} open, the most this server allows; end one (HTTP DELETE) or retry later` };
  if (mine >= limits.maxPerClient) {
    // A per-client limit as large as the server's is no limit of its own: the server being full is the reason then.
    if (limits.maxPerClient >= limits.maxSessions) return full;
    return { type: "refuse", status: 429, message: `Too Many Requests: this client (${client}) has ${mine} sessions open, the most one client may hold; end one (HTTP DELETE) or retry later` };
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
