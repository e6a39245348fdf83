import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import type { Config } from "../config/schema.js";
import { imageIdOn } from "../images/ship.js";
import { routeVersion, unrouteVersion } from "../switch/traffic.js";
import { installProgram, programState, stopProgram } from "../supervisor/ctl.js";
import {
  containerName,
  dockerRunArgv,
  releaseEnv,
  renderEnvFile,
  renderProgramConf,
  renderRunScript,
} from "../supervisor/program.js";
import { audit } from "./audit.js";
import { waitHealthy } from "./health.js";
import { programName, type Layout } from "./layout.js";
import { readRelease, updateRelease, writeRelease, type ReleaseMeta } from "./metadata.js";
import { assertVersion } from "./version.js";

export interface InstallArgs {
  config: Config;
  layout: Layout;
  host: Host;
  version: string;
  actor: string;
  say: (m: string) => void;
  /** Protects the release from prune until then (a private release for a long-running command). */
  keepUntil?: string | null;
}

/** gid of the group nginx's workers run as: the only group that may use app sockets. */
export async function nginxGid(host: Host): Promise<number> {
  const r = await host.run(["getent", "group", "www-data"], { allowFailure: true });
  const gid = Number(r.stdout.split(":")[2]);
  if (r.code !== 0 || !Number.isInteger(gid)) throw new DeplError(`${host.name}: group www-data not found (is nginx installed? run depl setup)`);
  return gid;
}

/**
 * Starts a built version under supervisord on its own socket, health-checks
 * it and routes its preview URL. A version that fails the check is stopped,
 * left unrouted, marked failed, and reported with the tail of its log.
 */
export async function installRelease(a: InstallArgs): Promise<ReleaseMeta> {
  const { config, layout: l, host, version } = a;
  assertVersion(version, config.subdomains);
  const image = `${config.app}:${version}`;
  const imageId = await imageIdOn(host, image);
  if (!imageId) throw new DeplError(`${host.name}: image ${image} not found (build it first: depl build)`);
  const labels = await imageLabels(host, image);

  const gid = await nginxGid(host);
  const program = programName(config.app, version);
  await host.run(["install", "-d", "-m", "0755", l.release(version), l.logDir, l.supervisorDir]);
  // setgid: the socket gunicorn creates inherits nginx's group; mode 2750 keeps others out.
  await host.run(["install", "-d", "-m", "2750", "-o", String(config.run.uid), "-g", String(gid), l.sockDir(version)]);
  await host.run(["chmod", "2750", l.sockDir(version)]);
  await host.remove(l.socket(version));

  const prev = await readRelease(host, l, version);
  const meta: ReleaseMeta = {
    app: config.app,
    version,
    image,
    image_id: imageId,
    git: {
      commit: labels["depl.git.commit"] || null,
      dirty: labels["depl.git.dirty"] === "true",
      branch: labels["depl.git.branch"] || null,
    },
    built_at: labels["depl.built_at"] ?? "",
    built_by: labels["depl.built_by"] ?? "",
    installed_at: null,
    installed_by: null,
    state: "installing",
    error: null,
    keep_until: a.keepUntil ?? prev?.keep_until ?? null,
  };
  await writeRelease(host, l, meta);

  await host.writeFile(l.envFile(version), renderEnvFile(releaseEnv(config, version)), { mode: 0o600 });
  const argv = dockerRunArgv({ config, layout: l, version, image: imageId, socketGid: gid });
  const runScript = `${l.release(version)}/run.sh`;
  await host.writeFile(runScript, renderRunScript(argv, containerName(config.app, version)), { mode: 0o755 });
  const conf = renderProgramConf({ program, command: runScript, logFile: l.releaseLog(version), autostart: true });
  a.say(`${host.name}: starting ${program} under supervisord`);
  await installProgram(host, program, l.programConf(program), conf);

  a.say(`${host.name}: health check ${config.health.path} over ${l.socket(version)}`);
  const health = await waitHealthy(host, {
    socketPath: l.socket(version),
    path: config.health.path,
    hostHeader: config.domain,
    timeoutMs: config.health.timeout,
    concurrency: config.health.concurrency,
    abort: async () => {
      const s = await programState(host, program);
      return s === "FATAL" || s === "EXITED" || s === "ABSENT" ? `supervisord reports ${program} ${s}` : null;
    },
  });

  if (!health.ok) {
    await stopProgram(host, program).catch(() => {});
    await unrouteVersion(host, l, version).catch(() => {});
    await host.remove(l.socket(version));
    const tail = await logTail(host, l.releaseLog(version));
    await updateRelease(host, l, version, { state: "failed", error: health.reason });
    await audit(host, l, { actor: a.actor, action: "install", version, result: "failed", detail: health.reason });
    throw new DeplError(`${host.name}: version ${version} failed its health check: ${health.reason}\n--- last lines of ${l.releaseLog(version)} ---\n${tail}`);
  }

  await routeVersion(host, l, version);
  const done = await updateRelease(host, l, version, {
    state: "installed",
    installed_at: new Date().toISOString(),
    installed_by: a.actor,
  });
  await audit(host, l, { actor: a.actor, action: "install", version, result: "ok" });
  return done;
}

async function imageLabels(host: Host, image: string): Promise<Record<string, string>> {
  const r = await host.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image]);
  return (JSON.parse(r.stdout.trim() || "{}") as Record<string, string> | null) ?? {};
}

export async function logTail(host: Host, file: string, lines = 30): Promise<string> {
  const r = await host.run(["tail", "-n", String(lines), file], { allowFailure: true });
  return r.code === 0 ? r.stdout.trimEnd() : "(no log)";
}
