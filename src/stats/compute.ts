import { UsageError, quote } from "../errors.js";
import { attribute, type Target, type TrafficAt } from "./attribute.js";

export type { RequestRecord } from "./record.js";
import type { RequestRecord } from "./record.js";

/** Counts, 5xx rate and latency of a set of requests. */
export interface Figures {
  requests: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface VersionStats extends Figures {
  version: string;
  /** Of the requests nginx sent to a version (answered or not). */
  share: number;
}

/** Requests that nginx sent to a version and that no version answered (503 when no way out answered, 502 of a preview, 504). */
export interface UnansweredStats extends Figures {
  /** Where nginx sent them: a live bucket, the canary's bucket, a preview, a forced version. */
  route: Target["route"];
  /** The version that route meant then, when known. */
  version: string | null;
  share: number;
}

/** Everything a window of the access log holds, each request in exactly one place. */
export interface StatsReport {
  versions: VersionStats[];
  unanswered: UnansweredStats[];
  /** Requests nginx answered without asking a version: static files, redirects, unknown names and versions (404). */
  nginx: Figures | null;
  /** Every logged request: the site as its users saw it. */
  site: Figures;
}

/** Nearest-rank percentile of an ascending array, in milliseconds. */
export function percentile(sortedSeconds: readonly number[], p: number): number {
  if (sortedSeconds.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedSeconds.length));
  return Math.round(sortedSeconds[rank - 1]! * 1000 * 10) / 10;
}

/**
 * Counts per status class and a tally of request times (0.1 ms steps ->
 * count): memory grows with the spread of times, never with the number of
 * requests. Percentiles are exact to 0.1 ms (nginx logs ms).
 */
export class Tally {
  requests = 0;
  readonly byClass = [0, 0, 0, 0, 0, 0];
  readonly times = new Map<number, number>();

  add(status: number, requestTime: number): void {
    this.requests++;
    const cls = Math.floor(status / 100);
    if (cls >= 0 && cls <= 5) this.byClass[cls]!++;
    const key = Math.round(requestTime * 10_000);
    this.times.set(key, (this.times.get(key) ?? 0) + 1);
  }

  merge(o: Tally): void {
    this.requests += o.requests;
    o.byClass.forEach((n, k) => (this.byClass[k]! += n));
    for (const [key, n] of o.times) this.times.set(key, (this.times.get(key) ?? 0) + n);
  }

  /** Milliseconds, nearest rank. */
  percentile(p: number): number {
    if (this.requests === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.requests));
    let seen = 0;
    for (const [key, n] of [...this.times.entries()].sort((a, b) => a[0] - b[0])) {
      seen += n;
      if (seen >= rank) return Math.round(key) / 10;
    }
    return 0;
  }

  figures(): Figures {
    const s5xx = this.byClass[5]!;
    return {
      requests: this.requests, s2xx: this.byClass[2]!, s3xx: this.byClass[3]!, s4xx: this.byClass[4]!, s5xx,
      errorRate: this.requests ? s5xx / this.requests : 0,
      p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99),
    };
  }
}

const SEP = "\u0000";
export const unansweredKey = (t: Target) => `${t.route}${SEP}${t.version ?? ""}`;
export function targetOfKey(key: string): Target {
  const [route, version] = key.split(SEP);
  return { route: route as Target["route"], version: version || null };
}

/** Tallies keyed by where each request belongs. */
export class Tallies {
  readonly versions = new Map<string, Tally>();
  readonly unanswered = new Map<string, Tally>();
  readonly nginx = new Tally();
  readonly site = new Tally();

  add(r: RequestRecord, traffic: TrafficAt | null): void {
    const a = attribute(r, traffic);
    const m = a.kind === "version" ? this.versions : a.kind === "unanswered" ? this.unanswered : null;
    const key = a.kind === "version" ? a.version : a.kind === "unanswered" ? unansweredKey(a.target) : "";
    if (m) {
      let t = m.get(key);
      if (!t) m.set(key, (t = new Tally()));
      t.add(r.status, r.requestTime);
    } else this.nginx.add(r.status, r.requestTime);
    this.site.add(r.status, r.requestTime);
  }

  merge(o: Tallies): void {
    for (const [src, dst] of [[o.versions, this.versions], [o.unanswered, this.unanswered]] as const) {
      for (const [k, t] of src) {
        let d = dst.get(k);
        if (!d) dst.set(k, (d = new Tally()));
        d.merge(t);
      }
    }
    this.nginx.merge(o.nginx);
    this.site.merge(o.site);
  }

  report(): StatsReport {
    const routed = [...this.versions.values(), ...this.unanswered.values()].reduce((n, t) => n + t.requests, 0);
    const share = (t: Tally) => (routed ? t.requests / routed : 0);
    const byRequests = (a: { requests: number }, b: { requests: number }) => b.requests - a.requests;
    return {
      versions: [...this.versions.entries()].filter(([, t]) => t.requests > 0).map(([version, t]) => ({ version, share: share(t), ...t.figures() })).sort(byRequests),
      unanswered: [...this.unanswered.entries()].filter(([, t]) => t.requests > 0).map(([k, t]) => ({ ...targetOfKey(k), share: share(t), ...t.figures() })).sort(byRequests),
      nginx: this.nginx.requests ? this.nginx.figures() : null,
      site: this.site.figures(),
    };
  }
}

/**
 * Figures of a window, fed one record at a time (a log streamed file by
 * file), memory bounded however many requests the window holds. `trafficAt`
 * says where the live site's buckets pointed at a time, so that a request no
 * version answered is counted for the side nginx chose (null: unknown, every
 * bucket counts as live's).
 */
export class StatsAccumulator {
  private readonly t = new Tallies();
  constructor(
    private readonly since: number,
    private readonly trafficAt: (time: number) => TrafficAt | null = () => null,
  ) {}

  add(r: RequestRecord): void {
    if (r.time < this.since) return;
    this.t.add(r, this.trafficAt(r.time));
  }

  /** Per-version figures of the requests a version answered, busiest first. */
  result(): VersionStats[] {
    return this.t.report().versions;
  }

  report(): StatsReport {
    return this.t.report();
  }

  /** The figures of several accumulators (hosts) together. */
  static sum(accs: readonly StatsAccumulator[]): StatsReport {
    const all = new Tallies();
    for (const a of accs) all.merge(a.t);
    return all.report();
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
