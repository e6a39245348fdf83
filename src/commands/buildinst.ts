import { buildVersion, type BuildOptions } from "./build.js";
import { installVersion, reportInstalled } from "./install.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function buildinst(g: GlobalOptions, o: BuildOptions): Promise<void> {
  await withContext(g, o, async (ctx) => {
    const { version } = await buildVersion(ctx, o);
    await installVersion(ctx, version);
    reportInstalled(ctx, version, o.json);
  });
}
