import { StatsAccumulator, parseSince } from "../stats/compute.js";
import { formatStats, type Labelled } from "../stats/format.js";
import { streamAccessLogs } from "../stats/read.js";
import { logLimits, rotateLogs } from "../logs/rotate.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { roleOf } from "../release/inventory.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function stats(g: GlobalOptions, o: { since: string; json?: boolean }): Promise<void> {
  const window = parseSince(o.since);
  await withContext(g, {}, async (ctx) => {
    const since = Date.now() / 1000 - window;
    const acc = new StatsAccumulator(since);
    let traffic: TrafficState | null = null;
    for (const host of ctx.hosts) {
      // Rotation is a rename and a reopen signal: safe beside a running command.
      await rotateLogs(host, ctx.layout, logLimits(ctx.config)).catch((e: Error) => ctx.say(`${host.name}: log rotation: ${e.message}`));
      await streamAccessLogs(host, ctx.layout, since, (r) => acc.add(r));
      traffic ??= await readTraffic(host, ctx.layout);
    }
    const rows: Labelled[] = acc.result().map((s) => {
      const role = traffic ? roleOf(s.version, traffic) : null;
      return { ...s, role: role === "canary" ? `canary ${traffic!.canary!.percent}%` : (role ?? "other") };
    });
    if (o.json) console.log(JSON.stringify({ since: o.since, versions: rows }, null, 2));
    else console.log(formatStats(rows, o.since));
  });
}
