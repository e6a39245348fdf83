import { posix } from "node:path";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import { containerGone, docker } from "../images/docker-argv.js";
import { containerOf } from "./program.js";
import { xmlRpcCall, XmlRpcFault, XmlRpcUnreachable, type XmlRpcValue } from "./xmlrpc.js";

// supervisord is asked over XML-RPC on its unix socket (what supervisorctl
// does too, from a Python process per call that costs a few hundred ms).

/** Debian's supervisord includes this directory; depl links one file per program into it. */
export const SUPERVISOR_CONF_DIR = "/etc/supervisor/conf.d";

export type ProgramState =
  | "RUNNING" | "STARTING" | "STOPPED" | "STOPPING" | "BACKOFF" | "EXITED" | "FATAL" | "UNKNOWN" | "ABSENT";

export function linkPath(program: string): string {
  return posix.join(SUPERVISOR_CONF_DIR, `depl-${program}.conf`);
}

/** Debian's socket; another one is read from supervisord.conf when this one does not answer. */
export const SUPERVISOR_SOCKET = "/var/run/supervisor.sock";
const SUPERVISOR_CONFS = ["/etc/supervisor/supervisord.conf", "/etc/supervisord.conf"];

// supervisord's fault codes (supervisor/xmlrpc.py).
const BAD_NAME = 10;
const NOT_RUNNING = 70;
const ALREADY_STARTED = 60;
const ALREADY_ADDED = 90;

/** The `file=` of the `[unix_http_server]` section of a supervisord.conf, or null. Pure. */
export function unixServerFile(conf: string): string | null {
  let inSection = false;
  for (const raw of conf.split("\n")) {
    const line = raw.replace(/(^|\s);.*$/, "").trim();
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) inSection = section[1]!.trim() === "unix_http_server";
    else if (inSection) {
      const m = /^file\s*[=:]\s*(\S+)$/.exec(line);
      if (m) return m[1]!;
    }
  }
  return null;
}

const sockets = new WeakMap<Host, string>();

/** One XML-RPC call to supervisord on `host`; no answer at all is one DeplError saying what to do. */
async function rpc(host: Host, method: string, params: XmlRpcValue[] = [], timeoutMs = 60_000): Promise<XmlRpcValue> {
  const known = sockets.get(host);
  const sock = known ?? SUPERVISOR_SOCKET;
  try {
    return await xmlRpcCall(host, sock, method, params, timeoutMs);
  } catch (e) {
    if (!(e instanceof XmlRpcUnreachable)) throw e;
    if (known === undefined) {
      const configured = await configuredSocket(host);
      if (configured && configured !== sock) {
        sockets.set(host, configured);
        return rpc(host, method, params, timeoutMs);
      }
    }
    if (/EACCES|permission denied/i.test(e.message)) {
      throw new DeplError(`${host.name}: cannot use supervisord's socket ${sock}: permission denied (run depl as a user that may, such as root)`, { cause: e });
    }
    throw new DeplError(`${host.name}: supervisord is not answering on ${sock}: run depl setup / depl doctor (${e.message})`, { cause: e });
  }
}

async function configuredSocket(host: Host): Promise<string | null> {
  for (const conf of SUPERVISOR_CONFS) {
    const text = await host.readFile(conf).catch(() => null);
    if (text !== null) return unixServerFile(text);
  }
  return null;
}

function faultError(host: Host, what: string, f: XmlRpcFault): DeplError {
  return new DeplError(`${host.name}: supervisord: ${what} failed: ${f.faultString}`);
}

type ProcessInfo = { name: string; group: string; statename: string };

function asProcessInfo(v: XmlRpcValue): ProcessInfo {
  const o = (v && typeof v === "object" && !Array.isArray(v) ? v : {}) as Record<string, XmlRpcValue>;
  return { name: String(o.name ?? ""), group: String(o.group ?? ""), statename: String(o.statename ?? "UNKNOWN") };
}

/** A program as supervisorctl names it: `name`, or `group:name` in a group of another name. Pure. */
function supervisorName(name: string, group: string): string {
  return group === name || !group ? name : `${group}:${name}`;
}

