import type { TrafficAt } from "./attribute.js";
import { Tallies, Tally, targetOfKey, type RequestRecord, type StatsReport, type VersionStats } from "./compute.js";

export interface VersionSeries {
  /** "version": requests a version answered; "unanswered": requests nginx sent to `route` that no version answered. */
  kind: "version" | "unanswered";
  /** The version (for "unanswered", the one the route meant, or "" when unknown). */
  version: string;
  /** For "unanswered": live, canary, preview or forced. */
  route?: string;
  /** Start of each bucket, seconds since the epoch, oldest first. */
  t: number[];
  requests: number[];
  s5xx: number[];
  /** 5xx / requests per bucket (0 when a bucket has none). */
  errorRate: number[];
  /** ms; null for a bucket without requests. */
  p95: (number | null)[];
}

/** Every logged request per bucket: what the site's users saw. */
export interface SiteSeries {
  t: number[];
  requests: number[];
  s5xx: number[];
  /** null for a bucket without requests: a gap, not a 0%. */
  errorRate: (number | null)[];
}

/**
 * Requests in fixed time buckets (a minute for `stats --watch`, seconds for
 * the dashboard), keeping `keep` buckets, each request in one place: the
 * version that answered it, the side nginx sent it to when none did, or
 * nginx itself. Both the sliding-window table and the charts come from it.
 * Memory grows with keys x buckets x the spread of request times, not with
 * requests. Pure.
 */
export class TimeSeries {
  private readonly by = new Map<number, Tallies>();
  constructor(
    readonly bucketSec: number,
    readonly keep: number,
  ) {}

  private index(t: number): number {
    return Math.floor(t / this.bucketSec);
  }

  /** `traffic`: where the live site's buckets pointed when the request was made (null: unknown). */
  add(r: RequestRecord, traffic: TrafficAt | null = null): void {
    const i = this.index(r.time);
    let b = this.by.get(i);
    if (!b) this.by.set(i, (b = new Tallies()));
    b.add(r, traffic);
  }

  /** Forgets buckets older than the `keep` ending with the one holding `now`. */
  prune(now: number): void {
    const first = this.index(now) - this.keep + 1;
    for (const i of this.by.keys()) if (i < first) this.by.delete(i);
  }

  private indices(now: number): number[] {
    const last = this.index(now);
    return Array.from({ length: this.keep }, (_, k) => last - this.keep + 1 + k);
  }

  /** Every version's series, then every unanswered route's, over the last `keep` buckets up to `now`. */
  series(now: number): VersionSeries[] {
    const idx = this.indices(now);
    const t = idx.map((i) => i * this.bucketSec);
    const buckets = idx.map((i) => this.by.get(i));
    const keys = { version: new Set<string>(), unanswered: new Set<string>() };
    for (const b of buckets) {
      if (!b) continue;
      for (const k of b.versions.keys()) keys.version.add(k);
      for (const k of b.unanswered.keys()) keys.unanswered.add(k);
    }
    const one = (kind: "version" | "unanswered", key: string): VersionSeries => {
      const ts = buckets.map((b) => (kind === "version" ? b?.versions : b?.unanswered)?.get(key));
      const target = kind === "unanswered" ? targetOfKey(key) : null;
      return {
        kind,
        version: target ? (target.version ?? "") : key,
        ...(target ? { route: target.route } : {}),
        t,
        requests: ts.map((x) => x?.requests ?? 0),
        s5xx: ts.map((x) => x?.byClass[5] ?? 0),
        errorRate: ts.map((x) => (x && x.requests ? x.byClass[5]! / x.requests : 0)),
        p95: ts.map((x) => (x && x.requests ? x.percentile(95) : null)),
      };
    };
    return [...[...keys.version].map((k) => one("version", k)), ...[...keys.unanswered].map((k) => one("unanswered", k))];
  }

  /** The site as its users saw it: every logged request per bucket. */
  site(now: number): SiteSeries {
    const idx = this.indices(now);
    const ts: (Tally | undefined)[] = idx.map((i) => this.by.get(i)?.site);
    return {
      t: idx.map((i) => i * this.bucketSec),
      requests: ts.map((x) => x?.requests ?? 0),
      s5xx: ts.map((x) => x?.byClass[5] ?? 0),
      errorRate: ts.map((x) => (x && x.requests ? x.byClass[5]! / x.requests : null)),
    };
  }

  /** Everything `depl stats` shows, over the buckets since `since` (seconds). */
  report(since: number): StatsReport {
    const from = this.index(since);
    const sum = new Tallies();
    for (const [i, b] of this.by) if (i >= from) sum.merge(b);
    return sum.report();
  }

  /** The per-version figures of `depl stats` over the buckets since `since` (seconds). */
  stats(since: number): VersionStats[] {
    return this.report(since).versions;
  }
}
