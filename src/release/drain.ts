import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import type { OnHost } from "./on-host.js";
import { CONTAINER_SOCK_DIR } from "../supervisor/program.js";

// Open connections of a release, counted on its host.
//
// gunicorn binds /run/app/app.sock inside each container, so every release's
// socket has the same name, and `ss -x` shows that name, not the symlink nginx
// connected through nor the host's releases/<v>/sock/app.sock. A socket that
// accept() returns is made in the connecting process's network namespace
// (nginx's, the host's), and unix_diag reports the inode and device of the
// bound file for it (`ss -e`: "ino:1737020 dev:0/65024"). That file is
// releases/<v>/sock/app.sock on the host (a bind mount: the same inode), so
// matching the inode of that file finds exactly the release's established
// connections, one line each (nginx's end has no file). A short request's
// connection is gone as soon as it is answered: nginx sends Connection: close
// and keeps no upstream pool.

/** The name every release's connections carry in ss: where gunicorn binds inside the container. */
export const BOUND_NAME = `${CONTAINER_SOCK_DIR}/app.sock`;

/**
 * One host command for the probe: a stat line per socket ("-" when missing),
 * "--", then ss, which lists only sockets of that name (ss's own filter
 * keeps the output small on a host with many connections).
 */
export function probeArgv(sockets: readonly string[], boundName = BOUND_NAME): string[] {
  return [
    "sh",
    "-c",
    'n=$1; shift; for s do stat -c "%i %d" -- "$s" 2>/dev/null || echo -; done; echo --; exec ss -x -e -H state established src "$n"',
    "sh",
    boundName,
    ...sockets,
  ];
}

/** glibc's major/minor of a dev_t (sys/sysmacros.h). */
function splitDev(d: bigint): [bigint, bigint] {
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return [major, minor];
}

/**
 * The ways `ss` may print the device of a file whose stat(2) st_dev is `stDev`:
 * iproute2 applies glibc's major()/minor() to the kernel's own encoding
 * (major << 20 | minor), so /dev/vda (254:0) shows as "0/65024"; a plain
 * "254/0" is accepted too. Pure.
 */
export function ssDevForms(stDev: bigint): Set<string> {
  const [major, minor] = splitDev(stDev);
  const kernel = ((major << 20n) | minor) & 0xffffffffn;
  const [a, b] = splitDev(kernel);
  return new Set([`${a}/${b}`, `${major}/${minor}`]);
}

/** Inode and device of each established unix socket that is bound to a file, from `ss -x -e -H`. Pure. */
export function parseSs(out: string): { ino: number; dev: string }[] {
  const found: { ino: number; dev: string }[] = [];
  for (const line of out.split("\n")) {
    const m = / ino:(\d+) dev:(\d+\/\d+)/.exec(line);
    if (m) found.push({ ino: Number(m[1]), dev: m[2]! });
  }
  return found;
}

/**
 * Established connections per socket path, from the probe's output (probeArgv
 * with the same paths, in order). A missing socket file has none. Pure.
 */
export function countConnections(out: string, sockets: readonly string[]): Map<string, number> {
  const lines = out.split("\n");
  const sep = lines.indexOf("--");
  if (sep !== sockets.length) throw new Error(`unexpected connection probe output: ${JSON.stringify(out.slice(0, 200))}`);
  const conns = parseSs(lines.slice(sep + 1).join("\n"));
  const counts = new Map<string, number>();
  sockets.forEach((path, i) => {
    const m = /^(\d+) (\d+)$/.exec(lines[i]!.trim());
    if (!m) return counts.set(path, 0);
    const ino = Number(m[1]);
    const devs = ssDevForms(BigInt(m[2]!));
    counts.set(path, conns.filter((c) => c.ino === ino && devs.has(c.dev)).length);
  });
  return counts;
}

/**
 * Open connections of each version on this host, in one round trip; null
 * where they cannot be counted (no `ss`: iproute2 missing), with the reason.
 */
export async function openConnections(
  host: Host,
  l: Layout,
  versions: readonly string[],
  /** The name the app bound (a test's own server binds the host path itself). */
  boundName = BOUND_NAME,
): Promise<{ counts: Map<string, number> | null; error?: string }> {
  if (versions.length === 0) return { counts: new Map() };
  const sockets = versions.map((v) => l.socket(v));
  const r = await host.run(probeArgv(sockets, boundName), { allowFailure: true });
  if (r.code !== 0) return { counts: null, error: `cannot count open connections (ss exited ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]}` : ""}; it is in Debian's iproute2)` };
  const bySocket = countConnections(r.stdout, sockets);
  return { counts: new Map(versions.map((v) => [v, bySocket.get(l.socket(v)) ?? 0])) };
}

/** "1 open connection", "3 open connections". Pure. */
export function connectionsText(n: number): string {
  return `${n} open connection${n === 1 ? "" : "s"}`;
}

/** "30s", "1.5s", "2m", "500ms". Pure. */
export function secondsText(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`;
}

export type DrainVerdict = "drained" | "wait" | "timeout";

/** Whether to stop a release now, wait more, or give up. Pure. */
export function drainVerdict(open: number, now: number, deadline: number): DrainVerdict {
  if (open === 0) return "drained";
  return now >= deadline ? "timeout" : "wait";
}

/** A release still held connections when the drain timeout passed. */
export class DrainTimeoutError extends DeplError {
  override name = "DrainTimeoutError";
  constructor(
    readonly host: string,
    readonly version: string,
    readonly open: number,
    readonly waitedMs: number,
    verb = "refusing to remove",
  ) {
    super(
      `${host}: ${verb} ${version}: ${connectionsText(open)} after waiting ${secondsText(waitedMs)} (drain_timeout); ` +
        `depl remove ${version} --force closes ${open === 1 ? "it" : "them"}`,
    );
  }
}

export interface DrainOptions {
  /** Until when to wait (ms since the epoch); shared by all releases of one prune. */
  deadline: number;
  /** Stop waiting (an interruption was asked for); what is open then is returned. */
  stop?: () => boolean;
  pollMs?: number;
}

/**
 * Waits until the version holds no connection on this host or the deadline
 * passes; returns how many are still open (0: drained; null: cannot count,
 * said once). Says what it waits for, and each change of the count.
 */
export async function drainRelease(a: OnHost, version: string, o: DrainOptions): Promise<number | null> {
  const { host, layout: l } = a;
  const started = Date.now();
  let said: number | null = null;
  for (;;) {
    const { counts, error } = await openConnections(host, l, [version]);
    if (!counts) {
      a.say(`${host.name}: ${version}: ${error}; stopping it without waiting`);
      return null;
    }
    const open = counts.get(version) ?? 0;
    const now = Date.now();
    const verdict = drainVerdict(open, now, o.deadline);
    if (verdict === "drained") {
      if (said !== null) a.say(`${host.name}: ${version}: no open connection left after ${secondsText(now - started)}`);
      return 0;
    }
    if (verdict === "timeout" || o.stop?.()) return open;
    if (open !== said) {
      a.say(`${host.name}: ${version}: waiting for ${connectionsText(open)} to close (${secondsText(o.deadline - now)} left of drain_timeout)`);
      said = open;
    }
    await new Promise((r) => setTimeout(r, Math.min(o.pollMs ?? 500, Math.max(0, o.deadline - now))));
  }
}
