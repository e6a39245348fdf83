import { parsePercent } from "../release/percent.js";
import { canary as startCanary, canaryStop, promote as promoteOp, rollbackTarget, type SwitchReport } from "../release/promote.js";
import { assertVersion } from "../naming/version.js";
import { UsageError } from "../errors.js";
import { runMachineHook } from "../release/hooks.js";
import { hostArgs, onHosts, withContext, withLocks, type GlobalOptions } from "./context.js";
import { report } from "./promote.js";

// promote lives in ./promote.ts, which the guarded canary (./canary-guard.ts) imports too.
export { promote } from "./promote.js";

export async function rollback(g: GlobalOptions, version: string | undefined, o: { json?: boolean } = {}): Promise<void> {
  if (version !== undefined) assertVersion(version);
  await withContext(g, {}, async (ctx) => {
    let r: SwitchReport | null = null;
    await withLocks(ctx, "rollback", g.wait, async () => {
      const hosts = hostArgs(ctx);
      const targets = new Map<string, string>();
      await onHosts(ctx, "rollback", async (a) => void targets.set(a.host.name, await rollbackTarget(a, version)));
      r = await promoteOp(hosts, (a) => targets.get(a.host.name)!, "rollback");
      const to = [...new Set(targets.values())].join(", ");
      await runMachineHook(ctx.config, "post_rollback", { DEPL_VERSION: to }, { cwd: ctx.dir, say: ctx.say });
    });
    const to = [...new Set(Object.values((r as SwitchReport | null)?.versions ?? {}))].join(", ");
    report(r, o.json, `Rolled back: version ${to} is live`, { version: to });
  });
}

export async function canary(g: GlobalOptions, version: string | undefined, percent: string | undefined, o: { stop?: boolean; json?: boolean; watch?: string; steps?: string; promote?: boolean; skipRelease?: boolean }): Promise<void> {
  if (!o.stop && (o.watch || o.steps || o.promote)) {
    if (version === undefined) throw new UsageError("usage: depl canary <version> <N%> --watch <duration> (or --steps 5,25,50 --watch <duration> [--promote])");
    assertVersion(version);
    return (await import("./canary-guard.js")).guardedCanary(g, version, percent, o);
  }
  if (o.stop) {
    if (version !== undefined) throw new UsageError("depl canary --stop takes no version or percentage");
    await withContext(g, {}, async (ctx) => {
      const r = await withLocks(ctx, "canary --stop", g.wait, () => canaryStop(hostArgs(ctx)));
      report(r, o.json, "Canary stopped: every client is served the live version", { stopped: true });
    });
    return;
  }
  if (version === undefined || percent === undefined) throw new UsageError("usage: depl canary <version> <N%> (or depl canary --stop)");
  assertVersion(version);
  const n = parsePercent(percent);
  await withContext(g, {}, async (ctx) => {
    const r = await withLocks(ctx, `canary ${version} ${n}%`, g.wait, () => startCanary(hostArgs(ctx), version, n, { skipRelease: o.skipRelease }));
    report(r, o.json, `Canary: ${n}% of clients are served ${version}`, { version, percent: n });
  });
}
