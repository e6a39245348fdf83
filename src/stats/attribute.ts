import type { RequestRecord } from "./record.js";

// Who a logged request belongs to. nginx logs the version that answered
// (X-Depl-Version) and, for a request no version answered, only where it
// sent it: the route and, on the live site, the bucket. Which version a
// bucket meant is in the traffic links at that time: `depl canary V N%`
// points buckets 00 to N-1 at the canary, every other bucket at live.

/** What the live site's buckets pointed at, at one time. */
export interface TrafficAt {
  live: string | null;
  canary: { version: string; percent: number } | null;
}

/** Where nginx sent a request. */
export interface Target {
  route: "live" | "canary" | "preview" | "forced";
  /** The version that route meant, when known. */
  version: string | null;
}

export type Attribution =
  | { kind: "version"; version: string }
  | { kind: "unanswered"; target: Target }
  /** nginx answered without asking a version: static files, redirects, unknown names and versions. */
  | { kind: "nginx" };

const BUCKET = /^[0-9]{2}$/;

/** Is this bucket ("00" to "99") one of the canary's (00 to percent-1)? Pure. */
export function isCanaryBucket(bucket: string | null | undefined, canaryPercent: number | null | undefined): boolean {
  return typeof bucket === "string" && BUCKET.test(bucket) && typeof canaryPercent === "number" && Number(bucket) < canaryPercent;
}

/** The side nginx chose for a request: its route, and on the live site its bucket's side then. null for routes that ask no version. Pure. */
export function targetOf(r: Pick<RequestRecord, "route" | "bucket" | "requested">, traffic: TrafficAt | null): Target | null {
  switch (r.route) {
    case "live":
      if (traffic?.canary && isCanaryBucket(r.bucket, traffic.canary.percent)) return { route: "canary", version: traffic.canary.version };
      return { route: "live", version: traffic?.live ?? null };
    case "forced":
    case "preview":
      return { route: r.route, version: r.requested || null };
    default:
      return null;
  }
}

/**
 * A request answered by a version is that version's. One that no version
 * answered, but that nginx tried to send to one (it has upstream tries: 502
 * for a refused connection, 504 for a timeout), belongs to the side nginx
 * chose. The rest nginx answered itself. Pure.
 */
export function attribute(r: RequestRecord, traffic: TrafficAt | null): Attribution {
  if (r.version !== null) return { kind: "version", version: r.version };
  const target = targetOf(r, traffic);
  if (!target || (r.upstream !== undefined && r.upstream.length === 0)) return { kind: "nginx" };
  return { kind: "unanswered", target };
}

/**
 * Did the first try fail, the one at the bucket's own version (a bucket's
 * upstream group tries it first, then live, then previous)? Such a request
 * may still have been answered, by the way out. Pure.
 */
export function firstTryFailed(r: Pick<RequestRecord, "upstream">): boolean {
  const first = r.upstream?.[0];
  return first !== undefined && first >= 500;
}
