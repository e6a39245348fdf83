import { DeplError } from "../errors.js";
import { docker } from "../images/docker-argv.js";
import { oneOffArgv, oneOffName } from "../supervisor/program.js";
import { audit } from "./audit.js";
import { readRelease, updateRelease } from "./metadata.js";
import { servesWeb, type OnHost } from "./on-host.js";

// The release phase (config `release`, e.g. database migrations): once per
// version, in that version's own image with its env, secrets and shared
// data, on one host, before the version first takes real traffic (a promote
// or a canary), while live keeps serving. Its failure stops the promote or
// canary with nothing switched. Passed (or skipped with --skip-release), it is
// recorded in the version's release.json on every host and in the audit log,
// so it never runs twice for a version; a rollback never runs it.

const tail = (s: string, n = 30) => s.trimEnd().split("\n").slice(-n).join("\n");

/** The host that runs the phase: the first that serves web (it has the image and the env file), else the first. */
export function phaseHost(hosts: readonly OnHost[]): OnHost {
  const a = hosts.find((h) => servesWeb(h)) ?? hosts[0];
  if (!a) throw new DeplError("no host to run the release phase on");
  return a;
}

export interface PhaseOptions {
  /** --skip-release: recorded, not run. */
  skip?: boolean;
  /** What starts after it ("promote", "canary"), for messages. */
  action: string;
}

/**
 * Runs the release phase for `version` unless the config has none or it
 * already passed (or was skipped) for that version. Throws DeplError with the
 * command's exit status and the tail of its output when it fails or times out.
 */
export async function ensureReleasePhase(hosts: readonly OnHost[], version: string, o: PhaseOptions): Promise<void> {
  const a = phaseHost(hosts);
  const { config, host, layout: l } = a;
  const command = config.release;
  if (!command) return;
  const meta = await readRelease(host, l, version);
  if (!meta) throw new DeplError(`${host.name}: version ${version} is not installed (depl list shows what is)`);
  if (meta.release_phase) {
    a.say(`${host.name}: release phase of ${version}: ${meta.release_phase.result === "ok" ? "passed" : "skipped"} at ${meta.release_phase.at}, not run again`);
    return;
  }
  const record = async (result: "ok" | "skipped", seconds?: number) => {
    const phase = { result, at: new Date().toISOString(), by: a.actor, host: host.name, ...(seconds === undefined ? {} : { seconds }) };
    for (const h of hosts) if (await readRelease(h.host, h.layout, version)) await updateRelease(h.host, h.layout, version, { release_phase: phase });
  };
  if (o.skip) {
    await record("skipped");
    await audit(host, l, { actor: a.actor, action: "release", version, result: "ok", detail: "skipped (--skip-release)" });
    a.say(`${host.name}: release phase of ${version} skipped (--skip-release), recorded`);
    return;
  }
  a.say(`${host.name}: release phase of ${version}: ${command.join(" ")} (live keeps serving; timeout ${Math.round(config.release_timeout / 1000)} s)`);
  // install.js (and what it loads) only when a phase runs: a promote without one stays light.
  const { nginxGid } = await import("./install.js");
  const proc = { config, layout: l, version, image: meta.image_id, socketGid: await nginxGid(host) };
  const name = oneOffName(proc, "release");
  const started = Date.now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void host.run(docker.removeContainer(name), { allowFailure: true });
  }, config.release_timeout);
  let r;
  try {
    r = await host.run(oneOffArgv(proc, command, "release", name), { allowFailure: true });
  } finally {
    clearTimeout(timer);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  if (r.code === 0 && !timedOut) {
    await record("ok", seconds);
    await audit(host, l, { actor: a.actor, action: "release", version, result: "ok", detail: `${command.join(" ")} (${seconds} s)` });
    a.say(`${host.name}: release phase of ${version} passed in ${seconds} s`);
    return;
  }
  const why = timedOut ? `timed out after ${Math.round(config.release_timeout / 1000)} s (release_timeout) and was stopped` : `failed (exit ${r.code})`;
  await audit(host, l, { actor: a.actor, action: "release", version, result: "failed", detail: `${command.join(" ")} ${why}` });
  throw new DeplError(`${host.name}: the release phase of ${version} ${why}; the ${o.action} did not start and nothing was switched\n--- output of ${command.join(" ")} ---\n${tail(r.stdout + r.stderr)}`);
}
