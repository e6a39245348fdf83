import type { Host } from "../host/host.js";
import { docker } from "../images/docker-argv.js";
import { applySite, expectedSiteFiles } from "../nginx/apply.js";
import { servedCertificates } from "../tls/install.js";
import { expiryText } from "../tls/certificates.js";
import { programState, startProgram, type ProgramState } from "../supervisor/ctl.js";
import { releaseTarget, versionTarget } from "../switch/plan.js";
import { ensureTrafficDirs, readTraffic, routeVersion, type TrafficState } from "../switch/traffic.js";
import { runScript } from "../host/scripts.js";
import { roleOf, type Role } from "./inventory.js";
import { programName } from "../naming/layout.js";
import { describeLock, isStale, readLock } from "./lock.js";
import { readRelease } from "./metadata.js";
import { releaseProcesses } from "./workers.js";
import { describeOrphan, findOrphans, removeOrphan } from "./orphans.js";
import type { RecordedRelease } from "./owners.js";
import { runsWorkers, servesWeb, type OnHost } from "./on-host.js";

// `depl doctor`: compares a host with what depl recorded (services, site,
// traffic links, each installed release's programs and routes), repairs
// what it can, and says what it found and did.

export type FindingStatus = "ok" | "fixed" | "broken" | "warning";

export interface Finding {
  host: string;
  check: string;
  status: FindingStatus;
  detail: string;
}

export interface DoctorOptions {
  /** Report only: change nothing. */
  dryRun: boolean;
  /** How long a restarted program may take to answer its health check. */
  healthTimeoutMs: number;
}

const SERVICES = ["docker", "nginx", "supervisor"] as const;
type Service = (typeof SERVICES)[number];

/** The shell test for each service on the host: exit 0 when it answers. Pure. */
export function serviceProbe(s: Service): string[] {
  switch (s) {
    case "docker":
      return docker.info();
    case "nginx":
      return ["sh", "-c", 'p=$(cat /run/nginx.pid 2>/dev/null) && [ -n "$p" ] && kill -0 "$p"'];
    case "supervisor":
      // supervisorctl exits 3 when some program is not running: the daemon still answered.
      return ["sh", "-c", 'supervisorctl status >/dev/null 2>&1; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ]'];
  }
}

/**
 * Which processes of a release should be running: web always, a worker in
 * the live release or when it opts into every release. Pure.
 */
export function expectedRunning(processes: Record<string, { every_release: boolean }>, role: Role): string[] {
  return ["web", ...Object.entries(processes).filter(([, p]) => p.every_release || role === "live").map(([name]) => name)];
}

/** What state.json says the traffic was after the last change depl made. */
export async function readRecordedTraffic(host: Host, stateJson: string): Promise<TrafficState | null> {
  const text = await host.readFile(stateJson);
  if (!text) return null;
  try {
    const t = JSON.parse(text) as TrafficState;
    return { live: t.live ?? null, previous: t.previous ?? null, canary: t.canary ?? null };
  } catch {
    return null;
  }
}

