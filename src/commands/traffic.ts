import { parsePercent } from "../release/percent.js";
import { canary as startCanary, canaryStop, promote as promoteOp, rollbackTarget, type SwitchReport } from "../release/promote.js";
import { describeSkew } from "../release/fleet.js";
import { assertVersion } from "../naming/version.js";
import { UsageError } from "../errors.js";
import { runMachineHook } from "../release/hooks.js";
import { Journal } from "../release/journal.js";
import { hostArgs, onHosts, siteUrl, withContext, withLocks, type GlobalOptions } from "./context.js";

/** The switch's figures, for --json and one human line. */
function report(r: SwitchReport | null, json: boolean | undefined, human: string, extra: Record<string, unknown> = {}): void {
  if (json) {
    console.log(JSON.stringify({ ...extra, hosts: r ? Object.keys(r.versions) : [], versions: r?.versions ?? {}, renamed_at: r?.renamedAt ?? {}, rename_skew_ms: r?.skewMs ?? null, go_ms: r?.goMs ?? null }));
    return;
  }
  const skew = r ? describeSkew(r) : "";
  console.log(skew ? `${human} (${skew})` : human);
}

/**
 * pre_promote, the switch on all hosts at once, post_promote: steps of a
 * journal, so that `--resume` finishes a promote that failed or was
 * interrupted midway (before its post_promote hook, say).
 */
export async function promote(g: GlobalOptions, given: string | undefined, o: { resume?: boolean; json?: boolean; skipRelease?: boolean } = {}): Promise<void> {
  if (o.resume && given !== undefined) throw new UsageError("depl promote --resume takes no version: it finishes the interrupted one");
  if (!o.resume && given === undefined) throw new UsageError("usage: depl promote <version> (or depl promote --resume)");
  if (given !== undefined) assertVersion(given);
  await withContext(g, {}, async (ctx) => {
    const journal = await Journal.open("promote", ctx.config.app, Boolean(o.resume), { version: given ?? null, skip_release: Boolean(o.skipRelease) });
    const version = journal.data.options.version as string;
    const skipRelease = Boolean(journal.data.options.skip_release);
    const hookOpts = { cwd: ctx.dir, say: ctx.say };
    let r: SwitchReport | null = null;
    await withLocks(ctx, `promote ${version}`, g.wait, () =>
      journal.run(async () => {
        await journal.step("pre_promote", () => runMachineHook(ctx.config, "pre_promote", { DEPL_VERSION: version }, hookOpts));
        await journal.step("switch", async () => {
          r = await promoteOp(hostArgs(ctx), () => version, "promote", { skipRelease });
        });
        await journal.step("post_promote", () => runMachineHook(ctx.config, "post_promote", { DEPL_VERSION: version }, hookOpts));
      }),
    o.resume ? "promote" : undefined);
    report(r, o.json, `Version ${version} is live: ${siteUrl(ctx.config)}`, { version, url: siteUrl(ctx.config) });
  });
}

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
    return (await import("../canary/command.js")).guardedCanary(g, version, percent, o);
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
