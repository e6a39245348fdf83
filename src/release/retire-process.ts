import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import { containerGone, docker } from "../images/docker-argv.js";
import { programName, type Layout } from "../naming/layout.js";
import { allProgramCommands, removeProgram, stopProgram, STOP_GRACE_SECONDS, SUPERVISOR_CONF_DIR } from "../supervisor/ctl.js";
import { containerName } from "../supervisor/program.js";
import { confCommand, parseContainerRows, processOfProgram, programOfConfFile, runScriptOwner, type ContainerRow } from "./owners.js";

// Taking one process of a release away, whole: its supervisord program, its
// conf and include link, and its container. A container may outlive its
// program (the run script may adopt a running one), so it is stopped and
// removed here by name, never left to supervisord.

/** docker stop, then docker rm -f, of one container. Pure. */
export function containerRetireArgv(name: string, graceSeconds: number): [string[], string[]] {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0) throw new Error(`bad grace period ${graceSeconds}`);
  return [docker.stop(name, graceSeconds), docker.removeContainer(name)];
}

export { containerGone };

/** Docker's answer that the container is being removed already: nothing left to do but wait. */
function removalUnderWay(stderr: string): boolean {
  return /removal of container .* is already in progress/i.test(stderr);
}

/** How long a removed container may take to disappear from Docker's list. */
export const CONTAINER_GONE_TIMEOUT_MS = 60_000;

/** Stops and removes one container; one that is not there is fine. Resolves once Docker no longer lists it. */
export async function retireContainer(host: Host, name: string, graceSeconds = STOP_GRACE_SECONDS): Promise<void> {
  const [stop, rm] = containerRetireArgv(name, graceSeconds);
  for (const argv of [stop, rm]) {
    const r = await host.run(argv, { allowFailure: true });
    if (r.code === 0 || containerGone(r.stderr) || removalUnderWay(r.stderr)) continue;
    // docker stop of a container already being removed (a --rm container after its client stopped) can fail otherwise too: rm -f decides.
    if (argv === stop) continue;
    throw new DeplError(`${host.name}: ${argv.join(" ")} failed: ${r.stderr.trim().split("\n")[0]}`);
  }
  // --rm containers are removed by the engine itself, a moment after they stop (longer on a loaded host).
  const deadline = Date.now() + CONTAINER_GONE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const r = await host.run(docker.inspectContainer(name), { allowFailure: true });
    if (r.code !== 0 && containerGone(r.stderr)) return;
    if (r.code === 0 && !/removing/.test(r.stdout)) {
      const again = await host.run(rm, { allowFailure: true });
      if (again.code !== 0 && !containerGone(again.stderr) && !removalUnderWay(again.stderr)) {
        throw new DeplError(`${host.name}: ${rm.join(" ")} failed: ${again.stderr.trim().split("\n")[0]}`);
      }
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new DeplError(`${host.name}: container ${name} is still there ${CONTAINER_GONE_TIMEOUT_MS / 1000} s after docker rm -f`);
}

export interface RetireOptions {
  /** Seconds the container gets to stop before SIGKILL; default STOP_GRACE_SECONDS. */
  graceSeconds?: number;
}

/**
 * Takes one process of a release away: stops its supervisord program and
 * removes it (program, conf under <root>/<app>/supervisor/, link in
 * supervisord's include dir), then stops and removes its container
 * depl-<program>. Each part is idempotent: a rerun after a failure finishes it.
 * Its log stays (depl logs of a failed release); removing a release deletes it.
 */
export async function retireProcess(host: Host, l: Layout, app: string, version: string, process: string, o: RetireOptions = {}): Promise<void> {
  const program = programName(app, version, process);
  // stopProgram stops the container too, within the grace period; removeProgram's own stop is then a no-op.
  await stopProgram(host, program, { graceSeconds: o.graceSeconds });
  await removeProgram(host, program, l.programConf(program));
  await retireContainer(host, containerName(app, version, process), o.graceSeconds);
}

/** Every container labelled with the app (depl.app), any state. */
export async function appContainers(host: Host, app: string): Promise<ContainerRow[]> {
  const r = await host.run(docker.listContainers(app), { allowFailure: true });
  if (r.code !== 0) throw new DeplError(`${host.name}: cannot list the app's containers: ${r.stderr.trim().split("\n")[0]}`);
  return parseContainerRows(r.stdout);
}

/**
 * The processes of `version` this host still has something of, whatever
 * depl.yml says now: `recorded` (web and release.json's workers), programs
 * supervisord runs from the release's run scripts, conf files and include
 * links named for the release, and containers labelled with it.
 * `otherVersions`: the app's other releases, whose names may extend this one's.
 */
export async function processesOnHost(host: Host, l: Layout, app: string, version: string, recorded: readonly string[], otherVersions: readonly string[]): Promise<string[]> {
  const found = new Set<string>(["web", ...recorded]);
  for (const command of (await allProgramCommands(host)).values()) {
    const ref = runScriptOwner(l, command);
    if (ref?.version === version) found.add(ref.process);
  }
  for (const file of await host.list(l.supervisorDir)) {
    const program = programOfConfFile(file);
    const p = program && processOfProgram(app, version, program, otherVersions);
    if (!p) continue;
    const command = confCommand((await host.readFile(l.programConf(program!))) ?? "");
    const ref = command ? runScriptOwner(l, command) : null;
    if (!ref || ref.version === version) found.add(ref?.process ?? p);
  }
  for (const [link, target] of await host.readlinks(SUPERVISOR_CONF_DIR)) {
    if (!target.startsWith(`${l.supervisorDir}/`)) continue;
    const program = programOfConfFile(link, "depl-");
    const p = program && processOfProgram(app, version, program, otherVersions);
    if (p) found.add(p);
  }
  for (const c of await appContainers(host, app)) {
    if (c.version === version && c.name === containerName(app, version, c.process)) found.add(c.process);
  }
  return [...found];
}
