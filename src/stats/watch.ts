import type { Context } from "../host/context.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { roleOf } from "../release/inventory.js";
import { formatStats, unansweredRole, type Labelled } from "./format.js";
import { LiveStats } from "./live.js";
import { sparklineRows } from "./sparkline.js";
import type { StatsReport } from "./compute.js";

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
    // The links first: requests logged until now were routed by them or earlier ones.
    const states = await Promise.all(ctx.hosts.map((h) => readTraffic(h, ctx.layout).catch(() => null)));
    await live.poll(states);
    const traffic = states[0] ?? null;
    const now = Date.now() / 1000;
    const label = (r: StatsReport): Labelled[] => r.versions.map((v) => ({ ...v, role: roleLabel(traffic, v.version) }));
    const beyond = (r: StatsReport) => ({ unanswered: r.unanswered.map((u) => ({ ...u, role: unansweredRole(u) })), nginx: r.nginx, site: r.site });
    const all = live.total.report(now - o.windowSec);
    const per = live.perHost.map((s) => s.report(now - o.windowSec));
    const last = <T>(xs: T[]) => xs.slice(-SPARK_MINUTES);
    const spark = live.total.series(now).map((s) => ({ ...s, requests: last(s.requests), s5xx: last(s.s5xx), t: last(s.t) }));
    const versions = spark.filter((s) => s.kind === "version");
    const unanswered = spark.filter((s) => s.kind === "unanswered");
    const site = live.total.site(now);
    const siteSpark = { t: last(site.t), requests: last(site.requests), s5xx: last(site.s5xx) };
    const unansweredName = (s: (typeof spark)[number]) => `${unansweredRole({ route: s.route ?? "" })}${s.version ? ` ${s.version}` : ""}`;
    if (o.json) {
      console.log(JSON.stringify({
        at: new Date().toISOString(), since: o.since, traffic, versions: label(all), ...beyond(all),
        per_minute: Object.fromEntries(versions.map((s) => [s.version, { t: s.t, requests: s.requests, s5xx: s.s5xx }])),
        unanswered_per_minute: unanswered.map((s) => ({ route: s.route, version: s.version || null, t: s.t, requests: s.requests, s5xx: s.s5xx })),
        site_per_minute: siteSpark,
        ...(multi ? { hosts: Object.fromEntries(ctx.hosts.map((h, i) => [h.name, label(per[i]!)])), hosts_beyond: Object.fromEntries(ctx.hosts.map((h, i) => [h.name, beyond(per[i]!)])) } : {}),
      }));
    } else {
      // One list, names aligned: the versions, then what no version answered and the site's total when there is any.
      const names = new Map<string, string>(versions.map((v) => [v.version, roleLabel(traffic, v.version)]));
      const lines = [...versions];
      if (unanswered.length) {
        for (const s of unanswered) names.set(unansweredName(s), "");
        lines.push(...unanswered.map((s) => ({ ...s, version: unansweredName(s) })));
        names.set("all requests", "(site as users saw it)");
        lines.push({ ...lines[0]!, version: "all requests", ...siteSpark });
      }
      const rows = sparklineRows(lines, (v) => names.get(v) ?? "");
      const out = [
        `depl stats --watch: ${ctx.config.app}, last ${o.since}${multi ? ` (all ${ctx.hosts.length} hosts)` : ""}, ${new Date().toISOString().slice(11, 19)} UTC (Ctrl-C ends)`, "",
        formatStats(label(all), o.since, all), "",
        `per minute, last ${SPARK_MINUTES} min, oldest first:`, ...rows,
      ];
      if (multi) ctx.hosts.forEach((h, i) => out.push("", `${h.name}:`, formatStats(label(per[i]!), o.since, per[i]!)));
      process.stdout.write((tty ? "\x1b[H\x1b[2J" : n > 0 ? "\n" : "") + out.join("\n") + "\n");
    }
    if (o.refreshes !== undefined && n + 1 >= o.refreshes) break;
  }
}
