import { parsePercent } from "../release/percent.js";
import { assertServable, canary as startCanary, canaryStop, promote as promoteOp, rollbackTarget, stopWorkersBeforePromote } from "../release/promote.js";
import { assertVersion } from "../naming/version.js";
import { UsageError } from "../errors.js";
import { runMachineHook } from "../release/hooks.js";
import { Journal } from "../release/journal.js";
import { hostArgs, siteUrl, withContext, withLocks, type Context, type GlobalOptions } from "./context.js";
import type { OnHost } from "../release/on-host.js";

/**
 * pre_promote, the switch on each host, post_promote: steps of a journal, so
 * that `--resume` finishes a promote that failed or was interrupted midway
 * (on some hosts only, or before its post_promote hook).
 */
export async function promote(g: GlobalOptions, given: string | undefined, o: { resume?: boolean } = {}): Promise<void> {
  if (o.resume && given !== undefined) throw new UsageError("depl promote --resume takes no version: it finishes the interrupted one");
  if (!o.resume && given === undefined) throw new UsageError("usage: depl promote <version> (or depl promote --resume)");
  if (given !== undefined) assertVersion(given);
  await withContext(g, {}, async (ctx) => {
    const journal = await Journal.open("promote", ctx.config.app, Boolean(o.resume), { version: given ?? null });
    const version = journal.data.options.version as string;
    const hookOpts = { cwd: ctx.dir, say: ctx.say };
    await withLocks(ctx, `promote ${version}`, g.wait, () =>
      journal.run(async () => {
        await journal.step("pre_promote", () => runMachineHook(ctx.config, "pre_promote", { DEPL_VERSION: version }, hookOpts));
        await stopOldWorkers(ctx, () => version);
        for (const a of hostArgs(ctx)) await journal.step(`switch:${a.host.name}`, () => promoteOp(a, version));
        await journal.step("post_promote", () => runMachineHook(ctx.config, "post_promote", { DEPL_VERSION: version }, hookOpts));
      }),
    o.resume ? "promote" : undefined);
    console.log(`Version ${version} is live: ${siteUrl(ctx.config)}`);
  });
}

/**
 * With several hosts, every host's old live-only workers stop before any new
 * one starts (each host's switch then starts the new ones). One host's switch
 * does both itself.
 */
async function stopOldWorkers(ctx: Context, target: (a: OnHost) => string): Promise<void> {
  if (ctx.hosts.length < 2) return;
  for (const a of hostArgs(ctx)) await assertServable(a, target(a)); // refused anywhere: nothing stopped
  for (const a of hostArgs(ctx)) await stopWorkersBeforePromote(a, target(a));
}

export async function rollback(g: GlobalOptions, version: string | undefined): Promise<void> {
  if (version !== undefined) assertVersion(version);
  await withContext(g, {}, async (ctx) => {
    let target = "";
    await withLocks(ctx, "rollback", g.wait, async () => {
      const targets = new Map<string, string>();
      for (const a of hostArgs(ctx)) targets.set(a.host.name, await rollbackTarget(a, version));
      await stopOldWorkers(ctx, (a) => targets.get(a.host.name)!);
      for (const a of hostArgs(ctx)) {
        target = targets.get(a.host.name)!;
        await promoteOp(a, target, "rollback");
      }
      await runMachineHook(ctx.config, "post_rollback", { DEPL_VERSION: target }, { cwd: ctx.dir, say: ctx.say });
    });
    console.log(`Rolled back: version ${target} is live`);
  });
}

export async function canary(g: GlobalOptions, version: string | undefined, percent: string | undefined, o: { stop?: boolean }): Promise<void> {
  if (o.stop) {
    if (version !== undefined) throw new UsageError("depl canary --stop takes no version or percentage");
    await withContext(g, {}, async (ctx) => {
      await withLocks(ctx, "canary --stop", g.wait, async () => {
        for (const a of hostArgs(ctx)) await canaryStop(a);
      });
      console.log("Canary stopped: every client is served the live version");
    });
    return;
  }
  if (version === undefined || percent === undefined) throw new UsageError("usage: depl canary <version> <N%> (or depl canary --stop)");
  assertVersion(version);
  const n = parsePercent(percent);
  await withContext(g, {}, async (ctx) => {
    await withLocks(ctx, `canary ${version} ${n}%`, g.wait, async () => {
      for (const a of hostArgs(ctx)) await startCanary(a, version, n);
    });
    console.log(`Canary: ${n}% of clients are served ${version}`);
  });
}
