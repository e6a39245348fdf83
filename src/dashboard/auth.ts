import { timingSafeEqual } from "node:crypto";
import { UsageError } from "../errors.js";

/** The secret in depl.yml's secrets (or secrets_file) that holds the dashboard's token. */
export const TOKEN_SECRET = "DASHBOARD_TOKEN";

export function isLoopback(bind: string): boolean {
  return bind === "127.0.0.1" || bind === "::1" || bind === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(bind);
}

/** Refuses a non-loopback address without a token: the page moves traffic. Pure. */
export function assertBindable(bind: string, token: string | null): void {
  if (!isLoopback(bind) && !token) throw new UsageError(`depl dashboard --bind ${bind}: listening beyond loopback needs a token: set ${TOKEN_SECRET} in depl.yml's secrets (or secrets_file)`);
}

/** "Bearer <token>" matches, compared in constant time. Pure. */
export function tokenMatches(header: string | undefined, token: string | null): boolean {
  if (!token || !header) return false;
  const m = /^Bearer (.+)$/.exec(header);
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A page bound to loopback answers only to loopback names: another site's
 * page in the same browser cannot reach it by rebinding a DNS name. Pure.
 */
export function hostAllowed(hostHeader: string | undefined, bind: string): boolean {
  if (!isLoopback(bind)) return true;
  if (!hostHeader) return false;
  const name = hostHeader.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name) || name.endsWith(".localhost");
}
