import type { Config } from "../config/schema.js";
import { DeplError } from "../errors.js";
import { installProgram, programState } from "../supervisor/ctl.js";
import { containerName, renderProgramConf } from "../supervisor/program.js";
import { programName, type Layout } from "../naming/layout.js";
import { readRelease, type ReleaseMeta } from "./metadata.js";
import type { OnHost } from "./on-host.js";
import { containerState, waitContainerUp } from "./started.js";

// Workers (config `processes`) run in the live release only, unless a process
// opts in with every_release: two releases' queue workers must not share a
// queue. Each worker's supervisord program keeps autostart in step with that,
// so a supervisord restart starts the same set.

export type ProcessSpecs = Record<string, { every_release: boolean }>;

/** What release.json records of the config's processes. Pure. */
export function processSpecs(config: Config): ProcessSpecs {
  return Object.fromEntries(Object.entries(config.processes).map(([name, p]) => [name, { every_release: p.every_release }]));
}

/** The release's workers: as recorded at install, else (a release installed before they were recorded) the config's. */
export function releaseProcesses(meta: ReleaseMeta | null, config: Config): ProcessSpecs {
  return meta?.processes ?? processSpecs(config);
}

/** Whether a worker runs in a release. Pure. */
export function workerRuns(spec: { every_release: boolean }, live: boolean): boolean {
  return spec.every_release || live;
}

/** The supervisord program of a version's process. Pure. */
export function processConf(l: Layout, app: string, version: string, process: string, autostart: boolean): string {
  return renderProgramConf({
    program: programName(app, version, process),
    command: l.runScript(version, process),
    logFile: l.processLog(version, process),
    autostart,
  });
}

/**
 * Starts (live) or stops (not live) the version's live-only workers on this
 * host; every_release ones are left alone. Started ones must reach RUNNING.
 * Workers the release was installed without (no run script) are skipped.
 */
export async function setLiveWorkers(a: OnHost, version: string, live: boolean): Promise<string[]> {
  const { host, layout: l, config } = a;
  const meta = await readRelease(host, l, version);
  const changed: string[] = [];
  for (const [name, spec] of Object.entries(releaseProcesses(meta, config))) {
    if (spec.every_release) continue;
    if (!(await host.exists(l.runScript(version, name)))) continue;
    const program = programName(config.app, version, name);
    const container = containerName(config.app, version, name);
    const baseline = await containerState(host, container);
    await installProgram(host, program, l.programConf(program), processConf(l, config.app, version, name, live), live);
    if (live) {
      const up = await waitContainerUp(host, container, {
        baseline,
        abort: async () => ((await programState(host, program)) === "FATAL" ? `supervisord reports ${program} FATAL` : null),
      });
      if (!up.ok) throw new DeplError(`${host.name}: worker ${name} of ${version} did not stay up: ${up.reason}; see depl logs ${version} --process ${name}`);
    }
    changed.push(name);
  }
  if (changed.length) a.say(`${host.name}: ${live ? "started" : "stopped"} ${version}'s ${changed.join(", ")}`);
  return changed;
}
