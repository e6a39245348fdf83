import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import type { Config } from "../config/schema.js";
import { inspectImage } from "../images/ship.js";
import { ensureTrafficDirs, readTraffic, routeVersion, unrouteVersion } from "../switch/traffic.js";
import { installProgram, programState } from "../supervisor/ctl.js";
import {
  containerName,
  dockerRunArgv,
  releaseEnv,
  renderEnvFile,
  processSpec,
  renderRunScript,
  workerRunArgv,
} from "../supervisor/program.js";
import { containerState, StartWatch, waitContainerUp, type ContainerState } from "./started.js";
import { applySite } from "../nginx/apply.js";
import type { Secret } from "../config/secret.js";
import { runReleaseHook } from "./hooks.js";
import { audit } from "./audit.js";
import { waitHealthy } from "./health.js";
import { appDirs, programName, type Layout } from "../naming/layout.js";
import { readRelease, updateRelease, writeRelease, type ReleaseMeta } from "./metadata.js";
import { runsWorkers, servesWeb, type OnHost } from "./on-host.js";
import { assertVersion } from "../naming/version.js";
import { runSteps, type Steps } from "./steps.js";
import { previewServedByNginx } from "./nginx-check.js";
import { copyStatic } from "./static.js";
import { processConf, processSpecs, releaseProcesses, setLiveWorkers, workerRuns } from "./workers.js";
import { processesOnHost, retireProcess } from "./retire-process.js";

export interface InstallArgs extends OnHost {
  version: string;
  /** Protects the release from prune until then (a private release for a long-running command). */
  keepUntil?: string | null;
  /** Secrets from the secrets file, besides config.secrets. */
  secrets?: Record<string, Secret>;
  /** Branch preview name recorded in release.json. */
  alias?: string | null;
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
 * it, routes its preview URL and checks that through nginx. A version that
 * fails a check is stopped, left unrouted, marked failed, and reported with
 * the tail of its log; any other error midway is undone the same way.
 */
export async function installRelease(a: InstallArgs): Promise<ReleaseMeta> {
  const { config, layout: l, host, version } = a;
  assertVersion(version, config.subdomains);
  await ensureSite(a);
  const image = `${config.app}:${version}`;
  const info = await inspectImage(host, image);
  if (!info) throw new DeplError(`${host.name}: image ${image} not found (build it first: depl build)`);
  const { id: imageId, labels } = info;

  const gid = await nginxGid(host);
  const program = programName(config.app, version);
  const prev = await readRelease(host, l, version);
  if (prev && (await alreadyServing(a, program, prev))) return prev;
  // A half-done earlier install (killed, failed) may still run: it serves no one, and its
  // socket is about to be replaced, so it must not keep running without one.
  if (prev) await retireAll(a, prev);
  await host.run(["install", "-d", "-m", "0755", l.release(version), l.logDir, l.supervisorDir]);
  // setgid: the socket gunicorn creates inherits nginx's group; mode 2750 keeps others out.
  await host.run(["install", "-d", "-m", "2750", "-o", String(config.run.uid), "-g", String(gid), l.sockDir(version)]);
  await host.run(["chmod", "2750", l.sockDir(version)]);
  await host.remove(l.socket(version));

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
    alias: a.alias ?? prev?.alias ?? null,
    processes: processSpecs(config),
  };
  await writeRelease(host, l, meta);
  // Ctrl-C or SIGTERM is taken at the next boundary and undone below like any other error.
  try {
    return await runSteps("install", a.say, (s) => startRelease(a, imageId, gid, s));
  } catch (e) {
    // Whatever broke (a host command, a lost connection), the release must not stay
    // "installing" with its programs running: undo what is done, then report the error.
    if (!(e instanceof InstallFailed)) {
      const reason = `install stopped by an error: ${(e as Error).message.split("\n")[0]}`;
      a.say(`${host.name}: ${reason}; stopping ${version} and marking it failed`);
      await undoInstall(a, reason).catch((u: Error) => a.say(`${host.name}: could not undo everything: ${u.message.split("\n")[0]}`));
    }
    throw e;
  }
}

/** A failure install expected and already undid: the release is stopped, unrouted and marked failed. */
class InstallFailed extends DeplError {}

/**
 * Takes away every process of the version (program, conf, link, container;
 * the logs stay), unroutes it, marks it failed and audits that. Each step is tried.
 */
async function undoInstall(a: InstallArgs, reason: string): Promise<void> {
  const { layout: l, host, version } = a;
  const errors: Error[] = [];
  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      errors.push(e as Error);
    }
  };
  await attempt(async () => retireAll(a, await readRelease(host, l, version)));
  await attempt(() => unrouteVersion(host, l, version));
  await attempt(() => host.remove(l.socket(version)));
  await attempt(() => updateRelease(host, l, version, { state: "failed", error: reason }));
  await attempt(() => audit(host, l, { actor: a.actor, action: "install", version, result: "failed", detail: reason }));
  if (errors.length) throw errors[0];
}

