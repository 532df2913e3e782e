// Binding beyond loopback: refused without a token unless the user says --insecure, so a server is never open to a network by accident.
import { isIP } from "node:net";
import { UsageError, write, type Io } from "./io.ts";

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/**
 * Throws a UsageError for a non-loopback bind without a token; with `--insecure` it goes
 * ahead and says on stderr what that means.
 */
export function checkExposure(command: string, host: string, hasToken: boolean, insecure: boolean, io: Io, tokenFlag = "--token T (or set $ENVFORGE_TOKEN)"): void {
  if (isLoopback(host) || hasToken) return;
  if (!insecure) {
    throw new UsageError(
      `refusing to listen on ${host} without a token: anyone who can reach it could use this server and read its recordings. ` +
        `Add ${tokenFlag}, or --insecure to listen without one`,
    );
  }
  write(io.stderr, `envforge ${command}: listening on ${host} without a token (--insecure): anyone who can reach this address can use it`);
}
