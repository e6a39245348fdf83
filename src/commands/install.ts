import { shipImage } from "../images/ship.js";
import { imageIdOn } from "../images/ship.js";
import { installRelease } from "../release/install.js";
import { assertVersion } from "../release/version.js";
import { DeplError } from "../errors.js";
import { LocalHost } from "../host/local.js";
import { previewUrl, withContext, withLocks, type Context, type GlobalOptions } from "./context.js";

export interface InstallOptions {
  json?: boolean;
}

/** Ships the image to every host, then installs it on each, one host at a time. */
export async function installVersion(ctx: Context, version: string, o: { keepUntil?: string | null } = {}): Promise<void> {
  assertVersion(version, ctx.config.subdomains);
  const ref = `${ctx.config.app}:${version}`;
  const localId = await imageIdOn(new LocalHost(), ref);
  for (const host of ctx.hosts) {
    if (!host.isLocal) {
      if (!localId) throw new DeplError(`image ${ref} not found on this machine (build it first: depl build)`);
      await shipImage(host, ref, localId, ctx.say);
    }
    await installRelease({ config: ctx.config, layout: ctx.layout, host, version, actor: ctx.actor, say: ctx.say, keepUntil: o.keepUntil });
  }
}

export function reportInstalled(ctx: Context, version: string, json?: boolean): void {
  if (json) console.log(JSON.stringify({ version, url: previewUrl(ctx.config, version) }));
  else console.log(`Version ${version} is successfully installed: ${previewUrl(ctx.config, version)}`);
}

export async function install(g: GlobalOptions, version: string, o: InstallOptions): Promise<void> {
  assertVersion(version);
  await withContext(g, o, async (ctx) => {
    await withLocks(ctx, `install ${version}`, g.wait, () => installVersion(ctx, version));
    reportInstalled(ctx, version, o.json);
  });
}