/**
 * The nginx site and traffic dirs as depl setup makes them (idempotent: no
 * reload when nothing changed), after checking that the tools setup installs
 * are there.
 */
async function ensureSite(a: InstallArgs): Promise<void> {
  const { host, layout: l, config } = a;
  const tools = servesWeb(a) ? "docker nginx supervisorctl curl" : "docker supervisorctl";
  const probe = `for t in ${tools}; do PATH="$PATH:/usr/sbin:/sbin" command -v "$t" >/dev/null 2>&1 || echo "$t"; done`;
  const missing = (await host.run(["sh", "-c", probe])).stdout.split("\n").filter(Boolean);
  if (missing.length) throw new DeplError(`${host.name}: ${missing.join(", ")} not found: run depl setup first (it installs and starts docker, nginx and supervisord)`);
  await host.run(["install", "-d", "-m", "0755", ...appDirs(l)]);
  // A worker-only host keeps traffic links too: they record which release is live (its workers run).
  await ensureTrafficDirs(host, l);
  if (!servesWeb(a)) return;
  const r = await applySite(host, config);
  if (r.changed) a.say(`${host.name}: nginx site for ${config.domain} written${r.reloaded ? " and loaded" : " (nginx is not running: run depl setup)"}`);
}

async function startRelease(a: InstallArgs, imageId: string, gid: number, s: Steps): Promise<ReleaseMeta> {
  const { config, layout: l, host, version } = a;
  const program = programName(config.app, version);
  await host.writeFile(l.envFile(version), renderEnvFile(releaseEnv(config, version, a.secrets)), { mode: 0o600 });
  await ensureSharedDirs(host, config, l, gid);
  const proc = { config, layout: l, version, image: imageId, socketGid: gid };

  const fail = async (reason: string, detail: string): Promise<never> => {
    await undoInstall(a, reason).catch(() => {});
    throw new InstallFailed(`${host.name}: version ${version} ${reason}${detail ? `\n${detail}` : ""}`);
  };

  const web = servesWeb(a);
  const files = web ? await copyStatic(host, config, l, version, imageId) : null;
  if (files !== null) a.say(`${host.name}: ${files} static files copied from ${config.static!.path} to ${l.staticDir(version)}`);

  s.boundary("recorded");
  const preInstall = await runReleaseHook(host, proc, "pre_install", a.say);
  if (preInstall) await fail(preInstall.reason, preInstall.output);

  s.boundary("pre_install");
  if (web) await startWeb(a, proc, program, fail, s);
  else s.boundary("started");
  s.boundary("healthy");
  // Live-only workers run in the live release alone (a re-install of the live version starts them).
  const live = (await readTraffic(host, l)).live === version;
  for (const [name, spec] of runsWorkers(a) ? Object.entries(config.processes) : []) {
    const worker = programName(config.app, version, name);
    const run = workerRuns(spec, live);
    const baseline = await installProcess(host, l, config, version, name, workerRunArgv(proc, name), run);
    if (!run) {
      a.say(`${host.name}: installed ${worker}, stopped: it runs only in the live release`);
      continue;
    }
    const up = await waitContainerUp(host, containerName(config.app, version, name), { baseline, abort: programGaveUp(host, worker) });
    if (!up.ok) await fail(`worker ${name} did not stay up: ${up.reason}`, await logTail(host, l.processLog(version, name)));
    a.say(`${host.name}: started ${worker}`);
  }

  s.boundary("workers");
  const postInstall = await runReleaseHook(host, proc, "post_install", a.say);
  if (postInstall) await fail(postInstall.reason, postInstall.output);

  s.boundary("post_install");
  if (web) {
    await routeVersion(host, l, version);
    s.boundary("routed");
    // What users will open: the preview URL through nginx must answer from this version.
    const seen = await previewServedByNginx(host, config, version);
    if (!seen.ok) await fail("is not served at its preview URL", seen.detail);
  } else s.boundary("routed");
  const done = await updateRelease(host, l, version, {
    state: "installed",
    installed_at: new Date().toISOString(),
    installed_by: a.actor,
  });
  await audit(host, l, { actor: a.actor, action: "install", version, result: "ok" });
  return done;
}

