import { computeStats, parseSince } from "../stats/compute.js";
import { formatStats, type Labelled } from "../stats/format.js";
import { parseLog } from "../stats/parse.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { roleOf } from "../release/inventory.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function stats(g: GlobalOptions, o: { since: string; json?: boolean }): Promise<void> {
  const window = parseSince(o.since);
  await withContext(g, {}, async (ctx) => {
    const since = Date.now() / 1000 - window;
    const records = [];
    let traffic: TrafficState | null = null;
    for (const host of ctx.hosts) {
      records.push(...parseLog((await host.readFile(ctx.layout.accessLog)) ?? ""));
      traffic ??= await readTraffic(host, ctx.layout);
    }
    const rows: Labelled[] = computeStats(records, since).map((s) => {
      const role = traffic ? roleOf(s.version, traffic) : null;
      return { ...s, role: role === "canary" ? `canary ${traffic!.canary!.percent}%` : (role ?? "other") };
    });
    if (o.json) console.log(JSON.stringify({ since: o.since, versions: rows }, null, 2));
    else console.log(formatStats(rows, o.since));
  });
}
