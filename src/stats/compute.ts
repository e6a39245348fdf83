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

/** Per-version figures for the requests since `since` (seconds since epoch). Pure. */
export function computeStats(records: Iterable<RequestRecord>, since: number): VersionStats[] {
  const by = new Map<string, RequestRecord[]>();
  let total = 0;
  for (const r of records) {
    if (r.time < since || r.version === null) continue;
    total++;
    const list = by.get(r.version) ?? [];
    list.push(r);
    by.set(r.version, list);
  }
  return [...by.entries()]
    .map(([version, rs]) => {
      const times = rs.map((r) => r.requestTime).sort((a, b) => a - b);
      const count = (lo: number) => rs.filter((r) => r.status >= lo && r.status < lo + 100).length;
      const s5xx = count(500);
      return {
        version,
        requests: rs.length,
        share: rs.length / total,
        s2xx: count(200),
        s3xx: count(300),
        s4xx: count(400),
        s5xx,
        errorRate: s5xx / rs.length,
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        p99: percentile(times, 99),
      };
    })
    .sort((a, b) => b.requests - a.requests);
}

/** "15m", "2h", "1d", "30s" -> seconds. */
export function parseSince(s: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(s);
  if (!m) throw new UsageError(`invalid duration ${quote(s)}: expected a number followed by s, m, h or d (e.g. 15m)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}
