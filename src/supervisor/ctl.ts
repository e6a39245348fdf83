import { posix } from "node:path";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";

/** Debian's supervisord includes this directory; depl links one file per program into it. */
export const SUPERVISOR_CONF_DIR = "/etc/supervisor/conf.d";

export type ProgramState =
  | "RUNNING" | "STARTING" | "STOPPED" | "STOPPING" | "BACKOFF" | "EXITED" | "FATAL" | "UNKNOWN" | "ABSENT";

export function linkPath(program: string): string {
  return posix.join(SUPERVISOR_CONF_DIR, `depl-${program}.conf`);
}

/** Parses `supervisorctl status <name>` output. Pure. */
export function parseStatus(program: string, stdout: string): ProgramState {
  for (const line of stdout.split("\n")) {
    const [name, state] = line.trim().split(/\s+/);
    if (name === program && state) return (state as ProgramState);
  }
  return "ABSENT";
}

async function ctl(host: Host, ...args: string[]) {
  return host.run(["supervisorctl", ...args], { allowFailure: true });
}

export async function programState(host: Host, program: string): Promise<ProgramState> {
  // Exit 3 means "not running", 4 "no such process": both are answers, not failures.
  const r = await ctl(host, "status", program);
  if (/no such process/i.test(r.stdout + r.stderr)) return "ABSENT";
  if (r.code !== 0 && r.code !== 3) {
    throw new DeplError(`${host.name}: supervisorctl status ${program} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
  }
  return parseStatus(program, r.stdout);
}

/** Every program supervisord knows, with its state, from one `supervisorctl status`. */
export async function allProgramStates(host: Host): Promise<Map<string, ProgramState>> {
  const r = await ctl(host, "status");
  if (r.code !== 0 && r.code !== 3) throw new DeplError(`${host.name}: supervisorctl status failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return parseAllStatus(r.stdout);
}

/** Parses `supervisorctl status` output of every program. Pure. */
export function parseAllStatus(stdout: string): Map<string, ProgramState> {
  const states = new Map<string, ProgramState>();
  for (const line of stdout.split("\n")) {
    const [name, state] = line.trim().split(/\s+/);
    if (name && state && /^[A-Z]+$/.test(state)) states.set(name.replace(/^([^:]+):\1$/, "$1"), state as ProgramState);
  }
  return states;
}

/**
 * Writes the program's conf, links it into supervisord's include dir and
 * (re)loads just that program; then it is running when `run`, else stopped.
 */
export async function installProgram(host: Host, program: string, confPath: string, conf: string, run = true): Promise<void> {
  await host.writeFile(confPath, conf, { mode: 0o644 });
  await host.symlinkAtomic(confPath, linkPath(program));
  await reread(host);
  await ctlOk(host, ["update", program]);
  // update starts a new or changed program with autostart; one that was there unchanged
  // (a failed install being retried, a worker moving between releases) is started or stopped here.
  const state = await programState(host, program);
  if (run && state !== "RUNNING" && state !== "STARTING") await startProgram(host, program);
  if (!run && state !== "STOPPED" && state !== "EXITED" && state !== "FATAL") await stopProgram(host, program);
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

export async function startProgram(host: Host, program: string): Promise<void> {
  await ctlOk(host, ["start", program], /already started/i);
  await keepAutostart(host, program, true);
}

/** Stops the program; it stays stopped across a supervisord restart or a reboot (autostart off in its conf). */
export async function stopProgram(host: Host, program: string): Promise<void> {
  if ((await programState(host, program)) === "ABSENT") return;
  await ctlOk(host, ["stop", program], /not running/i);
  await keepAutostart(host, program, false);
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
  await reread(host);
  await ctl(host, "update", program);
}

function reread(host: Host): Promise<void> {
  return ctlOk(host, ["reread"]);
}

/** supervisorctl that must succeed; `alreadyDone` matches output meaning there was nothing to do. */
async function ctlOk(host: Host, args: string[], alreadyDone?: RegExp): Promise<void> {
  const r = await ctl(host, ...args);
  if (r.code === 0 || alreadyDone?.test(r.stdout + r.stderr)) return;
  throw new DeplError(`${host.name}: supervisorctl ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
}
