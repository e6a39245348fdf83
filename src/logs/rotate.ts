import { posix } from "node:path";
import type { Config } from "../config/schema.js";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import { isVersion } from "../naming/version.js";

// log/access.log is rotated by rename + a reopen signal to nginx's master
// (USR1, what `nginx -s reopen` sends): workers keep writing the renamed file
// until they reopen, so no line is lost and nothing is reloaded. Per-version
// logs are rotated by supervisord itself (stdout_logfile_maxbytes); what is
// left of versions no longer installed (their rotated .1 .2 ... files) goes here.

export interface LogFile {
  name: string;
  size: number;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
}

export interface LogLimits {
  maxBytes: number;
  keep: number;
  maxAgeMs: number;
}

export function logLimits(config: Config): LogLimits {
  return { maxBytes: config.logs.max_size, keep: config.logs.keep, maxAgeMs: config.logs.max_age };
}

const ROTATED = /^access\.log-(\d{8}T\d{9}Z)$/;

/** access.log-20261123T015500123Z: sorts by name in time order. Pure. */
export function rotatedName(now: Date): string {
  return `access.log-${now.toISOString().replace(/[-:.]/g, "")}`;
}

/** Rotated access logs, newest first. Pure. */
export function rotatedAccessLogs(files: readonly LogFile[]): LogFile[] {
  return files.filter((f) => ROTATED.test(f.name)).sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

/**
 * The versions a per-version log may belong to: <v>.log, <v>-<process>.log and
 * supervisord's .N backups (a branch version's name may itself end in -word). Pure.
 */
export function versionsOfLog(name: string): string[] {
  const m = /^(.+)\.log(?:\.\d+)?$/.exec(name);
  if (!m) return [];
  const base = m[1]!;
  const split = /^(.+)-[a-z][a-z0-9]{0,19}$/.exec(base);
  return [base, ...(split ? [split[1]!] : [])].filter(isVersion);
}

/** A log of a version that is gone is left this long (an install may be writing it before its release dir is listed). */
const ORPHAN_GRACE_MS = 3_600_000;

export interface RotationPlan {
  /** access.log is renamed to this (then nginx reopens). */
  rotateTo: string | null;
  /** Files to delete: rotated access logs past keep or max_age, logs of versions no longer installed. */
  remove: string[];
}

/** Pure: what to do in log/ given its files, the installed versions and the limits. */
export function planRotation(files: readonly LogFile[], installed: ReadonlySet<string>, limits: LogLimits, now: Date): RotationPlan {
  const current = files.find((f) => f.name === "access.log");
  const rotateTo = current && current.size >= limits.maxBytes ? rotatedName(now) : null;
  const rotated = rotatedAccessLogs(files);
  const keep = rotateTo ? limits.keep - 1 : limits.keep;
  const remove = rotated.filter((f, i) => i >= keep || now.getTime() - f.mtimeMs > limits.maxAgeMs).map((f) => f.name);
  for (const f of files) {
    if (f.name === "access.log" || ROTATED.test(f.name)) continue;
    const vs = versionsOfLog(f.name);
    if (vs.length && !vs.some((v) => installed.has(v)) && now.getTime() - f.mtimeMs > ORPHAN_GRACE_MS) remove.push(f.name);
  }
  return { rotateTo, remove };
}

/** Name, size and mtime of the files in a directory, in one round trip; [] when it cannot be read. */
export async function listLogFiles(host: Host, dir: string): Promise<LogFile[]> {
  return host.statFiles(dir).catch(() => []);
}

/** Sends USR1 to nginx's master (reopen its log files); false when no nginx runs. */
export async function reopenNginxLogs(host: Host, pidFile = "/run/nginx.pid"): Promise<boolean> {
  const pid = ((await host.readFile(pidFile)) ?? "").trim();
  if (!/^\d+$/.test(pid)) return false;
  const r = await host.run(["kill", "-USR1", pid], { allowFailure: true });
  return r.code === 0;
}

/**
 * Rotates log/ of one app on one host as planRotation says. The access log is
 * renamed and nginx told to reopen; nginx is never reloaded.
 */
export async function rotateLogs(host: Host, l: Layout, limits: LogLimits, opts: { pidFile?: string; now?: Date } = {}): Promise<RotationPlan> {
  const files = await listLogFiles(host, l.logDir);
  const installed = new Set((await host.list(l.releases)).filter(isVersion));
  const plan = planRotation(files, installed, limits, opts.now ?? new Date());
  if (plan.rotateTo) {
    // -n and allowFailure: a rotation running beside this one may have moved it first.
    const mv = await host.run(["mv", "-n", l.accessLog, posix.join(l.logDir, plan.rotateTo)], { allowFailure: true });
    if (mv.code === 0) await reopenNginxLogs(host, opts.pidFile);
  }
  for (const name of plan.remove) {
    if (name.includes("/")) throw new DeplError(`bad log name ${name}`);
    await host.remove(posix.join(l.logDir, name));
  }
  return plan;
}
