import { doctorHost, type Finding } from "../release/doctor.js";
import { DeplError, UsageError, quote } from "../errors.js";
import { hostArgs, withContext, withLocks, type GlobalOptions } from "./context.js";

export interface DoctorCliOptions {
  json?: boolean;
  dryRun?: boolean;
  timeout?: string;
}

/** One line per host: how many checks were ok, fixed, broken. Pure. */
export function summaryLine(host: string, findings: Finding[]): string {
  const n = (s: Finding["status"]) => findings.filter((f) => f.status === s).length;
  return `${host}: ${n("ok")} ok, ${n("fixed")} fixed, ${n("warning")} warnings, ${n("broken")} broken`;
}

/** Checks every host against depl's records, repairs what it can; exit 1 when something stays broken. */
export async function doctor(g: GlobalOptions, o: DoctorCliOptions): Promise<void> {
  const seconds = o.timeout === undefined ? 60 : Number(o.timeout);
  if (!Number.isInteger(seconds) || seconds < 1) throw new UsageError(`invalid --timeout ${quote(String(o.timeout))}: expected a whole number of seconds`);
  await withContext(g, {}, async (ctx) => {
    const run = async () => {
      const all: Finding[] = [];
      const each = await Promise.all(hostArgs(ctx).map((a) => doctorHost(a, { dryRun: Boolean(o.dryRun), healthTimeoutMs: seconds * 1000 })));
      for (const f of each) all.push(...f);
      return all;
    };
    // Repairs change hosts: they take the lock like any other command; a report does not.
    const findings = o.dryRun ? await run() : await withLocks(ctx, "doctor", g.wait, run);
    if (o.json) console.log(JSON.stringify(findings, null, 2));
    else for (const h of ctx.hosts) console.log(summaryLine(h.name, findings.filter((f) => f.host === h.name)));
    const broken = findings.filter((f) => f.status === "broken");
    if (broken.length) throw new DeplError(`${broken.length} problem${broken.length > 1 ? "s" : ""} left: ${broken.map((f) => `${f.host} ${f.check}`).join(", ")}`);
  });
}
