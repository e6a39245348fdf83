import { DeplError } from "../errors.js";
import { removeProgram } from "../supervisor/ctl.js";
import { containerName } from "../supervisor/program.js";
import { versionTarget } from "../switch/plan.js";
import { readTraffic, unrouteVersion, type TrafficState } from "../switch/traffic.js";
import { audit } from "./audit.js";
import { roleOf } from "./inventory.js";
import { processNames } from "./install.js";
import { programName } from "./layout.js";
import type { OnHost } from "./on-host.js";
import { readRelease, type ReleaseMeta } from "./metadata.js";
import { assertVersion } from "./version.js";

/** Stops and removes one release; never live, previous or canary; never touches shared/. */
export async function removeRelease(a: OnHost, version: string, why = "remove"): Promise<void> {
  const { host, layout: l, config } = a;
  assertVersion(version);
  const t = await readTraffic(host, l);
  const role = roleOf(version, t);
  if (role) throw new DeplError(`${host.name}: refusing to remove ${version}: it is the ${role} version${role === "previous" ? " (the rollback target)" : ""}`);
  if (!(await host.exists(l.release(version)))) throw new DeplError(`${host.name}: version ${version} is not installed`);
  await unrouteVersion(host, l, version);
  const meta = await readRelease(host, l, version);
  if (meta?.alias && (await host.readlink(l.versionLink(meta.alias))) === versionTarget(version)) await host.remove(l.versionLink(meta.alias));
  for (const process of processNames(config)) {
    const program = programName(config.app, version, process);
    await removeProgram(host, program, l.programConf(program));
    await host.run(["docker", "rm", "-f", containerName(config.app, version, process)], { allowFailure: true });
    await host.remove(l.processLog(version, process));
  }
  await host.remove(l.release(version));
  // Removes the tag; the image goes with it unless another tag (release) still uses it.
  await host.run(["docker", "image", "rm", `${config.app}:${version}`], { allowFailure: true });
  await audit(host, l, { actor: a.actor, action: why, version, result: "ok" });
}

export interface PrunePolicy {
  keep: number;
  keepDays: number | null;
  now: Date;
}

/** Which versions prune removes. Pure: protected ones, the newest `keep` successful ones, recent and kept ones stay. */
export function pruneCandidates(releases: ReleaseMeta[], t: TrafficState, p: PrunePolicy): string[] {
  const byNewest = [...releases].sort((x, y) => y.built_at.localeCompare(x.built_at) || y.version.localeCompare(x.version));
  const keep = new Set<string>();
  let successful = 0;
  for (const r of byNewest) {
    if (roleOf(r.version, t)) keep.add(r.version);
    else if (r.alias) keep.add(r.version); // a branch preview: replaced by its rebuild, removed by depl remove
    else if (r.keep_until && new Date(r.keep_until) > p.now) keep.add(r.version);
    else if (p.keepDays !== null && p.now.getTime() - new Date(r.built_at).getTime() < p.keepDays * 86_400_000) keep.add(r.version);
    if (r.state !== "failed" && r.state !== "installing" && successful < p.keep) {
      successful++;
      keep.add(r.version);
    }
  }
  return byNewest.filter((r) => !keep.has(r.version)).map((r) => r.version);
}

export async function prune(a: OnHost, p: PrunePolicy): Promise<string[]> {
  const { host, layout: l } = a;
  const t = await readTraffic(host, l);
  const metas: ReleaseMeta[] = [];
  for (const v of await host.list(l.releases)) {
    const m = await readRelease(host, l, v);
    if (m) metas.push(m);
  }
  const gone = pruneCandidates(metas, t, p);
  for (const v of gone) {
    a.say(`${host.name}: pruning ${v}`);
    await removeRelease(a, v, "prune");
  }
  await host.run(["docker", "image", "prune", "-f", "--filter", `label=depl.app=${a.config.app}`], { allowFailure: true });
  return gone;
}
