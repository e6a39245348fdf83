import { posix } from "node:path";
import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import { assertVersion } from "../naming/version.js";
import {
  BUCKET_COUNT,
  LIVE_TARGET,
  bucketLink,
  describeTraffic,
  planSetCanary,
  planSetLive,
  planRestore,
  planStopCanary,
  versionTarget,
  type LinkOp,
  type TrafficLinks,
  type TrafficState,
} from "./plan.js";

export type { TrafficState } from "./plan.js";

// Moves of the pointers nginx follows. Each move is one rename(2) on the host
// (host.symlinkAtomic): a request sees the old target or the new one, never none.

/** traffic/, traffic/versions/ and traffic/buckets/ with every missing bucket pointing at live.sock. */
export async function ensureTrafficDirs(host: Host, l: Layout): Promise<void> {
  for (const dir of [l.traffic, l.versionsDir, l.bucketsDir]) await host.mkdirp(dir, { mode: 0o755 });
  const buckets = await readBucketLinks(host, l);
  const ops: LinkOp[] = [];
  for (let i = 0; i < BUCKET_COUNT; i++) {
    if (buckets[i] === null) ops.push({ op: "link", path: bucketLink(l, i), target: LIVE_TARGET });
  }
  await applyLinkOps(host, ops);
}

/** The preview route <v>.<domain> (and forcing by cookie or header) reaches v. */
export async function routeVersion(host: Host, l: Layout, v: string): Promise<void> {
  assertVersion(v);
  await host.mkdirp(l.versionsDir, { mode: 0o755 });
  await host.symlinkAtomic(versionTarget(v), l.versionLink(v));
}

export async function unrouteVersion(host: Host, l: Layout, v: string): Promise<void> {
  assertVersion(v);
  await host.remove(l.versionLink(v));
}

/** live.sock -> v; previous.sock keeps the old live target. A canary, if any, stays as it is. */
export async function setLive(host: Host, l: Layout, v: string): Promise<void> {
  await applyLinkOps(host, planSetLive(l, await readLinks(host, l), v));
}

/** Buckets 00..percent-1 to v; only buckets whose side changes are moved. */
export async function setCanary(host: Host, l: Layout, v: string, percent: number): Promise<void> {
  await applyLinkOps(host, planSetCanary(l, await readLinks(host, l), v, percent));
}

export async function stopCanary(host: Host, l: Layout): Promise<void> {
  await applyLinkOps(host, planStopCanary(l, await readLinks(host, l)));
}

export async function readTraffic(host: Host, l: Layout): Promise<TrafficState> {
  return describeTraffic(await readLinks(host, l));
}

/** Every traffic link's target, as planRestore takes it back. */
export async function readTrafficLinks(host: Host, l: Layout): Promise<TrafficLinks> {
  return readLinks(host, l);
}

/** Every traffic link back to its target in `snapshot`, exactly (undo of a failed change). */
export async function restoreTraffic(host: Host, l: Layout, snapshot: TrafficLinks): Promise<void> {
  await applyLinkOps(host, planRestore(l, snapshot, await readLinks(host, l)));
}

async function readLinks(host: Host, l: Layout): Promise<TrafficLinks> {
  if (!host.isLocal) return readLinksAtOnce(host, l);
  return {
    live: await host.readlink(l.liveLink),
    previous: await host.readlink(l.previousLink),
    canary: await host.readlink(l.canaryLink),
    liveStatic: await host.readlink(l.liveStatic),
    previousStatic: await host.readlink(l.previousStatic),
    canaryStatic: await host.readlink(l.canaryStatic),
    buckets: await readBucketLinks(host, l),
  };
}

/** Every traffic link in one command (GNU find): over SSH, one round trip instead of eight. */
async function readLinksAtOnce(host: Host, l: Layout): Promise<TrafficLinks> {
  const r = await host.run(["find", l.traffic, "-mindepth", "1", "-maxdepth", "2", "-type", "l", "-printf", "%P\\t%l\\0"], { allowFailure: true });
  if (r.code !== 0 && (await host.exists(l.traffic))) throw new Error(`${host.name}: cannot read the traffic links in ${l.traffic}: ${r.stderr.trim()}`);
  return parseTrafficListing(l, r.code === 0 ? r.stdout : "");
}

/** find -printf '%P\\t%l\\0' output of traffic/ as TrafficLinks. Pure. */
export function parseTrafficListing(l: Layout, listing: string): TrafficLinks {
  const found = new Map<string, string>();
  for (const entry of listing.split("\0")) {
    const tab = entry.indexOf("\t");
    if (tab > 0) found.set(entry.slice(0, tab), entry.slice(tab + 1));
  }
  const at = (path: string) => found.get(posix.relative(l.traffic, path)) ?? null;
  return {
    live: at(l.liveLink),
    previous: at(l.previousLink),
    canary: at(l.canaryLink),
    liveStatic: at(l.liveStatic),
    previousStatic: at(l.previousStatic),
    canaryStatic: at(l.canaryStatic),
    buckets: Array.from({ length: BUCKET_COUNT }, (_, i) => at(bucketLink(l, i))),
  };
}

/** All bucket targets in one round trip: a hundred readlink calls would be a hundred over SSH. */
async function readBucketLinks(host: Host, l: Layout): Promise<(string | null)[]> {
  const buckets: (string | null)[] = Array.from({ length: BUCKET_COUNT }, () => null);
  for (const [name, target] of await host.readlinks(l.bucketsDir)) {
    const m = /^(\d\d)\.sock$/.exec(name);
    if (m) buckets[Number(m[1])] = target;
  }
  return buckets;
}

/** Runs the ops in order; consecutive link moves share one round trip (one command over SSH). */
export async function applyLinkOps(host: Host, ops: readonly LinkOp[]): Promise<void> {
  let batch: { target: string; linkPath: string }[] = [];
  const flush = async () => {
    await host.symlinksAtomic(batch);
    batch = [];
  };
  for (const op of ops) {
    if (op.op === "link") batch.push({ target: op.target, linkPath: op.path });
    else {
      await flush();
      await host.remove(op.path);
    }
  }
  await flush();
}
