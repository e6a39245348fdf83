import { promote as promoteOp, type SwitchReport } from "../release/promote.js";
import { describeSkew } from "../release/fleet.js";
import { assertVersion } from "../naming/version.js";
import { UsageError } from "../errors.js";
import { runMachineHook } from "../release/hooks.js";
import { Journal } from "../release/journal.js";
import { hostArgs, siteUrl, withContext, withLocks, type GlobalOptions } from "./context.js";

/** The switch's figures, for --json and one human line. */
export function report(r: SwitchReport | null, json: boolean | undefined, human: string, extra: Record<string, unknown> = {}): void {
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
