// Who a request comes from, for the per-client limits (src/episode/fairness.ts holds the admission rule).
import { isIPv6 } from "node:net";

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
