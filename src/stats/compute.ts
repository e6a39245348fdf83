import { UsageError, quote } from "../errors.js";

/** One request from the access log, normalised. */
export interface RequestRecord {
  /** Seconds since the epoch, when nginx finished the request. */
  time: number;
  status: number;
  /** Seconds. */
  requestTime: number;
  /** The version that served it (X-Depl-Version), or null when none did (404, 503 from nginx). */
  version: string | null;
}

export interface VersionStats {
  version: string;
  requests: number;
  share: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Nearest-rank percentile of an ascending array, in milliseconds. */
export function percentile(sortedSeconds: readonly number[], p: number): number {
  if (sortedSeconds.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedSeconds.length));
  return Math.round(sortedSeconds[rank - 1]! * 1000 * 10) / 10;
}

interface VersionTally {
  requests: number;
  byClass: number[];
  /** request time in 0.1 ms steps -> count: memory grows with the spread of times, never with the number of requests. */
  times: Map<number, number>;
}

/**
 * Per-version figures, fed one record at a time (a log streamed file by file):
 * counts and a tally of request times, so that memory stays bounded however
 * many requests the window holds. Percentiles are exact to 0.1 ms (nginx logs ms).
 */
export class StatsAccumulator {
  private readonly by = new Map<string, VersionTally>();
  private total = 0;
  constructor(private readonly since: number) {}

  add(r: RequestRecord): void {
    if (r.time < this.since || r.version === null) return;
    this.total++;
    let t = this.by.get(r.version);
    if (!t) this.by.set(r.version, (t = { requests: 0, byClass: [0, 0, 0, 0, 0, 0], times: new Map() }));
    t.requests++;
    const cls = Math.floor(r.status / 100);
    if (cls >= 0 && cls <= 5) t.byClass[cls]!++;
    const key = Math.round(r.requestTime * 10_000);
    t.times.set(key, (t.times.get(key) ?? 0) + 1);
  }

  result(): VersionStats[] {
    return [...this.by.entries()]
      .map(([version, t]) => {
        const sorted = [...t.times.entries()].sort((a, b) => a[0] - b[0]);
        const at = (p: number) => {
          if (t.requests === 0) return 0;
          const rank = Math.max(1, Math.ceil((p / 100) * t.requests));
          let seen = 0;
          for (const [key, n] of sorted) {
            seen += n;
            if (seen >= rank) return Math.round(key) / 10;
          }
          return 0;
        };
        const s5xx = t.byClass[5]!;
        return {
          version,
          requests: t.requests,
          share: t.requests / this.total,
          s2xx: t.byClass[2]!,
          s3xx: t.byClass[3]!,
          s4xx: t.byClass[4]!,
          s5xx,
          errorRate: s5xx / t.requests,
          p50: at(50),
          p95: at(95),
          p99: at(99),
        };
      })
      .sort((a, b) => b.requests - a.requests);
  }
}

/** Per-version figures for the requests since `since` (seconds since epoch). Pure. */
export function computeStats(records: Iterable<RequestRecord>, since: number): VersionStats[] {
  const acc = new StatsAccumulator(since);
  for (const r of records) acc.add(r);
  return acc.result();
}

/** "15m", "2h", "1d", "30s" -> seconds. */
export function parseSince(s: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(s);
  if (!m) throw new UsageError(`invalid duration ${quote(s)}: expected a number followed by s, m, h or d (e.g. 15m)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}
