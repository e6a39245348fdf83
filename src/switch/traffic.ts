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
  await execute(host, ops);
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
  await execute(host, planSetLive(l, await readLinks(host, l), v));
}

/** Buckets 00..percent-1 to v; only buckets whose side changes are moved. */
export async function setCanary(host: Host, l: Layout, v: string, percent: number): Promise<void> {
  await execute(host, planSetCanary(l, await readLinks(host, l), v, percent));
}

export async function stopCanary(host: Host, l: Layout): Promise<void> {
  await execute(host, planStopCanary(l, await readLinks(host, l)));
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
  await execute(host, planRestore(l, snapshot, await readLinks(host, l)));
}

async function readLinks(host: Host, l: Layout): Promise<TrafficLinks> {
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
async function execute(host: Host, ops: readonly LinkOp[]): Promise<void> {
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
