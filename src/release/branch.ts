import { DeplError } from "../errors.js";
import { versionTarget } from "../switch/plan.js";
import { readTraffic } from "../switch/traffic.js";
import { audit } from "./audit.js";
import type { OnHost } from "./on-host.js";
import { roleOf } from "./inventory.js";
import { readRelease } from "./metadata.js";
import { removeUnlessHeld } from "./retire.js";

/**
 * Points <alias>.<domain> at the newly installed (healthy) version with one
 * rename, then removes the branch's older releases that carry no traffic.
 */
export async function replaceBranchRelease(a: OnHost, alias: string, version: string): Promise<void> {
  const { host, layout: l } = a;
  if (await host.exists(l.release(alias))) {
    throw new DeplError(`${host.name}: a release is named ${alias}: the branch preview cannot take that name`);
  }
  await host.symlinkAtomic(versionTarget(version), l.versionLink(alias));
  const t = await readTraffic(host, l);
  for (const v of await host.list(l.releases)) {
    if (v === version) continue;
    const meta = await readRelease(host, l, v);
    if (meta?.alias !== alias) continue;
    if (roleOf(v, t)) {
      a.say(`${host.name}: keeping ${v} (branch ${alias}): it is ${roleOf(v, t)}`);
      continue;
    }
    a.say(`${host.name}: removing ${v}, the branch's previous release`);
    await removeUnlessHeld(a, v, "replace-branch");
  }
  await audit(host, l, { actor: a.actor, action: "branch", version, to: alias, result: "ok" });
}
