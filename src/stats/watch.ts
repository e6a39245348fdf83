import type { Context } from "../host/context.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { roleOf } from "../release/inventory.js";
import { formatStats, type Labelled } from "./format.js";
import { LiveStats } from "./live.js";
import { sparklineRows } from "./sparkline.js";
import type { VersionStats } from "./compute.js";

/** Minutes shown in the sparklines. */
export const SPARK_MINUTES = 15;

export function roleLabel(traffic: TrafficState | null, version: string): string {
  const role = traffic ? roleOf(version, traffic) : null;
  return role === "canary" ? `canary ${traffic!.canary!.percent}%` : (role ?? "other");
}

/**
 * `depl stats --watch`: the table over the --since window and per-minute
 * sparklines, refreshed every `everyMs` until Ctrl-C; with --json one JSON
 * object per refresh (one line each).
 */
export async function watchStats(ctx: Context, o: { windowSec: number; since: string; json?: boolean; everyMs: number; signal: AbortSignal; refreshes?: number }): Promise<void> {
  const keep = Math.max(SPARK_MINUTES, Math.ceil(o.windowSec / 60) + 1);
  const live = new LiveStats(ctx.hosts, ctx.layout, 60, keep);
  await live.start(o.windowSec);
  const multi = ctx.hosts.length > 1;
  const tty = process.stdout.isTTY && !o.json;
  for (let n = 0; !o.signal.aborted; n++) {
    if (n > 0) await new Promise<void>((res) => {
      const t = setTimeout(res, o.everyMs);
      o.signal.addEventListener("abort", () => (clearTimeout(t), res()), { once: true });
    });
    if (o.signal.aborted) break;
    await live.poll();
    const traffic = await readTraffic(ctx.hosts[0]!, ctx.layout).catch(() => null);
    const now = Date.now() / 1000;
    const label = (rows: VersionStats[]): Labelled[] => rows.map((r) => ({ ...r, role: roleLabel(traffic, r.version) }));
    const rows = label(live.total.stats(now - o.windowSec));
    const spark = live.total.series(now).map((s) => ({ ...s, requests: s.requests.slice(-SPARK_MINUTES), s5xx: s.s5xx.slice(-SPARK_MINUTES), t: s.t.slice(-SPARK_MINUTES) }));
    if (o.json) {
      console.log(JSON.stringify({
        at: new Date().toISOString(), since: o.since, traffic, versions: rows,
        per_minute: Object.fromEntries(spark.map((s) => [s.version, { t: s.t, requests: s.requests, s5xx: s.s5xx }])),
        ...(multi ? { hosts: Object.fromEntries(ctx.hosts.map((h, i) => [h.name, label(live.perHost[i]!.stats(now - o.windowSec))])) } : {}),
      }));
    } else {
      const out = [`depl stats --watch: ${ctx.config.app}, last ${o.since}${multi ? ` (all ${ctx.hosts.length} hosts)` : ""}, ${new Date().toISOString().slice(11, 19)} UTC (Ctrl-C ends)`, "", formatStats(rows, o.since), "", `per minute, last ${SPARK_MINUTES} min, oldest first:`, ...sparklineRows(spark, (v) => roleLabel(traffic, v))];
      if (multi) ctx.hosts.forEach((h, i) => out.push("", `${h.name}:`, formatStats(label(live.perHost[i]!.stats(now - o.windowSec)), o.since)));
      process.stdout.write((tty ? "\x1b[H\x1b[2J" : n > 0 ? "\n" : "") + out.join("\n") + "\n");
    }
    if (o.refreshes !== undefined && n + 1 >= o.refreshes) break;
  }
}
