import { posix } from "node:path";
import type { Host } from "../host/host.js";
import { programName, type Layout } from "../naming/layout.js";
import { allProgramCommands, linkPath, removeProgram, SUPERVISOR_CONF_DIR } from "../supervisor/ctl.js";
import { containerName } from "../supervisor/program.js";
import { versionOfTarget } from "../switch/plan.js";
import { readTrafficLinks, stopCanary } from "../switch/traffic.js";
import { confCommand, owns, ownedProgram, programOfConfFile, runScriptOwner, type ProcessRef, type RecordedRelease } from "./owners.js";
import { appContainers, retireContainer, retireProcess } from "./retire-process.js";

// What a host has of the app that no recorded release (a release.json)
// owns: left by a remove or prune that acted on a changed depl.yml, a killed
// depl, or a hand. `depl doctor` lists them and takes them away.

export type Orphan =
  | { kind: "program"; name: string; ref: ProcessRef; installed: boolean }
  | { kind: "conf"; path: string; program: string }
  | { kind: "link"; path: string; target: string; dangling: boolean }
  | { kind: "container"; name: string; version: string; installed: boolean }
  | { kind: "route"; path: string; version: string }
  | { kind: "traffic"; link: "previous" | "canary"; version: string };

/** The finding's check name and detail for doctor's report. Pure. */
export function describeOrphan(o: Orphan): { check: string; detail: string } {
  switch (o.kind) {
    case "program":
      return { check: `orphan program ${o.name}`, detail: `supervisord has ${o.ref.process} of ${o.ref.version}, ${o.installed ? "which release.json does not record" : "which is not installed"}` };
    case "conf":
      return { check: `orphan conf ${o.path}`, detail: `program ${o.program} belongs to no recorded release` };
    case "link":
      return { check: `orphan link ${o.path}`, detail: o.dangling ? `points at ${o.target}, which does not exist` : `points at ${o.target}, a program of no recorded release` };
    case "container":
      if (!o.version) return { check: `orphan container ${o.name}`, detail: "labelled with the app but with no version" };
      return { check: `orphan container ${o.name}`, detail: `labelled with version ${o.version}, ${o.installed ? "whose release.json does not record its process" : "which is not installed"}` };
    case "route":
      return { check: `orphan route ${o.path}`, detail: `names ${o.version}, which is not installed` };
    case "traffic":
      return { check: `orphan traffic link ${o.link}.sock`, detail: `names ${o.version}, which is not installed` };
  }
}

/** Everything of the app on the host that no recorded release owns. */
export async function findOrphans(host: Host, l: Layout, app: string, recorded: readonly RecordedRelease[]): Promise<Orphan[]> {
  const out: Orphan[] = [];
  const versions = new Set(recorded.map((r) => r.version));
  const ownedConf = async (program: string, path: string): Promise<boolean> => {
    const command = confCommand((await host.readFile(path)) ?? "");
    const ref = command ? runScriptOwner(l, command) : null;
    return ref ? owns(recorded, ref) : ownedProgram(app, recorded, program);
  };

  for (const [name, command] of await allProgramCommands(host)) {
    const ref = runScriptOwner(l, command);
    if (ref && !owns(recorded, ref)) out.push({ kind: "program", name, ref, installed: versions.has(ref.version) });
  }
  for (const file of await host.list(l.supervisorDir)) {
    const program = programOfConfFile(file);
    const path = posix.join(l.supervisorDir, file);
    if (program && !(await ownedConf(program, path))) out.push({ kind: "conf", path, program });
  }
  for (const [link, target] of await host.readlinks(SUPERVISOR_CONF_DIR)) {
    if (!target.startsWith(`${l.supervisorDir}/`)) continue;
    const path = posix.join(SUPERVISOR_CONF_DIR, link);
    const dangling = !(await host.exists(target));
    const program = programOfConfFile(target);
    if (dangling || !program || !(await ownedConf(program, target))) out.push({ kind: "link", path, target, dangling });
  }
  for (const c of await appContainers(host, app)) {
    if (!versions.has(c.version)) out.push({ kind: "container", name: c.name, version: c.version, installed: false });
    // A process container (one-offs carry a suffix) of a process its release did not record.
    else if (c.name === containerName(app, c.version, c.process) && !owns(recorded, c)) out.push({ kind: "container", name: c.name, version: c.version, installed: true });
  }
  for (const [name, target] of await host.readlinks(l.versionsDir)) {
    const version = versionOfTarget(target.replace(/^\.\.\//, ""));
    if (version && !versions.has(version)) out.push({ kind: "route", path: posix.join(l.versionsDir, name), version });
  }
  const links = await readTrafficLinks(host, l);
  for (const link of ["previous", "canary"] as const) {
    const version = versionOfTarget(links[link]);
    if (version && !versions.has(version)) out.push({ kind: "traffic", link, version });
  }
  return out;
}

/** Takes one orphan away. Idempotent: an orphan already taken with another (a program's conf) is no error. */
export async function removeOrphan(host: Host, l: Layout, app: string, o: Orphan): Promise<void> {
  switch (o.kind) {
    case "program":
      if (o.name === programName(app, o.ref.version, o.ref.process)) return retireProcess(host, l, app, o.ref.version, o.ref.process);
      return removeProgram(host, o.name, l.programConf(o.name));
    case "conf":
      return removeProgram(host, o.program, o.path);
    case "link": {
      await host.remove(o.path);
      // Its program and conf too, if supervisord or the disk still has them (removeProgram finds the link gone).
      const program = programOfConfFile(o.path, "depl-");
      if (program && linkPath(program) === o.path) await removeProgram(host, program, o.target);
      return;
    }
    case "container":
      return retireContainer(host, o.name);
    case "route":
      return host.remove(o.path);
    case "traffic":
      if (o.link === "canary") return stopCanary(host, l);
      await host.remove(l.previousLink);
      await host.remove(l.previousStatic);
      return;
  }
}
