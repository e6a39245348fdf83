import type { Host } from "../host/host.js";
import { HEALTH_PROBE_MS, HEALTH_REQUEST_MS, HEALTH_SAME_FAILURE_MS } from "../timeouts.js";

export interface HealthOptions {
  socketPath: string;
  path: string;
  /** Host header the app expects (the base domain). */
  hostHeader: string;
  timeoutMs: number;
  /** Concurrent requests in the final round: a version that cannot take load must not pass. */
  concurrency: number;
  /** Ends the wait early, e.g. when supervisord reports the program FATAL. */
  abort?: () => Promise<string | null>;
  /**
   * Gives up before timeoutMs once the app has answered with the same HTTP
   * failure (status and body) for this long: an app that answers 500 on every
   * try will not heal by waiting. Failures to connect (socket not there yet,
   * refused while starting) never end the wait early. Default 5 s.
   */
  stableFailureMs?: number;
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type HealthResult = { ok: true; attempts: number; ms: number } | { ok: false; reason: string; attempts: number; ms: number };

/** Why one probe failed: an HTTP answer other than 200, or no answer at all. */
type Failure = { kind: "http"; status: number; body: string } | { kind: "io"; message: string };

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The first lines of a response body, for an error message. Pure. */
export function bodyHead(body: string, lines = 5, chars = 500): string {
  const head = body.replace(/\r\n/g, "\n").trimEnd().split("\n").slice(0, lines).join("\n");
  return head.length > chars ? `${head.slice(0, chars)}...` : head;
}

function describe(path: string, f: Failure): string {
  if (f.kind === "io") return `GET ${path}: ${f.message}`;
  const head = bodyHead(f.body);
  return `GET ${path} answered ${f.status}${head ? `:\n${head}` : ""}`;
}

/**
 * Polls the version's health endpoint over its unix socket until one request
 * answers 200, then sends `concurrency` requests at once: all must answer 200.
 */
export async function waitHealthy(host: Host, o: HealthOptions): Promise<HealthResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const stableMs = o.stableFailureMs ?? HEALTH_SAME_FAILURE_MS;
  const start = now();
  let attempts = 0;
  let last = "no answer yet";
  // The same HTTP failure seen since `since`, if the latest probes all gave it.
  let same: { key: string; since: number; count: number } | null = null;
  while (now() - start < o.timeoutMs) {
    attempts++;
    const stop = o.abort ? await o.abort() : null;
    if (stop) return { ok: false, reason: stop, attempts, ms: now() - start };
    const remaining = Math.max(500, o.timeoutMs - (now() - start));
    const at = now();
    const one = await probe(host, o, Math.min(HEALTH_PROBE_MS, remaining));
    if (one === null) {
      same = null;
      const round = await Promise.all(Array.from({ length: o.concurrency }, () => probe(host, o, Math.min(HEALTH_REQUEST_MS, remaining))));
      const bad = round.filter((r): r is Failure => r !== null);
      if (bad.length === 0) return { ok: true, attempts, ms: now() - start };
      last = `${bad.length} of ${o.concurrency} concurrent requests failed: ${describe(o.path, bad[0]!)}`;
    } else {
      last = describe(o.path, one);
      if (one.kind === "http") {
        const key = `${one.status}\n${one.body}`;
        if (same && same.key === key) same.count++;
        else same = { key, since: at, count: 1 };
        if (same.count >= 3 && now() - same.since >= stableMs) {
          const secs = Math.round((now() - same.since) / 1000);
          return { ok: false, reason: `answered the same failure ${same.count} times in ${secs}s: ${last}`, attempts, ms: now() - start };
        }
      } else {
        same = null;
      }
    }
    await sleep(o.intervalMs ?? 250);
  }
  return { ok: false, reason: `not healthy within ${Math.round(o.timeoutMs / 1000)}s (${last})`, attempts, ms: now() - start };
}

/**
 * One request, for a version already load-checked at install (promote,
 * rollback, canary): it answers 200 now, or the reason why not.
 */
export async function checkHealthOnce(host: Host, o: Pick<HealthOptions, "socketPath" | "path" | "hostHeader" | "timeoutMs">): Promise<{ ok: true } | { ok: false; reason: string }> {
  const f = await probe(host, { ...o, concurrency: 1 }, o.timeoutMs);
  return f === null ? { ok: true } : { ok: false, reason: describe(o.path, f) };
}

/** null when healthy, else why not. */
async function probe(host: Host, o: HealthOptions, timeoutMs: number): Promise<Failure | null> {
  try {
    const r = await host.httpGetUnix(o.socketPath, o.path, { host: o.hostHeader, timeoutMs });
    return r.status === 200 ? null : { kind: "http", status: r.status, body: r.body };
  } catch (e) {
    return { kind: "io", message: (e as Error).message.split("\n")[0]! };
  }
}
