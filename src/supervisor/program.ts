import type { Config } from "../config/schema.js";
import type { Secret } from "../config/secret.js";
import { programName, type Layout } from "../naming/layout.js";
import { assertVersion } from "../naming/version.js";
import { createHash } from "node:crypto";
import { shellQuote } from "../host/shell.js";

/** Where the app's socket directory is mounted inside its container. */
export const CONTAINER_SOCK_DIR = "/run/app";

export interface WebProcess {
  config: Config;
  layout: Layout;
  version: string;
  /** Image reference or id to run. */
  image: string;
  /** gid of nginx's group on the host (www-data): the socket is shared with it only. */
  socketGid: number;
  dockerBin?: string;
}

export function containerName(app: string, version: string, process = "web"): string {
  return containerOf(programName(app, version, process));
}

/** The container a supervisord program of depl's runs. Pure. */
export function containerOf(program: string): string {
  return `depl-${program}`;
}

/** The gunicorn command line the runtime image runs (Debian's gunicorn, venv with system site packages). */
export function gunicornArgv(run: Config["run"]): string[] {
  return [
    "/app/venv/bin/python", "-m", "gunicorn",
    "--bind", `unix:${CONTAINER_SOCK_DIR}/app.sock`,
    "--backlog", String(run.backlog),
    // Socket mode 0770: the app's uid and nginx's group, nobody else.
    "--umask", "0o007",
    "--workers", String(run.workers),
    "--threads", String(run.threads),
    "--worker-class", "gthread",
    "--worker-tmp-dir", "/dev/shm",
    "--graceful-timeout", "20",
    // No access log on stdout: nginx logs every request (log/access.log). While Docker Engine
    // restarts nothing reads a container's output, and an app whose output fills the 64 KiB
    // pipe waits on its next write: one line per request would stall it within a second.
    "depl_wsgi:application",
  ];
}

/** `-v` arguments for the app's shared directories (never removed by remove or prune). */
export function sharedMounts(config: Config, layout: Layout): string[] {
  return Object.entries(config.shared).flatMap(([name, path]) => ["-v", `${layout.shared}/${name}:${path}`]);
}

function commonArgs(p: WebProcess, name: string, process: string): string[] {
  const { config, layout, version } = p;
  assertVersion(version);
  if (!Number.isInteger(p.socketGid) || p.socketGid < 0) throw new Error(`bad socket gid ${p.socketGid}`);
  return [
    // PID 1 must forward SIGTERM, or stopping the program leaves the container running.
    "--init",
    "--name", name,
    "--user", `${config.run.uid}:${p.socketGid}`,
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--memory", String(config.run.memory),
    "--memory-swap", String(config.run.memory),
    "--pids-limit", String(config.run.pids),
    ...(config.run.read_only ? ["--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m"] : []),
    "--label", `depl.app=${config.app}`,
    "--label", `depl.version=${version}`,
    "--label", `depl.process=${process}`,
    "--env-file", layout.envFile(version),
    // The container outlives its run script: its output is kept (bounded) for `docker logs`.
    "--log-opt", "max-size=20m",
    "--log-opt", "max-file=3",
    ...sharedMounts(config, layout),
  ];
}

/**
 * argv of `docker run` for a version's web process: the only one with the
 * socket dir. No --rm: the run script starts it detached, and an exited
 * container stays until the next start, so its exit code can be read. Pure.
 */
export function dockerRunArgv(p: WebProcess): string[] {
  return [
    p.dockerBin ?? "docker", "run",
    ...commonArgs(p, containerName(p.config.app, p.version), "web"),
    "-v", `${p.layout.sockDir(p.version)}:${CONTAINER_SOCK_DIR}`,
    p.image,
    ...gunicornArgv(p.config.run),
  ];
}

/** argv of `docker run` for a worker process (same image, env and shared data; no socket). Pure. */
export function workerRunArgv(p: WebProcess, process: string): string[] {
  const command = p.config.processes[process]?.command;
  if (!command) throw new Error(`no process ${process} in config`);
  return [p.dockerBin ?? "docker", "run", ...commonArgs(p, containerName(p.config.app, p.version, process), process), p.image, ...command];
}

/** argv of a one-off container of a release (hooks, depl exec): its env and shared data, removed when done. Pure. */
export function oneOffArgv(p: WebProcess, command: readonly string[], tag: string, name = oneOffName(p, tag)): string[] {
  return [p.dockerBin ?? "docker", "run", "--rm", "-i", ...commonArgs(p, name, tag), p.image, ...command];
}

/** The container name of a one-off run (unique per depl process and moment). Pure but for pid and clock. */
export function oneOffName(p: Pick<WebProcess, "config" | "version">, tag: string): string {
  if (!/^[a-z0-9-]{1,30}$/.test(tag)) throw new Error(`bad one-off tag ${tag}`);
  return `${containerName(p.config.app, p.version, tag)}-${process.pid}-${Date.now() % 100000}`;
}

