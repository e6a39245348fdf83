import { StatsAccumulator, parseSince } from "../stats/compute.js";
import { formatStats, type Labelled } from "../stats/format.js";
import { streamAccessLogs } from "../stats/read.js";
import { logLimits, rotateLogs } from "../logs/rotate.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { roleOf } from "../release/inventory.js";
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
    const since = Date.now() / 1000 - window;
    const acc = new StatsAccumulator(since);
    const perHost = ctx.hosts.map(() => new StatsAccumulator(since));
    const traffics = await Promise.all(
      ctx.hosts.map(async (host, i) => {
        // Rotation is a rename and a reopen signal: safe beside a running command.
        await rotateLogs(host, ctx.layout, logLimits(ctx.config)).catch((e: Error) => ctx.say(`${host.name}: log rotation: ${e.message}`));
        await streamAccessLogs(host, ctx.layout, since, (r) => {
          acc.add(r);
          perHost[i]!.add(r);
        });
        return readTraffic(host, ctx.layout);
      }),
    );
    const traffic: TrafficState | null = traffics[0] ?? null;
    const label = (a: StatsAccumulator): Labelled[] =>
      a.result().map((s) => {
        const role = traffic ? roleOf(s.version, traffic) : null;
        return { ...s, role: role === "canary" ? `canary ${traffic!.canary!.percent}%` : (role ?? "other") };
      });
    const rows = label(acc);
    const multi = ctx.hosts.length > 1;
    const hosts = multi ? Object.fromEntries(ctx.hosts.map((h, i) => [h.name, label(perHost[i]!)])) : undefined;
    if (o.json) console.log(JSON.stringify({ since: o.since, versions: rows, ...(hosts ? { hosts } : {}) }, null, 2));
    else {
      console.log(formatStats(rows, o.since) + (multi ? `  (all ${ctx.hosts.length} hosts)` : ""));
      for (const [name, r] of Object.entries(hosts ?? {})) console.log(`\n${name}:\n${formatStats(r, o.since)}`);
    }
  });
}