/** A getAllProcessInfo answer as supervisorctl names programs: `name`, or `group:name` in a group of its own name. Pure. */
export function statesFromProcessInfo(infos: XmlRpcValue): Map<string, ProgramState> {
  const states = new Map<string, ProgramState>();
  for (const v of Array.isArray(infos) ? infos : []) {
    const p = asProcessInfo(v);
    if (p.name) states.set(supervisorName(p.name, p.group), p.statename as ProgramState);
  }
  return states;
}

export async function programState(host: Host, program: string): Promise<ProgramState> {
  try {
    return asProcessInfo(await rpc(host, "supervisor.getProcessInfo", [program])).statename as ProgramState;
  } catch (e) {
    if (e instanceof XmlRpcFault && e.faultCode === BAD_NAME) return "ABSENT";
    if (e instanceof XmlRpcFault) throw faultError(host, `status of ${program}`, e);
    throw e;
  }
}

/** Every program supervisord knows, with its state, from one getAllProcessInfo. */
export async function allProgramStates(host: Host): Promise<Map<string, ProgramState>> {
  try {
    return statesFromProcessInfo(await rpc(host, "supervisor.getAllProcessInfo"));
  } catch (e) {
    if (e instanceof XmlRpcFault) throw faultError(host, "status", e);
    throw e;
  }
}

/** A getAllConfigInfo answer: each program's name (as supervisorctl names it) and the command it runs. Pure. */
export function commandsFromConfigInfo(infos: XmlRpcValue): Map<string, string> {
  const commands = new Map<string, string>();
  for (const v of Array.isArray(infos) ? infos : []) {
    const o = (v && typeof v === "object" && !Array.isArray(v) ? v : {}) as Record<string, XmlRpcValue>;
    const name = String(o.name ?? "");
    const group = String(o.group ?? "");
    if (name) commands.set(supervisorName(name, group), String(o.command ?? ""));
  }
  return commands;
}

/** Every program supervisord has read a config for, with its command (what tells whose it is). */
export async function allProgramCommands(host: Host): Promise<Map<string, string>> {
  try {
    return commandsFromConfigInfo(await rpc(host, "supervisor.getAllConfigInfo"));
  } catch (e) {
    if (e instanceof XmlRpcFault) throw faultError(host, "config info", e);
    throw e;
  }
}

export type UpdateAction = "stop" | "remove" | "add";

/**
 * What `supervisorctl update <group>` does after a reloadConfig answer
 * ([[added, changed, removed]]): the group's process-group calls, in order. Pure.
 */
export function updateActions(reload: XmlRpcValue, group: string): UpdateAction[] {
  const [added, changed, removed] = (Array.isArray(reload) && Array.isArray(reload[0]) ? reload[0] : []) as XmlRpcValue[];
  const has = (list: XmlRpcValue | undefined) => Array.isArray(list) && list.includes(group);
  if (has(removed)) return ["stop", "remove"];
  if (has(changed)) return ["stop", "remove", "add"];
  if (has(added)) return ["add"];
  return [];
}

/** supervisord rereads its config files; the one group is then added, replaced or removed as they now say. */
async function update(host: Host, group: string): Promise<void> {
  const plan = updateActions(await rpc(host, "supervisor.reloadConfig").catch((e: unknown) => {
    throw e instanceof XmlRpcFault ? faultError(host, "reread", e) : e;
  }), group);
  for (const action of plan) {
    try {
      if (action === "stop") await rpc(host, "supervisor.stopProcessGroup", [group, true], 120_000);
      if (action === "remove") await rpc(host, "supervisor.removeProcessGroup", [group]);
      if (action === "add") await rpc(host, "supervisor.addProcessGroup", [group]);
    } catch (e) {
      if (!(e instanceof XmlRpcFault)) throw e;
      if (action === "add" && e.faultCode === ALREADY_ADDED) continue;
      if (action !== "add" && e.faultCode === BAD_NAME) continue;
      throw faultError(host, `update ${group} (${action})`, e);
    }
  }
}

/**
 * Writes the program's conf, links it into supervisord's include dir and
 * (re)loads just that program; then it is running when `run`, else stopped.
 */
