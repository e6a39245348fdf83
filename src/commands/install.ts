import { imageIdOn, shipImage } from "../images/ship.js";
import { installRelease } from "../release/install.js";
import { assertVersion } from "../naming/version.js";
import { DeplError } from "../errors.js";
import type { OnHost } from "../release/on-host.js";
import { LocalHost } from "../host/local.js";
import type { Journal } from "../release/journal.js";
import { replaceBranchRelease } from "../release/branch.js";
import { onHosts, siteUrl, withContext, withLocks, type Context, type GlobalOptions } from "./context.js";

export interface InstallOptions {
  json?: boolean;
}

export interface InstallOnOptions {
  keepUntil?: string | null;
  /** A branch preview: <alias>.<domain> moves to this version once it is healthy. */
  alias?: string | null;
  journal?: Journal;
}

/** Ships the image to one host (unless it is this machine) and installs the version there. */
export async function installOn(ctx: Context, on: OnHost, version: string, o: InstallOnOptions = {}): Promise<void> {
  const { host, say } = on;
  const ref = `${ctx.config.app}:${version}`;
  const step = async (name: string, fn: () => Promise<unknown>) => (o.journal ? o.journal.step(`${name}:${host.name}`, fn) : fn());
  await step("ship", async () => {
    if (host.isLocal) return;
    const localId = await imageIdOn(new LocalHost(), ref);
    if (!localId) throw new DeplError(`image ${ref} not found on this machine (build it first: depl build)`);
    await shipImage(host, ref, localId, say);
  });
  await step("install", async () => {
    const args = { ...on, version, secrets: ctx.secrets };
    await installRelease({ ...args, keepUntil: o.keepUntil, alias: o.alias ?? null });
    if (o.alias) await replaceBranchRelease(args, o.alias, version);
  });
}

export function reportInstalled(ctx: Context, version: string, json?: boolean, alias?: string | null): void {
  const url = siteUrl(ctx.config, alias ?? version);
  if (json) console.log(JSON.stringify({ version, ...(alias ? { branch: alias } : {}), url }));
  else console.log(`Version ${alias ? `${version} (branch ${alias})` : version} is successfully installed: ${url}`);
}

export async function install(g: GlobalOptions, version: string, o: InstallOptions): Promise<void> {
  assertVersion(version);
  await withContext(g, {}, async (ctx) => {
    assertVersion(version, ctx.config.subdomains);
    await withLocks(ctx, `install ${version}`, g.wait, async () => {
      await onHosts(ctx, `install ${version}`, (a) => installOn(ctx, a, version));
    });
    reportInstalled(ctx, version, o.json);
  });
}
