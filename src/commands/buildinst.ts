import { Journal } from "../release/journal.js";
import { branchToVersion } from "../release/version.js";
import { UsageError } from "../errors.js";
import { imageIdOn } from "../images/ship.js";
import { LocalHost } from "../host/local.js";
import { buildVersion, chooseVersion, type BuildOptions } from "./build.js";
import { installOn, reportInstalled } from "./install.js";
import { pruneWith } from "./retire.js";
import { withContext, withLocks, type GlobalOptions } from "./context.js";

export interface BuildinstOptions extends BuildOptions {
  keepDays?: string;
  branch?: string;
  resume?: boolean;
}

function keepDaysOf(v: string | undefined): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`invalid --keep-days "${v}": expected a positive whole number of days`);
  return Number(v);
}

/**
 * build, then per host ship + install, then prune: each a step of a journal
 * on this machine, so that --resume picks up a failed or interrupted run
 * where it stopped, reusing the image already built or shipped.
 */
export async function buildinst(g: GlobalOptions, o: BuildinstOptions): Promise<void> {
  keepDaysOf(o.keepDays);
  if (o.branch) branchToVersion(o.branch); // a bad branch name fails before anything starts
  await withContext(g, o, async (ctx) => {
    let journal: Journal;
    if (o.resume) {
      if (o.branch || o.versionName || o.keepDays) throw new UsageError("--resume reuses the interrupted run's options: give no others");
      const found = await Journal.load("buildinst", ctx.config.app);
      if (!found || found.data.status === "done") throw new UsageError(`no failed or interrupted buildinst of ${ctx.config.app} to resume`);
      journal = found;
      ctx.say(`resuming the buildinst of ${found.data.started_at} (${found.data.status}; done: ${found.data.done.join(", ") || "nothing"})`);
    } else {
      journal = Journal.fresh("buildinst", ctx.config.app, { branch: o.branch ?? null, keepDays: o.keepDays ?? null, versionName: o.versionName ?? null });
    }
    const opts = journal.data.options;
    const branch = (opts.branch as string | null) ?? undefined;
    const keepDays = keepDaysOf((opts.keepDays as string | null) ?? undefined);
    const takeOver = o.resume ? "buildinst" : undefined;

    await withLocks(ctx, o.resume ? "buildinst --resume" : "buildinst", g.wait, async () => {
      try {
        const version = journal.data.facts.version ?? (await chooseVersion(ctx, { versionName: (opts.versionName as string | null) ?? undefined }));
        await journal.fact("version", version);
        const localId = await imageIdOn(new LocalHost(), `${ctx.config.app}:${version}`);
        if (journal.isDone("build") && localId !== journal.data.facts.imageId) journal.data.done = journal.data.done.filter((s) => s !== "build");
        await journal.step(
          "build",
          async () => {
            const b = await buildVersion(ctx, { ...o, branch }, version);
            await journal.fact("imageId", b.imageId);
          },
          () => ctx.say(`reusing the image built before: ${ctx.config.app}:${version}`),
        );
        const keepUntil = keepDays ? new Date(Date.now() + keepDays * 86_400_000).toISOString() : null;
        for (const host of ctx.hosts) {
          await installOn(ctx, host, version, { keepUntil, alias: branch ? branchToVersion(branch) : null, journal });
        }
        await journal.step("prune", async () => {
          const gone = await pruneWith(ctx, {});
          if (gone.length) ctx.say(`pruned ${gone.join(", ")}`);
        });
        await journal.finish("done");
        reportInstalled(ctx, version, o.json, branch ? branchToVersion(branch) : null);
      } catch (e) {
        await journal.finish("failed", (e as Error).message.split("\n")[0]!);
        throw e;
      }
    }, takeOver);
  });
}