export async function doctorHost(a: OnHost, o: DoctorOptions): Promise<Finding[]> {
  const { host, layout: l, config } = a;
  const out: Finding[] = [];
  const note = (check: string, status: FindingStatus, detail: string) => {
    out.push({ host: host.name, check, status, detail });
    a.say(`${host.name}: ${status.padEnd(7)} ${check}: ${detail}`);
  };

  // 1. Services. Everything below needs them.
  const web = servesWeb(a);
  const down: Service[] = [];
  for (const s of SERVICES.filter((s) => web || s !== "nginx")) {
    const r = await host.run(serviceProbe(s), { allowFailure: true });
    if (r.code !== 0) down.push(s);
  }
  if (down.length === 0) note("services", "ok", web ? "docker, nginx and supervisord answer" : "docker and supervisord answer (a worker-only host)");
  else if (o.dryRun) note("services", "broken", `not answering: ${down.join(", ")}`);
  else {
    await runScript(host, "services.sh", ["start", ...down], a.say).catch(() => undefined);
    const still: Service[] = [];
    for (const s of down) if ((await host.run(serviceProbe(s), { allowFailure: true })).code !== 0) still.push(s);
    if (still.length) note("services", "broken", `still not answering after a start: ${still.join(", ")}`);
    else note("services", "fixed", `started ${down.join(", ")}`);
  }
  if (down.includes("supervisor") || down.includes("docker")) {
    // Without them the release checks below only repeat the same failure.
    if (out.some((f) => f.check === "services" && f.status === "broken")) return out;
  }

  // 2. Lock.
  const lock = await readLock(host, l);
  if (lock) note("lock", isStale(lock) ? "warning" : "ok", describeLock(lock, isStale(lock)));

  // 3. The nginx site and the traffic directories (a worker-only host has no site).
  if (web) await checkSite(a, o, note);
  if (web && config.tls) await checkCertificates(a, note);

  // 4. Releases: programs, health, preview routes.
  const traffic = await readTraffic(host, l);
  const versions = await host.list(l.releases);
  const recorded: RecordedRelease[] = [];
  for (const version of versions) {
    const meta = await readRelease(host, l, version);
    if (meta) recorded.push({ version, processes: meta.processes });
    if (!meta) {
      note(`release ${version}`, "warning", "no release.json: not made by depl, or half removed (depl remove)");
      continue;
    }
    if (meta.state === "installing") {
      const held = lock && !isStale(lock);
      note(`release ${version}`, held ? "ok" : "broken", held ? "being installed" : "an install was interrupted: depl buildinst --resume, or depl remove " + version);
      continue;
    }
    if (meta.state !== "installed") {
      note(`release ${version}`, "ok", `${meta.state}${meta.error ? ` (${meta.error.split("\n")[0]})` : ""}: not expected to run`);
      continue;
    }
    const role = roleOf(version, traffic);
    for (const process of expectedRunning(releaseProcesses(meta, config), role)) {
      if (process === "web" ? !web : !runsWorkers(a)) continue;
      await checkProgram(a, o, note, version, process);
    }
    if (!web) continue;
    const routed = (await host.readlink(l.versionLink(version))) === versionTarget(version);
    if (routed) continue;
    if (o.dryRun) note(`route ${version}`, "broken", `${l.versionLink(version)} is missing: the preview answers 404`);
    else {
      await routeVersion(host, l, version);
      note(`route ${version}`, "fixed", `preview route ${l.versionLink(version)} restored`);
    }
  }

  // 5. What no recorded release owns: programs, confs, links, containers, routes, traffic links.
  const orphans = await findOrphans(host, l, config.app, recorded);
  for (const orphan of orphans) {
    const { check, detail } = describeOrphan(orphan);
    if (o.dryRun) {
      note(check, "broken", detail);
      continue;
    }
    try {
      await removeOrphan(host, l, config.app, orphan);
      if (orphan.kind === "traffic") await forgetTraffic(host, l.stateJson, orphan.version);
      note(check, "fixed", `${detail}: removed`);
    } catch (e) {
      note(check, "broken", `${detail}; could not remove it: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (orphans.length === 0) note("orphans", "ok", "nothing of the app outside its recorded releases");

  // 6. Traffic links against state.json.
  await checkTraffic(a, o, note, await readTraffic(host, l), versions);
  return out;
}

/** state.json without a previous or canary that named `version` (its link was just removed as an orphan). */
async function forgetTraffic(host: Host, stateJson: string, version: string): Promise<void> {
  const text = await host.readFile(stateJson);
  if (!text) return;
  const t = JSON.parse(text) as Record<string, unknown> & { previous?: string | null; canary?: { version: string } | null };
  if (t.previous !== version && t.canary?.version !== version) return;
  if (t.previous === version) t.previous = null;
  if (t.canary?.version === version) t.canary = null;
  await host.writeFile(stateJson, JSON.stringify(t, null, 2) + "\n");
}

type Note = (check: string, status: FindingStatus, detail: string) => void;

async function checkSite(a: OnHost, o: DoctorOptions, note: Note): Promise<void> {
  const { host, layout: l, config } = a;
  let files;
  try {
    files = await expectedSiteFiles(host, config);
  } catch (e) {
    return note("nginx site", "broken", (e as Error).message);
  }
  let inSync = true;
  for (const f of [files.site, files.include, files.http]) if ((await host.readFile(f.path)) !== f.text) inSync = false;
  if (inSync) note("nginx site", "ok", files.site.path);
  else if (o.dryRun) note("nginx site", "broken", `${files.site.path} differs from depl.yml's rendering (or is missing)`);
  else {
    try {
      await ensureTrafficDirs(host, l);
      await applySite(host, config);
      note("nginx site", "fixed", `rewrote and reloaded ${files.site.path}`);
    } catch (e) {
      note("nginx site", "broken", (e as Error).message);
    }
  }
}

/** Days a certificate may have left before doctor warns: renewal tools (certbot) renew at 30. */
export const CERT_WARN_DAYS = 14;

async function checkCertificates(a: OnHost, note: Note): Promise<void> {
  for (const c of await servedCertificates(a.host, a.layout)) {
    const days = (c.notAfter.getTime() - Date.now()) / 86_400_000;
    const status: FindingStatus = days < 0 ? "broken" : days < CERT_WARN_DAYS ? "warning" : "ok";
    note(`certificate ${c.names.join(",") || c.path}`, status, `${expiryText(c.notAfter)}${status === "ok" ? "" : ": renew it, then depl tls renew"}`);
  }
}

async function checkProgram(a: OnHost, o: DoctorOptions, note: Note, version: string, process: string): Promise<void> {
  const { host, layout: l, config } = a;
  const program = programName(config.app, version, process);
  const check = `program ${program}`;
  let state: ProgramState = await programState(host, program);
  if (state === "RUNNING") {
    if (process !== "web") return note(check, "ok", "RUNNING");
    const r = await host.httpGetUnix(l.socket(version), config.health.path, { host: config.domain, timeoutMs: 5000 }).catch((e: Error) => e);
    if (!(r instanceof Error) && r.status === 200) return note(check, "ok", `RUNNING, ${config.health.path} answers 200`);
    return note(check, "broken", `RUNNING but ${config.health.path} ${r instanceof Error ? `fails: ${r.message.split("\n")[0]}` : `answers ${r.status}`}`);
  }
  if (o.dryRun || state === "ABSENT") {
    return note(check, "broken", state === "ABSENT" ? "not known to supervisord (its conf is missing: reinstall the version)" : state);
  }
  await startProgram(host, program).catch(() => undefined);
  const deadline = Date.now() + o.healthTimeoutMs;
  for (;;) {
    state = await programState(host, program);
    if (state === "RUNNING" && process !== "web") return note(check, "fixed", "started");
    if (state === "RUNNING") {
      const r = await host.httpGetUnix(l.socket(version), config.health.path, { host: config.domain, timeoutMs: 3000 }).catch(() => null);
      if (r?.status === 200) return note(check, "fixed", `started; ${config.health.path} answers 200`);
    }
    if (state === "FATAL" || Date.now() > deadline) return note(check, "broken", `started but ${state === "RUNNING" ? "not healthy" : state} within ${Math.round(o.healthTimeoutMs / 1000)} s (depl logs ${version})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function checkTraffic(a: OnHost, o: DoctorOptions, note: Note, t: TrafficState, versions: string[]): Promise<void> {
  const { host, layout: l } = a;
  const recorded = await readRecordedTraffic(host, l.stateJson);
  if (!recorded) {
    note("traffic", t.live ? "warning" : "ok", t.live ? `live is ${t.live} but no state.json records it` : "nothing promoted yet");
    return;
  }
  const same = t.live === recorded.live && t.previous === recorded.previous && (t.canary?.version ?? null) === (recorded.canary?.version ?? null) && (t.canary?.percent ?? 0) === (recorded.canary?.percent ?? 0);
  const live = t.live ?? "none";
  if (same) {
    const dangling = t.live !== null && !versions.includes(t.live);
    return note("traffic", dangling ? "broken" : "ok", dangling ? `live points at ${t.live}, which is not installed` : `live ${live}${t.canary ? `, canary ${t.canary.version} ${t.canary.percent}%` : ""}${t.previous ? `, previous ${t.previous}` : ""}`);
  }
  // A live link that is gone, or names a release that is gone, while the record names an installed one: put it back.
  const liveLost = (t.live === null || !versions.includes(t.live)) && recorded.live !== null && versions.includes(recorded.live);
  if (liveLost && !o.dryRun) {
    await host.symlinkAtomic(releaseTarget(recorded.live!), l.liveLink);
    return note("traffic", "fixed", `live link restored to ${recorded.live} as recorded`);
  }
  note(
    "traffic",
    liveLost ? "broken" : "warning",
    `links (live ${live}) differ from the record (live ${recorded.live ?? "none"}): a switch was interrupted; depl promote --resume, or promote the version you want`,
  );
}
