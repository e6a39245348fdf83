import type { RequestRecord, VersionStats } from "./compute.js";

interface Bucket {
  requests: number;
  byClass: number[];
  /** request time in 0.1 ms steps -> count (as StatsAccumulator keeps them). */
  times: Map<number, number>;
}

export interface VersionSeries {
  version: string;
  /** Start of each bucket, seconds since the epoch, oldest first. */
  t: number[];
  requests: number[];
  s5xx: number[];
  /** 5xx / requests per bucket (0 when a bucket has none). */
  errorRate: number[];
  /** ms; null for a bucket without requests. */
  p95: (number | null)[];
}

function percentileOf(times: Map<number, number>, total: number, p: number): number {
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [key, n] of [...times.entries()].sort((a, b) => a[0] - b[0])) {
    seen += n;
    if (seen >= rank) return Math.round(key) / 10;
  }
  return 0;
}

/**
 * Requests per version in fixed time buckets (a minute for `stats --watch`,
 * seconds for the dashboard), keeping `keep` buckets: both the sliding-window
 * table and the charts come from it. Memory grows with versions x buckets x
 * the spread of request times, not with requests. Pure.
 */
export class TimeSeries {
  private readonly by = new Map<string, Map<number, Bucket>>();
  constructor(
    readonly bucketSec: number,
    readonly keep: number,
  ) {}

  private index(t: number): number {
    return Math.floor(t / this.bucketSec);
  }

  add(r: RequestRecord): void {
    if (r.version === null) return;
    let m = this.by.get(r.version);
    if (!m) this.by.set(r.version, (m = new Map()));
    const i = this.index(r.time);
    let b = m.get(i);
    if (!b) m.set(i, (b = { requests: 0, byClass: [0, 0, 0, 0, 0, 0], times: new Map() }));
    b.requests++;
    const cls = Math.floor(r.status / 100);
    if (cls >= 0 && cls <= 5) b.byClass[cls]!++;
    const key = Math.round(r.requestTime * 10_000);
    b.times.set(key, (b.times.get(key) ?? 0) + 1);
  }

  /** Forgets buckets older than the `keep` ending with the one holding `now`. */
  prune(now: number): void {
    const first = this.index(now) - this.keep + 1;
    for (const [v, m] of this.by) {
      for (const i of m.keys()) if (i < first) m.delete(i);
      if (m.size === 0) this.by.delete(v);
    }
  }

  /** Every version's series over the last `keep` buckets up to `now`. */
  series(now: number): VersionSeries[] {
    const last = this.index(now);
    const idx = Array.from({ length: this.keep }, (_, k) => last - this.keep + 1 + k);
    return [...this.by.entries()].map(([version, m]) => {
      const bs = idx.map((i) => m.get(i));
      return {
        version,
        t: idx.map((i) => i * this.bucketSec),
        requests: bs.map((b) => b?.requests ?? 0),
        s5xx: bs.map((b) => b?.byClass[5] ?? 0),
        errorRate: bs.map((b) => (b && b.requests ? b.byClass[5]! / b.requests : 0)),
        p95: bs.map((b) => (b && b.requests ? percentileOf(b.times, b.requests, 95) : null)),
      };
    });
  }

  /** The figures of `depl stats` over the buckets since `since` (seconds). */
  stats(since: number): VersionStats[] {
    const from = this.index(since);
    const rows: Omit<VersionStats, "share">[] = [];
    let total = 0;
    for (const [version, m] of this.by) {
      const times = new Map<number, number>();
      const byClass = [0, 0, 0, 0, 0, 0];
      let requests = 0;
      for (const [i, b] of m) {
        if (i < from) continue;
        requests += b.requests;
        b.byClass.forEach((n, k) => (byClass[k]! += n));
        for (const [key, n] of b.times) times.set(key, (times.get(key) ?? 0) + n);
      }
      if (requests === 0) continue;
      total += requests;
      rows.push({
        version, requests, s2xx: byClass[2]!, s3xx: byClass[3]!, s4xx: byClass[4]!, s5xx: byClass[5]!, errorRate: byClass[5]! / requests,
        p50: percentileOf(times, requests, 50), p95: percentileOf(times, requests, 95), p99: percentileOf(times, requests, 99),
      });
    }
    return rows.map((r) => ({ ...r, share: r.requests / total })).sort((a, b) => b.requests - a.requests);
  }
}
