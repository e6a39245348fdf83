import { computeStats, parseSince } from "../stats/compute.js";
import { formatStats, type Labelled } from "../stats/format.js";
import { parseLog } from "../stats/parse.js";
import { readTraffic } from "../switch/traffic.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function stats(g: GlobalOptions, o: { since: string; json?: boolean }): Promise<void> {
  const window = parseSince(o.since);
  await withContext(g, o, async (ctx) => {
    const since = Date.now() / 1000 - window;
    const records = [];
    let traffic = null;
    for (const host of ctx.hosts) {
      records.push(...parseLog((await host.readFile(ctx.layout.accessLog)) ?? ""));
      traffic ??= await readTraffic(host, ctx.layout);
    }
    const rows: Labelled[] = computeStats(records, since).map((s) => ({
      ...s,
      role:
        s.version === traffic?.live ? "live"
        : s.version === traffic?.canary?.version ? `canary ${traffic.canary.percent}%`
        : s.version === traffic?.previous ? "previous"
        : "other",
    }));
    if (o.json) console.log(JSON.stringify({ since: o.since, versions: rows }, null, 2));
    else console.log(formatStats(rows, o.since));
  });
}