export async function installProgram(host: Host, program: string, confPath: string, conf: string, run = true): Promise<void> {
  await host.writeFile(confPath, conf, { mode: 0o644 });
  await host.symlinkAtomic(confPath, linkPath(program));
  await update(host, program);
  // update starts a new or changed program with autostart; one that was there unchanged
  // (a failed install being retried, a worker moving between releases) is started or stopped here.
  const state = await programState(host, program);
  if (run && state !== "RUNNING" && state !== "STARTING") await startProgram(host, program);
  // Stopped even when supervisord already is not running it (update stopped it for a changed conf):
  // the container outlives its run script, and stopProgram stops it too.
  if (!run) await stopProgram(host, program);
}

/** Waits while supervisord calls the program STARTING (it is RUNNING only after startsecs); returns the state then. */
export async function waitRunning(host: Host, program: string, timeoutMs: number): Promise<ProgramState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await programState(host, program);
    if (state !== "STARTING" || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts the program and waits until supervisord calls it RUNNING (startsecs), as `supervisorctl start` does. */
export async function startProgram(host: Host, program: string): Promise<void> {
  try {
    await rpc(host, "supervisor.startProcess", [program, true], 120_000);
  } catch (e) {
    if (!(e instanceof XmlRpcFault)) throw e;
    if (e.faultCode !== ALREADY_STARTED) throw faultError(host, `start ${program}`, e);
  }
  await keepAutostart(host, program, true);
}

/** Seconds a stopping app gets before SIGKILL (gunicorn's graceful timeout is 20 s), as supervisord's stopwaitsecs was. */
export const STOP_GRACE_SECONDS = 30;

/**
 * Stops the program and its container; it stays stopped across a supervisord
 * restart or a reboot (autostart off in its conf). The container outlives its
 * run script (see renderRunScript), so stopping the program only stops
 * following it: the container is stopped here, with `graceSeconds` for the
 * app to finish its requests.
 */
export async function stopProgram(host: Host, program: string, o: { graceSeconds?: number } = {}): Promise<void> {
  try {
    await rpc(host, "supervisor.stopProcess", [program, true], 120_000);
  } catch (e) {
    if (!(e instanceof XmlRpcFault)) throw e;
    if (e.faultCode === BAD_NAME) return stopContainer(host, containerOf(program), o.graceSeconds);
    if (e.faultCode !== NOT_RUNNING) throw faultError(host, `stop ${program}`, e);
  }
  await keepAutostart(host, program, false);
  await stopContainer(host, containerOf(program), o.graceSeconds);
}

/** `docker stop` of a process's container; one that is not there (or not running) is no error. */
export async function stopContainer(host: Host, name: string, graceSeconds = STOP_GRACE_SECONDS): Promise<void> {
  const r = await host.run(docker.stop(name, graceSeconds), { allowFailure: true });
  if (r.code !== 0 && !containerGone(r.stderr)) {
    throw new DeplError(`${host.name}: docker stop ${name} failed (exit ${r.code}): ${r.stderr.trim().split("\n")[0]}`);
  }
}

/** The conf text with autostart set to `on`. Pure. */
export function withAutostart(conf: string, on: boolean): string {
  return conf.replace(/^autostart=(true|false)$/m, `autostart=${on}`);
}

/**
 * Writes autostart into the program's conf file (followed from its link), so
 * that what supervisord starts when it starts again is what depl left running.
 * supervisord reads it then; nothing is reloaded now.
 */
async function keepAutostart(host: Host, program: string, on: boolean): Promise<void> {
  const conf = await host.readlink(linkPath(program));
  if (conf === null) return;
  const text = await host.readFile(conf);
  if (text === null || withAutostart(text, on) === text) return;
  await host.writeFile(conf, withAutostart(text, on), { mode: 0o644 });
}

/** Stops the program and removes it from supervisord; its conf file is deleted. */
export async function removeProgram(host: Host, program: string, confPath: string): Promise<void> {
  await stopProgram(host, program);
  await host.remove(linkPath(program));
  await host.remove(confPath);
  try {
    await update(host, program);
  } catch (e) {
    // Its conf is gone: supervisord drops it at the next update at the latest.
    if (!(e instanceof DeplError) || /not answering|permission denied/.test(e.message)) throw e;
  }
}
