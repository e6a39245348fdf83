import { Journal } from "../release/journal.js";
import { branchToVersion } from "../naming/version.js";
import { UsageError, quote } from "../errors.js";
import { imageIdOn } from "../images/ship.js";
import { LocalHost } from "../host/local.js";
import { buildVersion, chooseVersion, type BuildOptions } from "./build.js";
import { installOn, reportInstalled } from "./install.js";
import { pruneWith } from "./retire.js";
import { checkTlsConfig } from "../tls/certificates.js";
import { onHosts, withContext, withLocks, type GlobalOptions } from "./context.js";

export interface BuildinstOptions extends BuildOptions {
  keepDays?: string;
  branch?: string;
  resume?: boolean;
}

function keepDaysOf(v: string | undefined): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`invalid --keep-days ${quote(v)}: expected a positive whole number of days`);
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
  if (o.resume && (o.branch || o.versionName || o.keepDays)) throw new UsageError("--resume reuses the interrupted run's options: give no others");
  await withContext(g, {}, async (ctx) => {
    checkTlsConfig(ctx.config);
    const journal = await Journal.open("buildinst", ctx.config.app, Boolean(o.resume), {
      branch: o.branch ?? null,
      keepDays: o.keepDays ?? null,
      versionName: o.versionName ?? null,
    });
    if (o.resume) {
      const d = journal.data;
      ctx.say(`resuming the buildinst of ${d.started_at} (${d.status}; done: ${d.done.join(", ") || "nothing"})`);
    }
    const opts = journal.data.options;
    const branch = (opts.branch as string | null) ?? undefined;
    const alias = branch ? branchToVersion(branch) : null;
    const keepDays = keepDaysOf((opts.keepDays as string | null) ?? undefined);

    await withLocks(ctx, o.resume ? "buildinst --resume" : "buildinst", g.wait, () =>
      journal.run(async () => {
        const version = journal.data.facts.version ?? (await chooseVersion(ctx, { versionName: (opts.versionName as string | null) ?? undefined }));
        await journal.fact("version", version);
        // An image removed or rebuilt since the interrupted run is built again.
        const localId = await imageIdOn(new LocalHost(), `${ctx.config.app}:${version}`);
        if (localId !== journal.data.facts.imageId) journal.redo("build");
        await journal.step(
          "build",
          async () => {
            const b = await buildVersion(ctx, { ...o, branch }, version);
            await journal.fact("imageId", b.imageId);
          },
          () => ctx.say(`reusing the image built before: ${ctx.config.app}:${version}`),
        );
        const keepUntil = keepDays ? new Date(Date.now() + keepDays * 86_400_000).toISOString() : null;
        const bytes = await onHosts(ctx, `install ${version}`, (a) => installOn(ctx, a, version, { keepUntil, alias, journal }));
        const shipped = Object.fromEntries(bytes.map((b, i) => [ctx.hosts[i]!.name, b]));
        await journal.step("prune", async () => {
          const gone = await pruneWith(ctx, {});
          if (gone.length) ctx.say(`pruned ${gone.join(", ")}`);
        });
        reportInstalled(ctx, version, o.json, alias, shipped);
      }),
    o.resume ? "buildinst" : undefined);
  });
}
