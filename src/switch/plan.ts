import { posix } from "node:path";
import { UsageError } from "../errors.js";
import type { Layout } from "../naming/layout.js";
import { assertVersion, isVersion } from "../naming/version.js";

// Pure planning of traffic pointer moves (see DESIGN.md, "Switching traffic").
// Every link target is relative, so the tree can be moved or bind-mounted.

export const BUCKET_COUNT = 100;
export const LIVE_TARGET = "../live.sock";
export const CANARY_TARGET = "../canary.sock";

/** The raw targets of the traffic links (null: no link). buckets[i] is traffic/buckets/<ii>.sock. */
export interface TrafficLinks {
  live: string | null;
  previous: string | null;
  canary: string | null;
  /** traffic/live.static's target (only planSetLive and planSetCanary look at these). */
  liveStatic?: string | null;
  previousStatic?: string | null;
  canaryStatic?: string | null;
  buckets: (string | null)[];
}

/** The traffic links other than the buckets, by their key in TrafficLinks. */
export type SingleLink = Exclude<keyof TrafficLinks, "buckets">;

/**
 * Where each single traffic link lives. Typed over every key of TrafficLinks,
 * so a link added to the snapshot type must be given its path here, and
 * planRestore then restores it too.
 */
export function singleLinkPaths(l: Layout): Record<SingleLink, string> {
  return {
    live: l.liveLink,
    previous: l.previousLink,
    canary: l.canaryLink,
    liveStatic: l.liveStatic,
    previousStatic: l.previousStatic,
    canaryStatic: l.canaryStatic,
  };
}

export interface TrafficState {
  live: string | null;
  previous: string | null;
  canary: { version: string; percent: number } | null;
}

export type LinkOp = { op: "link"; path: string; target: string } | { op: "unlink"; path: string };

export function bucketName(i: number): string {
  return String(i).padStart(2, "0");
}

export function bucketLink(l: Layout, i: number): string {
  return posix.join(l.bucketsDir, `${bucketName(i)}.sock`);
}

/** From traffic/ (live, previous, canary) to the release's socket. */
export function releaseTarget(v: string): string {
  return `../releases/${v}/sock/app.sock`;
}

/** From traffic/ (live.static, previous.static, canary.static) to the release's static files. */
export function staticTarget(v: string): string {
  return `../releases/${v}/static`;
}

/** From traffic/versions/ to the release's socket. */
export function versionTarget(v: string): string {
  return `../../releases/${v}/sock/app.sock`;
}

/** The version a traffic/*.sock link points at; null for no link or a target depl did not write. */
export function versionOfTarget(target: string | null): string | null {
  const m = target === null ? null : /^\.\.\/releases\/([^/]+)\/sock\/app\.sock$/.exec(target);
  return m && isVersion(m[1]!) ? m[1]! : null;
}

export function assertPercent(percent: number): number {
  if (!Number.isInteger(percent) || percent < 1 || percent > BUCKET_COUNT - 1) {
    throw new UsageError(`invalid canary share ${percent}%: expected a whole number from 1 to ${BUCKET_COUNT - 1}`);
  }
  return percent;
}

export function describeTraffic(links: TrafficLinks): TrafficState {
  const canaryVersion = versionOfTarget(links.canary);
  const percent = links.buckets.filter((t) => t === CANARY_TARGET).length;
  return {
    live: versionOfTarget(links.live),
    previous: versionOfTarget(links.previous),
    canary: canaryVersion && percent > 0 ? { version: canaryVersion, percent } : null,
  };
}

/**
 * previous takes live's old targets first (no request goes there), then live.static,
 * then live.sock: a page of the new version finds its files as soon as it can be
 * served, and a page of the old one finds its files under previous.static.
 */
