import { imageIdOn, shipImage } from "../images/ship.js";
import { installRelease } from "../release/install.js";
import { assertVersion } from "../naming/version.js";
import { DeplError } from "../errors.js";
import type { OnHost } from "../release/on-host.js";
import { LocalHost } from "../host/local.js";
import type { Journal } from "../release/journal.js";
import { replaceBranchRelease } from "../release/branch.js";
import { checkTlsConfig } from "../tls/certificates.js";
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
/** Returns the bytes shipped to the host (0: none needed; null: pulled by the host from a registry of its own). */
export async function installOn(ctx: Context, on: OnHost, version: string, o: InstallOnOptions = {}): Promise<number | null> {
  const { host, say } = on;
  const ref = `${ctx.config.app}:${version}`;
  const step = async (name: string, fn: () => Promise<unknown>) => (o.journal ? o.journal.step(`${name}:${host.name}`, fn) : fn());
  let shipped: number | null = 0;
  await step("ship", async () => {
    if (host.isLocal) return;
    const here = new LocalHost();
    const localId = await imageIdOn(here, ref);
    if (!localId) throw new DeplError(`image ${ref} not found on this machine (build it first: depl build)`);
    const s = ctx.config.ship;
    shipped = (await shipImage(host, ref, localId, { method: s.method, registry: s.registry, localPort: s.local_port, say, here })).bytes;
  });
  await step("install", async () => {
    const args = { ...on, version, secrets: ctx.secrets };
    await installRelease({ ...args, keepUntil: o.keepUntil, alias: o.alias ?? null });
    if (o.alias) await replaceBranchRelease(args, o.alias, version);
  });
  return shipped;
}

/** shipped: bytes sent to each host (buildinst --json). */
export function reportInstalled(ctx: Context, version: string, json?: boolean, alias?: string | null, shipped?: Record<string, number | null>): void {
  const url = siteUrl(ctx.config, alias ?? version);
  if (json) console.log(JSON.stringify({ version, ...(alias ? { branch: alias } : {}), url, ...(shipped ? { shipped } : {}) }));
  else console.log(`Version ${alias ? `${version} (branch ${alias})` : version} is successfully installed: ${url}`);
}

export async function install(g: GlobalOptions, version: string, o: InstallOptions): Promise<void> {
  assertVersion(version);
  await withContext(g, {}, async (ctx) => {
    checkTlsConfig(ctx.config);
    assertVersion(version, ctx.config.subdomains);
    let shipped: Record<string, number | null> = {};
    await withLocks(ctx, `install ${version}`, g.wait, async () => {
      shipped = Object.fromEntries((await onHosts(ctx, `install ${version}`, (a) => installOn(ctx, a, version))).map((b, i) => [ctx.hosts[i]!.name, b]));
    });
    reportInstalled(ctx, version, o.json, null, shipped);
  });
}
