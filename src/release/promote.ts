import { DeplError, UsageError } from "../errors.js";
import { programState } from "../supervisor/ctl.js";
import { readTraffic, readTrafficLinks, stopCanary } from "../switch/traffic.js";
import { describeTraffic, planSetCanary, planSetLive, planStopCanary } from "../switch/plan.js";
import { fanOut, reasonOf } from "../host/fanout.js";
import { describeSkew, switchFleet, type FleetSwitch } from "./fleet.js";
import { audit } from "./audit.js";
import { checkHealthOnce } from "./health.js";
import { programName } from "../naming/layout.js";
import { servesWeb, type OnHost } from "./on-host.js";
import { readRelease } from "./metadata.js";
import { versionServedByNginx } from "./nginx-check.js";
import { assertVersion } from "../naming/version.js";
import { setLiveWorkers } from "./workers.js";
import { ensureReleasePhase } from "./phase.js";
import { faultPoint } from "./fault.js";
import { HEALTH_REQUEST_MS } from "../timeouts.js";

/** Refuses a version that is not installed, not running or not healthy right now. */
export async function assertServable(a: OnHost, version: string): Promise<void> {
  const { host, layout: l, config } = a;
  assertVersion(version, config.subdomains);
  const meta = await readRelease(host, l, version);
  if (!meta) throw new DeplError(`${host.name}: version ${version} is not installed (depl list shows what is)`);
  if (meta.state !== "installed") throw new DeplError(`${host.name}: version ${version} is ${meta.state}, not installed: only a healthy installed version can take traffic`);
  if (!servesWeb(a)) return; // a worker-only host: no web process to check
  const program = programName(config.app, version);
  const state = await programState(host, program);
  if (state !== "RUNNING") throw new DeplError(`${host.name}: version ${version} is not running (supervisord: ${state})`);
  // Its load check passed at install: one request says it still answers.
  const h = await checkHealthOnce(host, { socketPath: l.socket(version), path: config.health.path, hostHeader: config.domain, timeoutMs: HEALTH_REQUEST_MS });
  if (!h.ok) throw new DeplError(`${host.name}: version ${version} is not healthy: ${h.reason}`);
}

async function saveState(a: OnHost) {
  const t = await readTraffic(a.host, a.layout);
  await a.host.writeFile(a.layout.stateJson, JSON.stringify({ ...t, updated_at: new Date().toISOString() }, null, 2) + "\n");
  return t;
}

/** Runs fn on every host at once; throws one error naming each host that failed and why, with `then` appended. */
async function onEach<T>(hosts: readonly OnHost[], fn: (a: OnHost, i: number) => Promise<T>, then: string): Promise<T[]> {
  const out = await fanOut(hosts.map((a, i) => ({ name: a.host.name, a, i })), ({ a, i }) => fn(a, i), hosts.length);
  const bad = out.filter((o) => !o.ok);
  // A usage error (a canary of the live version...) is the same on every host: exit 2, said once.
  const usage = bad.find((o) => o.error instanceof UsageError);
  if (usage) throw usage.error!;
  if (bad.length === 1 && hosts.length === 1) throw new DeplError(`${bad[0]!.error!.message}${then ? `; ${then}` : ""}`);
  if (bad.length) throw new DeplError(`${bad.map((o) => `${o.host}: ${reasonOf(o.host, o.error!)}`).join("; ")}${then ? `; ${then}` : ""}`);
  return out.map((o) => o.value as T);
}

export interface SwitchReport extends FleetSwitch {
  /** The version each host's traffic went to (promote, rollback, canary). */
  versions: Record<string, string>;
}

/**
 * Makes `target(a)` live on every host with one switch for all: every host
 * checked (installed, running, healthy), the live-only workers moved (all old
 * ones stop before any new one starts), then the base domain renamed on all
 * hosts at once and checked through each host's nginx. Any failure puts
 * traffic and workers back as they were on every host and says which host
 * failed and why. A rerun after an interrupted promote finishes it: hosts
 * already switched have nothing to rename and are only checked.
 */
