import { DeplError } from "../errors.js";
import { programState } from "../supervisor/ctl.js";
import { readTraffic, readTrafficLinks, restoreTraffic, setCanary, setLive, stopCanary } from "../switch/traffic.js";
import { audit } from "./audit.js";
import { checkHealthOnce } from "./health.js";
import { programName } from "../naming/layout.js";
import type { OnHost } from "./on-host.js";
import { readRelease } from "./metadata.js";
import { versionServedByNginx } from "./nginx-check.js";
import { assertVersion } from "../naming/version.js";
import { setLiveWorkers } from "./workers.js";
import { faultPoint } from "./fault.js";

/** Refuses a version that is not installed, not running or not healthy right now. */
export async function assertServable(a: OnHost, version: string): Promise<void> {
  const { host, layout: l, config } = a;
  assertVersion(version, config.subdomains);
  const meta = await readRelease(host, l, version);
  if (!meta) throw new DeplError(`${host.name}: version ${version} is not installed (depl list shows what is)`);
  if (meta.state !== "installed") throw new DeplError(`${host.name}: version ${version} is ${meta.state}, not installed: only a healthy installed version can take traffic`);
  const program = programName(config.app, version);
  const state = await programState(host, program);
  if (state !== "RUNNING") throw new DeplError(`${host.name}: version ${version} is not running (supervisord: ${state})`);
  // Its load check passed at install: one request says it still answers.
  const h = await checkHealthOnce(host, { socketPath: l.socket(version), path: config.health.path, hostHeader: config.domain, timeoutMs: 10_000 });
  if (!h.ok) throw new DeplError(`${host.name}: version ${version} is not healthy: ${h.reason}`);
}

async function saveState(a: OnHost) {
  const t = await readTraffic(a.host, a.layout);
  await a.host.writeFile(a.layout.stateJson, JSON.stringify({ ...t, updated_at: new Date().toISOString() }, null, 2) + "\n");
  return t;
}

/**
 * Moves the live-only workers from the live version to `version`, then
 * points the base domain at it (one rename) and checks through nginx that it
 * answers. Workers are stopped before the new ones start, so two releases'
 * workers never run at once (a queue is briefly unserved instead). Any
 * failure puts traffic and workers back as they were and says so.
 */
export async function promote(a: OnHost, version: string, action: "promote" | "rollback" = "promote"): Promise<void> {
  const { host, layout: l, config } = a;
  await assertServable(a, version);
  const before = await readTraffic(host, l);
  if (before.live === version) {
    // Also what a rerun after a killed switch finds: finish what it left (workers, check, canary, record).
    a.say(`${host.name}: ${version} is already live`);
    await setLiveWorkers(a, version, true);
    const check = await versionServedByNginx(host, config);
    if (check.status !== 200 || check.version !== version) {
      throw new DeplError(`${host.name}: ${version} is live but nginx served ${check.version ?? "no version"} with status ${check.status || "none"} (depl doctor, or promote another version)`);
    }
    if (before.canary?.version === version) await stopCanary(host, l);
    const recorded = await host.readFile(l.stateJson);
    if (!recorded || (JSON.parse(recorded) as { live?: string }).live !== version) {
      const after = await saveState(a);
      await audit(host, l, { actor: a.actor, action, version, from: null, to: after, result: "ok", detail: "finished an interrupted switch" });
    }
    return;
  }
  const started = Date.now();
  const restoreWorkers = async () => {
    await setLiveWorkers(a, version, false).catch((e: Error) => a.say(`${host.name}: ${e.message}`));
    if (before.live) await setLiveWorkers(a, before.live, true).catch((e: Error) => a.say(`${host.name}: ${e.message}`));
  };
  const failed = async (why: string): Promise<never> => {
    await restoreWorkers();
    await audit(host, l, { actor: a.actor, action, version, from: before.live, to: version, result: "failed", detail: `${why}; restored ${before.live ?? "nothing"}` });
    await saveState(a);
    throw new DeplError(`${host.name}: ${why}; ${before.live ? `${before.live} stays live with its workers` : "no version is live"}`);
  };

  if (before.live) await setLiveWorkers(a, before.live, false);
  try {
    await setLiveWorkers(a, version, true);
  } catch (e) {
    await failed(`${action} to ${version} stopped: ${(e as Error).message.replace(`${host.name}: `, "")}`);
  }

  faultPoint(`${action}:workers`);
  // Every traffic link as found: the undo puts back exactly these (live AND previous, statics, buckets).
  const snapshot = await readTrafficLinks(host, l);
  let check: Awaited<ReturnType<typeof versionServedByNginx>>;
  try {
    await setLive(host, l, version);
    faultPoint(`${action}:switched`);
    check = await versionServedByNginx(host, config);
  } catch (e) {
    await restoreTraffic(host, l, snapshot);
    return failed(`switching to ${version} failed: ${(e as Error).message}; switched back to ${before.live ?? "no live version"}`);
  }
  if (check.status !== 200 || check.version !== version) {
    const why = `nginx served ${check.version ?? "no version"} with status ${check.status || "none"}`;
    await restoreTraffic(host, l, snapshot); // no live version before: none now, rather than a broken one
    await failed(`after switching to ${version}, ${why}; switched back to ${before.live ?? "no live version"}`);
  }
  if (before.canary && before.canary.version === version) await stopCanary(host, l);
  const after = await saveState(a);
  await audit(host, l, { actor: a.actor, action, version, from: before, to: after, result: "ok", detail: `${Date.now() - started} ms` });
}

/**
 * Stops the live version's live-only workers on this host ahead of a promote
 * to `version`: with several hosts, every old worker stops before any new
 * one starts. Nothing is stopped when `version` is already live.
 */
export async function stopWorkersBeforePromote(a: OnHost, version: string): Promise<void> {
  const t = await readTraffic(a.host, a.layout);
  if (!t.live || t.live === version) return;
  await setLiveWorkers(a, t.live, false);
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

/** Back to the previous live version, or to a named installed one. */
export async function rollback(a: OnHost, version?: string): Promise<string> {
  const target = await rollbackTarget(a, version);
  await promote(a, target, "rollback");
  return target;
}

export async function canary(a: OnHost, version: string, percent: number): Promise<void> {
  const { host, layout: l } = a;
  await assertServable(a, version);
  const before = await readTraffic(host, l);
  const snapshot = await readTrafficLinks(host, l);
  try {
    await setCanary(host, l, version, percent); // refuses a canary with no live version, or of the live one
  } catch (e) {
    await restoreTraffic(host, l, snapshot);
    throw e;
  }
  faultPoint("canary:switched");
  const after = await saveState(a);
  await audit(host, l, { actor: a.actor, action: "canary", version, from: before.canary, to: after.canary, result: "ok" });
}

export async function canaryStop(a: OnHost): Promise<void> {
  const { host, layout: l } = a;
  const before = await readTraffic(host, l);
  if (!before.canary) {
    a.say(`${host.name}: no canary is running`);
    return;
  }
  const snapshot = await readTrafficLinks(host, l);
  try {
    await stopCanary(host, l);
  } catch (e) {
    await restoreTraffic(host, l, snapshot);
    throw e;
  }
  await saveState(a);
  await audit(host, l, { actor: a.actor, action: "canary-stop", version: before.canary.version, from: before.canary, to: null, result: "ok" });
}
