import { StatsAccumulator, parseSince, type StatsReport } from "../stats/compute.js";
import { formatStats, unansweredRole, type Labelled } from "../stats/format.js";
import { streamAccessLogs } from "../stats/read.js";
import { readTimeline } from "../stats/timeline.js";
import { roleLabel } from "../stats/watch.js";
import { logLimits, rotateLogs } from "../logs/rotate.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { withContext, type GlobalOptions } from "./context.js";
import { UsageError } from "../errors.js";

export async function stats(g: GlobalOptions, o: { since: string; json?: boolean; watch?: boolean; every?: string; count?: string }): Promise<void> {
  const window = parseSince(o.since);
  if (o.watch) {
    const everyMs = parseSince(o.every ?? "3s") * 1000;
    const refreshes = o.count === undefined ? undefined : Number(o.count);
    if (refreshes !== undefined && !(Number.isInteger(refreshes) && refreshes > 0)) throw new UsageError(`--count: expected a whole number of refreshes, got ${o.count}`);
    const { watchStats } = await import("../stats/watch.js");
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      await withContext(g, {}, (ctx) => watchStats(ctx, { windowSec: window, since: o.since, json: o.json, everyMs, signal: ac.signal, refreshes }));
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    return;
  }
  await withContext(g, {}, async (ctx) => {
    const now = Date.now() / 1000;
    const since = now - window;
    const reports = await Promise.all(
      ctx.hosts.map(async (host) => {
        // Rotation is a rename and a reopen signal: safe beside a running command.
        await rotateLogs(host, ctx.layout, logLimits(ctx.config)).catch((e: Error) => ctx.say(`${host.name}: log rotation: ${e.message}`));
        // Where each bucket pointed when: a request no version answered counts for the side nginx chose.
        const timeline = await readTimeline(host, ctx.layout, now);
        const acc = new StatsAccumulator(since, (t) => timeline.at(t));
        await streamAccessLogs(host, ctx.layout, since, (r) => acc.add(r));
        return { acc, traffic: await readTraffic(host, ctx.layout) };
      }),
    );
    const traffic: TrafficState | null = reports[0]?.traffic ?? null;
    const label = (r: StatsReport): Labelled[] => r.versions.map((s) => ({ ...s, role: roleLabel(traffic, s.version) }));
    const beyond = (r: StatsReport) => ({ unanswered: r.unanswered.map((u) => ({ ...u, role: unansweredRole(u) })), nginx: r.nginx, site: r.site });
    const all = StatsAccumulator.sum(reports.map((x) => x.acc));
    const multi = ctx.hosts.length > 1;
    const per = reports.map((x) => x.acc.report());
    if (o.json) {
      console.log(JSON.stringify({
        since: o.since, versions: label(all), ...beyond(all),
        ...(multi ? { hosts: Object.fromEntries(ctx.hosts.map((h, i) => [h.name, label(per[i]!)])), hosts_beyond: Object.fromEntries(ctx.hosts.map((h, i) => [h.name, beyond(per[i]!)])) } : {}),
      }, null, 2));
    } else {
      console.log(formatStats(label(all), o.since, all) + (multi ? `  (all ${ctx.hosts.length} hosts)` : ""));
      if (multi) ctx.hosts.forEach((h, i) => console.log(`\n${h.name}:\n${formatStats(label(per[i]!), o.since, per[i]!)}`));
    }
  });
}
