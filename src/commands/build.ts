import { buildRelease } from "../build/build.js";
import { gitInfo } from "../build/git.js";
import { nextVersion, assertVersion } from "../release/version.js";
import { withContext, type Context, type GlobalOptions } from "./context.js";

export interface BuildOptions {
  versionName?: string;
  json?: boolean;
}

export interface Built {
  version: string;
  image: string;
  imageId: string;
  sizeBytes: number;
}

/** Tags <app>:* that exist in the local Docker Engine. */
async function localVersions(app: string): Promise<string[]> {
  const { default: Docker } = await import("dockerode");
  const images = await new Docker().listImages({ filters: JSON.stringify({ reference: [`${app}:*`] }) });
  return images.flatMap((i) => i.RepoTags ?? []).map((t) => t.slice(app.length + 1));
}

export async function buildVersion(ctx: Context, o: BuildOptions): Promise<Built> {
  const { config } = ctx;
  const version = o.versionName
    ? assertVersion(o.versionName, config.subdomains)
    : nextVersion(new Date(), await localVersions(config.app));
  const git = await gitInfo(ctx.dir);
  ctx.say(`building ${config.app}:${version}`);
  const r = await buildRelease({
    config,
    configDir: ctx.dir,
    version,
    meta: { ...git, builtAt: new Date().toISOString(), builtBy: ctx.actor },
    verbose: ctx.verbose,
    log: ctx.say,
  });
  return { version, image: r.image, imageId: r.imageId, sizeBytes: r.sizeBytes };
}

export async function build(g: GlobalOptions, o: BuildOptions): Promise<void> {
  await withContext(g, o, async (ctx) => {
    const b = await buildVersion(ctx, o);
    if (o.json) console.log(JSON.stringify(b));
    else console.log(`Built ${b.image} (${(b.sizeBytes / 1e6).toFixed(0)} MB)`);
  });
}
