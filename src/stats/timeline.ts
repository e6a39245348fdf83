import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import type { AuditEntry } from "../release/audit.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import type { TrafficAt } from "./attribute.js";

interface Point extends TrafficAt {
  /** Seconds since the epoch. */
  at: number;
}

const isCanary = (x: unknown): x is { version: string; percent: number } =>
  typeof x === "object" && x !== null && typeof (x as { version?: unknown }).version === "string" && typeof (x as { percent?: unknown }).percent === "number";

/** Do both send the live site's buckets to the same versions? Pure. */
export function sameTraffic(a: TrafficAt, b: TrafficAt): boolean {
  return a.live === b.live && a.canary?.version === b.canary?.version && a.canary?.percent === b.canary?.percent;
}

/**
 * Where the live site's buckets pointed over time, from the traffic changes
 * in audit.log (each written just after its renames) and the links as read
 * now: the bucket of a request no version answered then names its version.
 * A change made without depl (links renamed by hand) is known only from the
 * moment it is observed.
 */
export class TrafficTimeline {
  private readonly points: Point[] = [];

  /** The changes audit.log recorded (successful ones), oldest first. Pure. */
  static fromAudit(entries: readonly AuditEntry[]): TrafficTimeline {
    const tl = new TrafficTimeline();
    let cur: TrafficAt = { live: null, canary: null };
    for (const e of entries) {
      if (e.result !== "ok") continue;
      const at = Date.parse(e.at) / 1000;
      if (!Number.isFinite(at)) continue;
      if (e.action === "canary") cur = { ...cur, canary: isCanary(e.to) ? { version: e.to.version, percent: e.to.percent } : null };
      else if (e.action === "canary-stop") cur = { ...cur, canary: null };
      else if (e.action === "promote" || e.action === "rollback") {
        const to = e.to as Partial<TrafficState> | string | undefined;
        if (typeof to === "string") cur = { ...cur, live: to };
        else if (to && typeof to === "object") cur = { live: typeof to.live === "string" ? to.live : cur.live, canary: isCanary(to.canary) ? to.canary : null };
      } else continue;
      tl.observe(at, cur);
    }
    return tl;
  }

  /** The traffic as read at `at` (seconds): recorded when it differs from the last point. */
  observe(at: number, t: TrafficAt): void {
    const last = this.points[this.points.length - 1];
    if (last && sameTraffic(last, t)) return;
    const p: Point = { at, live: t.live, canary: t.canary ? { version: t.canary.version, percent: t.canary.percent } : null };
    if (last && at < last.at) p.at = last.at; // clocks of two writers: keep the order
    this.points.push(p);
  }

  /** The last point: the traffic as last known. */
  latest(): TrafficAt | null {
    return this.points[this.points.length - 1] ?? null;
  }

  /** The traffic at time `t`: the last point at or before it, or the first one for earlier times (null: nothing known). */
  at(t: number): TrafficAt | null {
    const ps = this.points;
    if (ps.length === 0) return null;
    let lo = 0;
    let hi = ps.length - 1;
    if (t < ps[0]!.at) return ps[0]!;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ps[mid]!.at <= t) lo = mid;
      else hi = mid - 1;
    }
    return ps[lo]!;
  }
}

/** One host's timeline: its audit.log's traffic changes, then its links as they are now. */
export async function readTimeline(host: Host, l: Layout, nowSec = Date.now() / 1000): Promise<TrafficTimeline> {
  const text = (await host.readFile(l.auditLog).catch(() => null)) ?? "";
  const entries: AuditEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as AuditEntry);
    } catch {
      // a line cut short by a crash: the others still count
    }
  }
  const tl = TrafficTimeline.fromAudit(entries);
  const now = await readTraffic(host, l).catch(() => null);
  if (now) tl.observe(nowSec, now);
  return tl;
}