/** Environment of every process of a version (written to a 0600 env file, never argv). */
export function releaseEnv(config: Config, version: string, secrets: Record<string, Secret> = {}): Record<string, string> {
  const revealed = Object.fromEntries(Object.entries({ ...config.secrets, ...secrets }).map(([k, v]) => [k, v.reveal()]));
  return {
    ...config.env,
    ...revealed,
    DEPL_APP: config.app,
    DEPL_VERSION: version,
    DEPL_DOMAIN: config.domain,
    DEPL_WSGI: config.run.wsgi,
  };
}

/** docker --env-file format: one KEY=value per line, no quoting, no newlines allowed. */
export function renderEnvFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (/[\r\n\0]/.test(v)) throw new Error(`env ${k}: values cannot contain newlines`); // the value itself is never shown
      return `${k}=${v}\n`;
    })
    .join("");
}

/** How long one run of the script waits for Docker Engine before exiting (supervisord then runs it again). */
export const ENGINE_WAIT_SECONDS = 60;

/** The label that ties a running container to the run script that started it. */
export const SPEC_LABEL = "depl.spec";

/**
 * What a process's container is made of: its `docker run` argv and its env
 * file. A running container with the same spec is adopted by the run script;
 * any other is replaced. Pure.
 */
export function processSpec(argv: readonly string[], envFile: string): string {
  return createHash("sha256").update(JSON.stringify([argv, envFile])).digest("hex").slice(0, 16);
}

/**
 * The script supervisord runs for one process. The container outlives it:
 * a supervisord restart (a package upgrade) or a Docker Engine restart with
 * live-restore must not stop any app, so the script starts the container
 * detached and follows its output, and stopping the script leaves the
 * container running (depl stops containers itself: supervisor/ctl.ts).
 *
 * 1. Waits (bounded) for Docker Engine: after an engine restart every docker
 *    client exits and supervisord runs this again at once; a wait that times
 *    out exits after startsecs, which supervisord counts as an exit, not a
 *    failed start, so it keeps trying for as long as the engine is away.
 * 2. A container of this name that is running with this spec is adopted:
 *    only its new output is followed.
 * 3. Otherwise the old container (exited, or of another spec) is removed and
 *    a new one started detached, and its whole output followed.
 * `docker logs --follow` ends when the container stops; supervisord then
 * runs this again, which starts a new one.
 */
export function renderRunScript(argv: readonly string[], name: string, spec: string, dockerBin = "docker"): string {
  if (argv[1] !== "run") throw new Error(`run script: expected a docker run argv, got ${JSON.stringify(argv.slice(0, 2))}`);
  if (!/^[0-9a-f]{16}$/.test(spec)) throw new Error(`run script: bad spec ${JSON.stringify(spec)}`);
  const docker = shellQuote([dockerBin]);
  const run = [argv[0]!, "run", "--detach", "--label", `${SPEC_LABEL}=${spec}`, ...argv.slice(2)];
  return [
    "#!/bin/sh",
    "# Written by depl. Run by supervisord: starts the container (or adopts the one running) and follows its output.",
    "# Stopping this script leaves the container running; depl stops it.",
    "n=0",
    `until ${docker} info >/dev/null 2>&1; do`,
    "  n=$((n + 1))",
    `  if [ "$n" -ge ${ENGINE_WAIT_SECONDS} ]; then echo "depl: Docker Engine has not answered for ${ENGINE_WAIT_SECONDS} s; supervisord runs this again" >&2; exit 1; fi`,
    "  sleep 1",
    "done",
    `state=$(${shellQuote([dockerBin, "inspect", "--type", "container", "--format", `{{.State.Running}} {{index .Config.Labels "${SPEC_LABEL}"}}`, name])} 2>/dev/null)`,
    `if [ "$state" = ${shellQuote([`true ${spec}`])} ]; then`,
    `  echo "depl: ${name} is running: following it" >&2`,
    `  exec ${shellQuote([dockerBin, "logs", "--follow", "--tail", "0", name])}`,
    "fi",
    `${shellQuote([dockerBin, "rm", "-f", name])} >/dev/null 2>&1 || true`,
    `${shellQuote(run)} >/dev/null || exit 1`,
    `exec ${shellQuote([dockerBin, "logs", "--follow", name])}`,
    "",
  ].join("\n");
}

export interface ProgramConf {
  program: string;
  command: string;
  logFile: string;
  autostart: boolean;
}

/** A supervisord [program:x] section. Values are validated names and paths only. */
export function renderProgramConf(p: ProgramConf): string {
  for (const v of [p.program, p.command, p.logFile]) {
    if (!/^[A-Za-z0-9_.\/@+-]+$/.test(v)) throw new Error(`unsafe value in supervisord config: ${JSON.stringify(v)}`);
  }
  return `; Written by depl.
[program:${p.program}]
command=${p.command}
autostart=${p.autostart}
autorestart=true
startsecs=2
; a docker run that fails at once (the engine still starting) is retried for about 1+2+...+5 s;
; an engine that is away is waited for by the run script itself.
startretries=5
stopsignal=TERM
stopwaitsecs=30
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=${p.logFile}
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=3
`;
}