export function planSetLive(l: Layout, links: TrafficLinks, v: string): LinkOp[] {
  assertVersion(v);
  const target = releaseTarget(v);
  const ops: LinkOp[] = [];
  if (links.live === target) {
    // Already live; a site set up before static links existed gets its link now.
    if (links.liveStatic !== staticTarget(v)) ops.push({ op: "link", path: l.liveStatic, target: staticTarget(v) });
    return ops;
  }
  const old = versionOfTarget(links.live);
  if (links.live !== null) {
    if (old !== null) ops.push({ op: "link", path: l.previousStatic, target: staticTarget(old) });
    ops.push({ op: "link", path: l.previousLink, target: links.live });
  }
  ops.push({ op: "link", path: l.liveStatic, target: staticTarget(v) });
  ops.push({ op: "link", path: l.liveLink, target });
  return ops;
}

/**
 * canary.sock first (so that no bucket ever points at a missing link), then
 * buckets 00..percent-1 to the canary and the rest to live, moving only the
 * buckets whose side changes.
 */
export function planSetCanary(l: Layout, links: TrafficLinks, v: string, percent: number): LinkOp[] {
  assertVersion(v);
  assertPercent(percent);
  const live = versionOfTarget(links.live);
  if (live === null) throw new UsageError("no version is live yet: promote one before starting a canary");
  if (live === v) throw new UsageError(`${v} is the live version; a canary must be another one`);
  const ops: LinkOp[] = [];
  if (links.canaryStatic !== staticTarget(v)) ops.push({ op: "link", path: l.canaryStatic, target: staticTarget(v) });
  if (links.canary !== releaseTarget(v)) ops.push({ op: "link", path: l.canaryLink, target: releaseTarget(v) });
  return [...ops, ...planBuckets(l, links, percent)];
}

/** Every bucket back to live, then canary.sock goes, then canary.static (pages of the canary may still be open). */
export function planStopCanary(l: Layout, links: TrafficLinks): LinkOp[] {
  const ops = planBuckets(l, links, 0);
  if (links.canary !== null) ops.push({ op: "unlink", path: l.canaryLink });
  if (links.canaryStatic !== undefined && links.canaryStatic !== null) ops.push({ op: "unlink", path: l.canaryStatic });
  return ops;
}

/** Bucket links that are missing or on the wrong side for a canary share of `percent`. */
export function planBuckets(l: Layout, links: TrafficLinks, percent: number): LinkOp[] {
  const ops: LinkOp[] = [];
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const target = i < percent ? CANARY_TARGET : LIVE_TARGET;
    if (links.buckets[i] !== target) ops.push({ op: "link", path: bucketLink(l, i), target });
  }
  return ops;
}

/**
 * Puts every traffic link back to its target in `snapshot` (read before a
 * change), whatever the change did: the undo of promote, rollback and canary.
 * Links are made before anything points at them and removed after nothing
 * does: static dirs before their socket, single links before the buckets
 * that lead to them, buckets removed before canary.sock, sockets before
 * their static dirs. A key the snapshot did not read (undefined) is left alone.
 */
export function planRestore(l: Layout, snapshot: TrafficLinks, current: TrafficLinks): LinkOp[] {
  const paths = singleLinkPaths(l);
  const keys = Object.keys(paths) as SingleLink[];
  const statics = keys.filter((k) => k.endsWith("Static"));
  const sockets = keys.filter((k) => !k.endsWith("Static"));
  const links: LinkOp[] = [];
  const unlinks: LinkOp[] = [];
  for (const k of [...statics, ...sockets]) {
    const want = snapshot[k];
    if (want === undefined || want === current[k]) continue;
    if (want !== null) links.push({ op: "link", path: paths[k], target: want });
  }
  for (const k of [...sockets, ...statics]) {
    if (snapshot[k] === null && current[k] !== null) unlinks.push({ op: "unlink", path: paths[k] });
  }
  const bucketLinks: LinkOp[] = [];
  const bucketUnlinks: LinkOp[] = [];
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const want = snapshot.buckets[i] ?? null;
    if (want === (current.buckets[i] ?? null)) continue;
    if (want === null) bucketUnlinks.push({ op: "unlink", path: bucketLink(l, i) });
    else bucketLinks.push({ op: "link", path: bucketLink(l, i), target: want });
  }
  return [...links, ...bucketLinks, ...bucketUnlinks, ...unlinks];
}
