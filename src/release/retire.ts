import { DeplError } from "../errors.js";
import { docker } from "../images/docker-argv.js";
import { programState, startProgram, stopProgram } from "../supervisor/ctl.js";
import { versionTarget } from "../switch/plan.js";
import { readTraffic, routeVersion, unrouteVersion, type TrafficState } from "../switch/traffic.js";
import { audit } from "./audit.js";
import { roleOf } from "./inventory.js";
import { releaseProcesses } from "./workers.js";
import { appContainers, processesOnHost, retireContainer, retireProcess } from "./retire-process.js";
import { programName } from "../naming/layout.js";
import type { OnHost } from "./on-host.js";
import { readRelease, type ReleaseMeta } from "./metadata.js";
import { assertVersion } from "../naming/version.js";
import { runSteps } from "./steps.js";
import { staticCopyContainer } from "./static.js";
import { faultPoint } from "./fault.js";
import { connectionsText, drainRelease, DrainTimeoutError } from "./drain.js";

export interface RemoveOptions {
  /** Until when to wait for open connections (ms since the epoch); default now + drain_timeout. */
  drainUntil?: number;
  /** Stop at once, closing any open connection. */
  force?: boolean;
}

/**
 * Stops and removes one release; never live, previous or canary; never touches shared/.
 * Its processes are those it was installed with (release.json) and any the host
 * still has of it (processesOnHost), whatever depl.yml says now.
 * Steps: unroute, stop (both undone if a later step fails), then delete, whose
 * parts are idempotent and end with the release directory: a removal killed
 * midway is finished by running it again. Between unroute and stop it waits
 * for the release's open connections to close (drain_timeout), and refuses
 * (DrainTimeoutError, the route put back) when some are still open then,
 * unless forced.
 */
export async function removeRelease(a: OnHost, version: string, why = "remove", o: RemoveOptions = {}): Promise<void> {
  const { host, layout: l, config } = a;
  assertVersion(version);
  const t = await readTraffic(host, l);
  const role = roleOf(version, t);
  if (role) throw new DeplError(`${host.name}: refusing to remove ${version}: it is the ${role} version${role === "previous" ? " (the rollback target)" : ""}`);
  if (!(await host.exists(l.release(version)))) throw new DeplError(`${host.name}: version ${version} is not installed`);
  const meta = await readRelease(host, l, version);
  // What the release was installed with and what the host still has of it, not today's depl.yml.
  const others = (await host.list(l.releases)).filter((v) => v !== version);
  const processes = await processesOnHost(host, l, config.app, version, Object.keys(releaseProcesses(meta, config)), others);
  const programs = processes.map((p) => ({ process: p, program: programName(config.app, version, p) }));
  await runSteps("remove", a.say, async (s) => {
    await s.step(
      "unroute",
      async () => {
        const routed = (await host.readlink(l.versionLink(version))) === versionTarget(version);
        await unrouteVersion(host, l, version);
        if (meta?.alias && (await host.readlink(l.versionLink(meta.alias))) === versionTarget(version)) await host.remove(l.versionLink(meta.alias));
        return routed;
      },
      async (routed) => (routed ? routeVersion(host, l, version) : undefined),
    );
    const started = Date.now();
    const deadline = o.force ? started : (o.drainUntil ?? started + config.drain_timeout);
    const open = await drainRelease(a, version, { deadline, stop: () => s.isInterrupted });
    const forcing = Boolean(open && o.force);
    if (open && o.force) a.say(`${host.name}: ${version}: closing ${connectionsText(open)} (--force)`);
    else if (open && !s.isInterrupted) {
      await audit(host, l, { actor: a.actor, action: why, version, result: "refused", detail: `${connectionsText(open)} after drain_timeout` });
      throw new DrainTimeoutError(host.name, version, open, Date.now() - started);
    }
    await s.step(
      "stop",
      async () => {
        const running: string[] = [];
        for (const { process, program } of programs) {
          if ((await programState(host, program)) === "RUNNING") running.push(program);
          // --force: the app gets FORCE_GRACE_SECONDS instead of gunicorn's graceful wait for open sockets.
          await stopProgram(host, program, forcing && process === "web" ? { graceSeconds: FORCE_GRACE_SECONDS } : {});
        }
        return running;
      },
      async (running) => {
        for (const program of running) await startProgram(host, program);
      },
    );
    s.commit();
    await s.step("delete", async () => {
      for (const process of processes) {
        await retireProcess(host, l, config.app, version, process, { graceSeconds: forcing && process === "web" ? FORCE_GRACE_SECONDS : undefined });
        await host.remove(l.processLog(version, process));
      }
      // One-off containers of the release (a hook or depl exec that was killed, a static copy).
      for (const c of await appContainers(host, config.app)) {
        if (c.version === version || c.name === staticCopyContainer(config.app, version)) await retireContainer(host, c.name, FORCE_GRACE_SECONDS);
      }
      // Removes the tag; the image goes with it unless another tag (release) still uses it.
      await host.run(docker.removeImage(`${config.app}:${version}`), { allowFailure: true });
      await host.remove(l.release(version));
    });
  });
  await audit(host, l, { actor: a.actor, action: why, version, result: "ok" });
}

/** Seconds the app gets to close its connections when remove --force stops it (else gunicorn waits up to its graceful timeout, 20 s). */
export const FORCE_GRACE_SECONDS = 2;


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
  const candidates = pruneCandidates(metas, t, p);
  const gone: string[] = [];
  // One drain deadline for the whole prune: releases that still hold connections cost drain_timeout once, not each.
  const drainUntil = Date.now() + a.config.drain_timeout;
  for (const v of candidates) {
    a.say(`${host.name}: pruning ${v}`);
    if (!(await removeUnlessHeld(a, v, "prune", drainUntil))) continue;
    gone.push(v);
    faultPoint(`prune:removed-${candidates.indexOf(v) + 1}`);
  }
  await host.run(docker.pruneImages(a.config.app), { allowFailure: true });
  return gone;
}

/**
 * removeRelease for prune and a branch's rebuild: a release that still holds
 * connections after the drain is left installed, saying so; false then.
 */
export async function removeUnlessHeld(a: OnHost, version: string, why: string, drainUntil?: number): Promise<boolean> {
  try {
    await removeRelease(a, version, why, { drainUntil });
    return true;
  } catch (e) {
    if (!(e instanceof DrainTimeoutError)) throw e;
    a.say(new DrainTimeoutError(e.host, version, e.open, e.waitedMs, why === "prune" ? "not pruning" : "not removing").message);
    return false;
  }
}