/** The web process: started under supervisord, healthy over its socket, and its container still up (the same one) a stable time later. */
async function startWeb(a: InstallArgs, proc: Parameters<typeof dockerRunArgv>[0], program: string, fail: (reason: string, detail: string) => Promise<never>, s: Steps): Promise<void> {
  const { config, layout: l, host, version } = a;
  const container = containerName(config.app, version);
  const baseline = await installProcess(host, l, config, version, "web", dockerRunArgv(proc));
  s.boundary("started");
  a.say(`${host.name}: started ${program} under supervisord; health check ${config.health.path} over ${l.socket(version)}`);
  // A container that exits (and is started again by its run script) ends the health check at once;
  // the same watch then says up without a further wait once it has seen the container run for the stable time.
  const crashes = new StartWatch(baseline);
  const gaveUp = programGaveUp(host, program);
  const health = await waitHealthy(host, {
    socketPath: l.socket(version),
    path: config.health.path,
    hostHeader: config.domain,
    timeoutMs: config.health.timeout,
    concurrency: config.health.concurrency,
    abort: async () => {
      const step = crashes.observe(await containerState(host, container), Date.now());
      return step.kind === "failed" ? step.reason : gaveUp();
    },
  });
  if (!health.ok) {
    await fail(`failed its health check: ${health.reason}`, await logTail(host, l.processLog(version, "web")));
  }
  const up = await waitContainerUp(host, container, { baseline, watch: crashes, abort: gaveUp });
  if (!up.ok) await fail(`did not stay up: ${up.reason}`, await logTail(host, l.processLog(version, "web")));
}

/** Why supervisord has given up on a program (FATAL: its run script could not start), or null. */
function programGaveUp(host: Host, program: string): () => Promise<string | null> {
  return async () => {
    const s = await programState(host, program);
    return s === "FATAL" || s === "ABSENT" ? `supervisord reports ${program} ${s}` : null;
  };
}

/**
 * An installed version that is running and healthy is left as it is (its
 * socket may be carrying live traffic): installing it again only re-routes it.
 */
async function alreadyServing(a: InstallArgs, program: string, meta: ReleaseMeta): Promise<boolean> {
  const { host, layout: l, config, version } = a;
  if (meta.state === "installed" && !servesWeb(a)) {
    a.say(`${host.name}: ${version} is already installed (workers only)`);
    await setLiveWorkers(a, version, (await readTraffic(host, l)).live === version);
    return true;
  }
  if (meta.state !== "installed" || (await programState(host, program)) !== "RUNNING") return false;
  const h = await waitHealthy(host, { socketPath: l.socket(version), path: config.health.path, hostHeader: config.domain, timeoutMs: 5000, concurrency: 1 });
  if (!h.ok) return false;
  a.say(`${host.name}: ${version} is already installed and healthy`);
  await setLiveWorkers(a, version, (await readTraffic(host, l)).live === version);
  await routeVersion(host, l, version);
  return true;
}

/**
 * Writes a process's run script and supervisord program, and starts it.
 * Returns the container that was there before (an exited one is not this
 * start's; a running one of the same spec is adopted by the run script).
 */
async function installProcess(host: Host, l: Layout, config: Config, version: string, process: string, argv: string[], run = true): Promise<ContainerState | null> {
  const program = programName(config.app, version, process);
  const name = containerName(config.app, version, process);
  const baseline = await containerState(host, name);
  const spec = processSpec(argv, (await host.readFile(l.envFile(version))) ?? "");
  await host.writeFile(l.runScript(version, process), renderRunScript(argv, name, spec), { mode: 0o755 });
  await installProgram(host, program, l.programConf(program), processConf(l, config.app, version, process, run), run);
  return baseline;
}

/** Retires every process the release was installed with (release.json) and any the host still has of it. */
async function retireAll(a: InstallArgs, meta: ReleaseMeta | null): Promise<void> {
  const { config, layout: l, host, version } = a;
  const others = (await host.list(l.releases)).filter((v) => v !== version);
  for (const p of await processesOnHost(host, l, config.app, version, Object.keys(releaseProcesses(meta, config)), others)) {
    await retireProcess(host, l, config.app, version, p);
  }
}

/** shared/<name> for each declared shared directory, writable by the app's uid; never removed by depl. */
async function ensureSharedDirs(host: Host, config: Config, l: Layout, gid: number): Promise<void> {
  for (const name of Object.keys(config.shared)) {
    const dir = `${l.shared}/${name}`;
    if (await host.exists(dir)) continue;
    await host.run(["install", "-d", "-m", "0770", "-o", String(config.run.uid), "-g", String(gid), dir]);
  }
}

/** The last lines of a log, headed by its path, for an error message. */
export async function logTail(host: Host, file: string, lines = 30): Promise<string> {
  const r = await host.run(["tail", "-n", String(lines), file], { allowFailure: true });
  return `--- last lines of ${file} ---\n${r.code === 0 ? r.stdout.trimEnd() : "(no log)"}`;
}
