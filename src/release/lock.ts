import { hostname } from "node:os";
import { posix } from "node:path";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";

export interface LockInfo {
  actor: string;
  command: string;
  since: string;
  /** The deploy machine and process that hold it (to detect a stale lock). */
  machine: string;
  pid: number;
}

export class LockedError extends DeplError {
  override name = "LockedError";
}

/** "held by ... since ... (running ...)", plus "stale" when its process is gone. Pure. */
export function describeLock(l: LockInfo, stale: boolean): string {
  return `held by ${l.actor} since ${l.since} (${l.command}, pid ${l.pid} on ${l.machine})${stale ? "; STALE: that process is gone (depl lock release)" : ""}`;
}

/** A lock held on this machine by a process that no longer exists. */
export function isStale(l: LockInfo, machine = hostname()): boolean {
  if (l.machine !== machine) return false;
  try {
    process.kill(l.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export async function readLock(host: Host, layout: Layout): Promise<LockInfo | null> {
  const text = await host.readFile(layout.lock);
  if (text === null) return null;
  try {
    return JSON.parse(text) as LockInfo;
  } catch {
    return { actor: "unknown", command: "unknown", since: "unknown", machine: "unknown", pid: 0 };
  }
}

/** Why a lock could not be created: someone holds it, or it cannot be written at all. */
export type CreateResult = { ok: true } | { ok: false; exists: boolean; why: string };

async function tryCreate(host: Host, layout: Layout, info: LockInfo): Promise<CreateResult> {
  // O_EXCL: exactly one of two racers wins. "There already" is held; any other failure is the write itself.
  try {
    if (await host.createExclusive(layout.lock, JSON.stringify(info) + "\n")) return { ok: true };
    return { ok: false, exists: true, why: "exists" };
  } catch (e) {
    return { ok: false, exists: false, why: (e as Error).message };
  }
}

/** The one-line error for a lock that cannot be written. Pure. */
export function cannotWrite(hostName: string, lockPath: string, why: string): DeplError {
  return new DeplError(`${hostName}: cannot write the lock ${lockPath}: ${why} (the user needs write access to ${posix.dirname(lockPath)}; depl setup creates it)`);
}

export interface Held {
  release(): Promise<void>;
}

/**
 * Takes the app's lock on a host, or refuses at once naming the holder;
 * with wait, polls until it is free (or waitMs passes).
 */
export async function acquireLock(
  host: Host,
  layout: Layout,
  who: { actor: string; command: string },
  opts: { waitMs?: number; takeOverStaleOf?: string; say?: (m: string) => void } = {},
): Promise<Held> {
  const info: LockInfo = { ...who, since: new Date().toISOString(), machine: hostname(), pid: process.pid };
  const deadline = Date.now() + (opts.waitMs ?? 0);
  try {
    await host.mkdirp(layout.base);
  } catch (e) {
    throw cannotWrite(host.name, layout.lock, (e as Error).message);
  }
  let vanished = 0;
  for (;;) {
    const r = await tryCreate(host, layout, info);
    if (r.ok) break;
    if (!r.exists) throw cannotWrite(host.name, layout.lock, r.why);
    const holder = await readLock(host, layout);
    if (!holder) {
      // Released between our attempt and our read: try again at once, but not forever.
      if (++vanished > 20) throw new LockedError(`${host.name}: ${layout.lock} keeps appearing and disappearing; another depl is taking and releasing it`);
      continue;
    }
    if (opts.takeOverStaleOf !== undefined && holder.command.startsWith(opts.takeOverStaleOf) && isStale(holder)) {
      opts.say?.(`${host.name}: taking over the lock of a depl that died (${describeLock(holder, true).split(";")[0]})`);
      await host.remove(layout.lock);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockedError(`${host.name}: ${layout.base} is locked: ${describeLock(holder, isStale(holder))}; use --wait to wait for it`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    release: async () => {
      const cur = await readLock(host, layout);
      if (cur && cur.pid === info.pid && cur.since === info.since && cur.machine === info.machine) await host.remove(layout.lock);
    },
  };
}
