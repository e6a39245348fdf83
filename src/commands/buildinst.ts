import { buildVersion, type BuildOptions } from "./build.js";
import { installVersion, reportInstalled } from "./install.js";
import { UsageError } from "../errors.js";
import { pruneWith } from "./retire.js";
import { withContext, withLocks, type GlobalOptions } from "./context.js";

export async function buildinst(g: GlobalOptions, o: BuildOptions & { keepDays?: string }): Promise<void> {
  await withContext(g, o, async (ctx) => {
    const keepDays = o.keepDays === undefined ? undefined : Number(o.keepDays);
    if (keepDays !== undefined && !(Number.isInteger(keepDays) && keepDays >= 1)) {
      throw new UsageError(`invalid --keep-days "${o.keepDays}": expected a positive whole number of days`);
    }
    await withLocks(ctx, "buildinst", g.wait, async () => {
      const { version } = await buildVersion(ctx, o);
      const keepUntil = keepDays ? new Date(Date.now() + keepDays * 86_400_000).toISOString() : null;
      await installVersion(ctx, version, { keepUntil });
      const gone = await pruneWith(ctx, {});
      if (gone.length) ctx.say(`pruned ${gone.join(", ")}`);
      reportInstalled(ctx, version, o.json);
    });
  });
}