export async function promote(hosts: readonly OnHost[], target: (a: OnHost) => string, action: "promote" | "rollback" = "promote", o: { skipRelease?: boolean } = {}): Promise<SwitchReport> {
  const started = Date.now();
  const versions = Object.fromEntries(hosts.map((a) => [a.host.name, target(a)]));
  await onEach(hosts, (a) => assertServable(a, target(a)), "nothing was changed");
  const before = await onEach(hosts, (a) => readTraffic(a.host, a.layout), "");
  if (hosts.every((a, i) => before[i]!.live === target(a))) for (const a of hosts) a.say(`${a.host.name}: ${target(a)} is already live`);

  const restoreWorkers = () =>
    Promise.all(
      hosts.map(async (a, i) => {
        const old = before[i]!.live;
        if (old === target(a)) return;
        await setLiveWorkers(a, target(a), false).catch((e: Error) => a.say(`${a.host.name}: ${e.message}`));
        if (old) await setLiveWorkers(a, old, true).catch((e: Error) => a.say(`${a.host.name}: ${e.message}`));
      }),
    );
  const failed = async (why: string): Promise<never> => {
    await restoreWorkers();
    await Promise.all(
      hosts.map(async (a, i) => {
        const old = before[i]!.live;
        await audit(a.host, a.layout, { actor: a.actor, action, version: target(a), from: old, to: target(a), result: "failed", detail: `${why}; restored ${old ?? "nothing"}` }).catch(() => undefined);
        await saveState(a).catch(() => undefined);
      }),
    );
    const stays = hosts.length === 1 ? (before[0]!.live ? `${before[0]!.live} stays live with its workers` : "no version is live") : "every host keeps its live version and workers";
    throw new DeplError(`${why}; ${stays}`);
  };

  // The release phase (migrations) runs once per version, before it first takes traffic; never for a rollback.
  if (action === "promote" && !hosts.every((a, i) => before[i]!.live === target(a))) {
    try {
      await ensureReleasePhase(hosts, target(hosts[0]!), { action, skip: o.skipRelease });
    } catch (e) {
      await failed(`${action} stopped: ${(e as Error).message}`);
    }
  }
  if (action === "promote") faultPoint("promote:release");

  // Workers: every host's old live-only workers stop before any new one starts.
  try {
    await onEach(hosts, async (a, i) => {
      const old = before[i]!.live;
      if (old && old !== target(a)) await setLiveWorkers(a, old, false);
    }, "");
    await onEach(hosts, (a) => setLiveWorkers(a, target(a), true).then(() => undefined), "");
  } catch (e) {
    await failed(`${action} stopped: ${(e as Error).message}`);
  }
  faultPoint(`${action}:workers`);

  let sw: FleetSwitch;
  try {
    sw = await switchFleet(hosts, {
      action,
      plan: async (a, links) => ({ ops: planSetLive(a.layout, links, target(a)) }),
      verify: async (a) => {
        if (!servesWeb(a)) return;
        const check = await versionServedByNginx(a.host, a.config);
        if (check.status !== 200 || check.version !== target(a)) {
          throw new Error(`after switching to ${target(a)}, nginx served ${check.version ?? "no version"} with status ${check.status || "none"}`);
        }
      },
    });
  } catch (e) {
    return failed((e as Error).message);
  }
  const detail = `${Date.now() - started} ms${sw.skewMs === null ? "" : `, ${describeSkew(sw)}`}`;
  await onEach(hosts, async (a, i) => {
    if (before[i]!.canary?.version === target(a)) await stopCanary(a.host, a.layout);
    const after = await saveState(a);
    const recorded = before[i]!.live === target(a);
    await audit(a.host, a.layout, { actor: a.actor, action, version: target(a), from: before[i], to: after, result: "ok", detail: recorded ? "finished an interrupted switch" : detail });
  }, "");
  return { ...sw, versions };
}

/** The version a rollback goes to on this host. */
export async function rollbackTarget(a: OnHost, version?: string): Promise<string> {
  const t = await readTraffic(a.host, a.layout);
  const target = version ?? t.previous;
  if (!target) throw new DeplError(`${a.host.name}: there is no previous version to roll back to`);
  // A named version that is already live is what a rerun after a killed rollback finds: promote finishes it.
  if (target === t.live && version === undefined) throw new DeplError(`${a.host.name}: ${target} is already live`);
  return target;
}

/** A sticky share of clients to `version` on every host, in one switch for all. */
export async function canary(hosts: readonly OnHost[], version: string, percent: number, o: { skipRelease?: boolean } = {}): Promise<SwitchReport> {
  await onEach(hosts, (a) => assertServable(a, version), "nothing was changed");
  const before = await onEach(hosts, async (a) => {
    const links = await readTrafficLinks(a.host, a.layout);
    planSetCanary(a.layout, links, version, percent); // refuses a canary with no live version, or of the live one
    return describeTraffic(links);
  }, "nothing was changed");
  // A canary is real traffic: the version's release phase runs first (once).
  await ensureReleasePhase(hosts, version, { action: "canary", skip: o.skipRelease });
  const sw = await switchFleet(hosts, { action: "canary", plan: async (a, links) => ({ ops: planSetCanary(a.layout, links, version, percent) }) });
  await onEach(hosts, async (a, i) => {
    const after = await saveState(a);
    await audit(a.host, a.layout, { actor: a.actor, action: "canary", version, from: before[i]!.canary, to: after.canary, result: "ok", detail: describeSkew(sw) || undefined });
  }, "");
  return { ...sw, versions: Object.fromEntries(hosts.map((a) => [a.host.name, version])) };
}

/** Every client back on live, on every host at once; null when no host had a canary. */
export async function canaryStop(hosts: readonly OnHost[]): Promise<SwitchReport | null> {
  const before = await onEach(hosts, (a) => readTraffic(a.host, a.layout), "");
  const running = hosts.filter((_, i) => before[i]!.canary);
  if (running.length === 0) {
    for (const a of hosts) a.say(`${a.host.name}: no canary is running`);
    return null;
  }
  const sw = await switchFleet(running, { action: "canary-stop", plan: async (a, links) => ({ ops: planStopCanary(a.layout, links) }) });
  await onEach(running, async (a) => {
    const was = before[hosts.indexOf(a)]!.canary!;
    await saveState(a);
    await audit(a.host, a.layout, { actor: a.actor, action: "canary-stop", version: was.version, from: was, to: null, result: "ok", detail: describeSkew(sw) || undefined });
  }, "");
  return { ...sw, versions: Object.fromEntries(running.map((a) => [a.host.name, before[hosts.indexOf(a)]!.live ?? ""])) };
}
