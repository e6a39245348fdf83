import type { Host } from "../host/host.js";

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
  intervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type HealthResult = { ok: true; attempts: number; ms: number } | { ok: false; reason: string; attempts: number; ms: number };

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls the version's health endpoint over its unix socket until one request
 * answers 200, then sends `concurrency` requests at once: all must answer 200.
 */
export async function waitHealthy(host: Host, o: HealthOptions): Promise<HealthResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const start = now();
  let attempts = 0;
  let last = "no answer yet";
  while (now() - start < o.timeoutMs) {
    attempts++;
    const stop = o.abort ? await o.abort() : null;
    if (stop) return { ok: false, reason: stop, attempts, ms: now() - start };
    const remaining = Math.max(500, o.timeoutMs - (now() - start));
    const one = await probe(host, o, Math.min(5000, remaining));
    if (one === null) {
      const round = await Promise.all(Array.from({ length: o.concurrency }, () => probe(host, o, Math.min(10_000, remaining))));
      const bad = round.filter((r) => r !== null);
      if (bad.length === 0) return { ok: true, attempts, ms: now() - start };
      last = `${bad.length} of ${o.concurrency} concurrent requests failed: ${bad[0]}`;
    } else {
      last = one;
    }
    await sleep(o.intervalMs ?? 250);
  }
  return { ok: false, reason: `not healthy within ${Math.round(o.timeoutMs / 1000)}s (${last})`, attempts, ms: now() - start };
}

/** null when healthy, else why not. */
async function probe(host: Host, o: HealthOptions, timeoutMs: number): Promise<string | null> {
  try {
    const r = await host.httpGetUnix(o.socketPath, o.path, { host: o.hostHeader, timeoutMs });
    return r.status === 200 ? null : `GET ${o.path} answered ${r.status}`;
  } catch (e) {
    return `GET ${o.path}: ${(e as Error).message.split("\n")[0]}`;
  }
}
