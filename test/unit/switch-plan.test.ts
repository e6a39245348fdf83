import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { layout } from "../../src/naming/layout.js";
import {
  BUCKET_COUNT,
  CANARY_TARGET,
  LIVE_TARGET,
  assertPercent,
  describeTraffic,
  planSetCanary,
  planSetLive,
  planRestore,
  planStopCanary,
  releaseTarget,
  singleLinkPaths,
  staticTarget,
  versionOfTarget,
  versionTarget,
  type TrafficLinks,
} from "../../src/switch/plan.js";

const l = layout("/srv/depl", "app1");
const A = "2024.05.01.10.00";
const B = "2024.05.02.11.30-2";
const T = "/srv/depl/app1/traffic";

function links(o: Partial<TrafficLinks> & { canaryPercent?: number } = {}): TrafficLinks {
  const p = o.canaryPercent ?? 0;
  return {
    live: o.live ?? null,
    previous: o.previous ?? null,
    canary: o.canary ?? null,
    // By default the static links agree with the sockets, as depl leaves them.
    liveStatic: o.liveStatic !== undefined ? o.liveStatic : staticOf(o.live),
    previousStatic: o.previousStatic !== undefined ? o.previousStatic : staticOf(o.previous),
    canaryStatic: o.canaryStatic !== undefined ? o.canaryStatic : staticOf(o.canary),
    buckets: o.buckets ?? Array.from({ length: BUCKET_COUNT }, (_, i) => (i < p ? CANARY_TARGET : LIVE_TARGET)),
  };
}

function staticOf(target: string | null | undefined): string | null {
  const v = versionOfTarget(target ?? null);
  return v === null ? null : staticTarget(v);
}

describe("link targets", () => {
  it("are relative to the link's directory", () => {
    expect(releaseTarget(A)).toBe(`../releases/${A}/sock/app.sock`);
    expect(versionTarget("feature-x")).toBe("../../releases/feature-x/sock/app.sock");
  });
  it("give back the version, and nothing for a target depl did not write", () => {
    expect(versionOfTarget(releaseTarget(B))).toBe(B);
    expect(versionOfTarget(null)).toBeNull();
    expect(versionOfTarget("/srv/depl/app1/releases/x/sock/app.sock")).toBeNull();
    expect(versionOfTarget("../releases/../../etc/sock/app.sock")).toBeNull();
  });
});

describe("planSetLive", () => {
  it("points live at the version when nothing was live", () => {
    expect(planSetLive(l, links(), A)).toEqual([
      { op: "link", path: `${T}/live.static`, target: `../releases/${A}/static` },
      { op: "link", path: `${T}/live.sock`, target: releaseTarget(A) },
    ]);
  });
  it("moves previous (files, then socket) to the old live first, then live's files, then live", () => {
    expect(planSetLive(l, links({ live: releaseTarget(A) }), B)).toEqual([
      { op: "link", path: `${T}/previous.static`, target: staticTarget(A) },
      { op: "link", path: `${T}/previous.sock`, target: releaseTarget(A) },
      { op: "link", path: `${T}/live.static`, target: staticTarget(B) },
      { op: "link", path: `${T}/live.sock`, target: releaseTarget(B) },
    ]);
  });
  it("gives an already live version its missing static link (a site from before static links)", () => {
    expect(planSetLive(l, links({ live: releaseTarget(A), liveStatic: null }), A)).toEqual([
      { op: "link", path: `${T}/live.static`, target: staticTarget(A) },
    ]);
  });
  it("does nothing when the version is already live (previous is kept)", () => {
    expect(planSetLive(l, links({ live: releaseTarget(A), previous: releaseTarget(B) }), A)).toEqual([]);
  });
  it("refuses an invalid version name", () => {
    expect(() => planSetLive(l, links(), "../x")).toThrow(UsageError);
  });
});

describe("planSetCanary", () => {
  const live = links({ live: releaseTarget(A) });

  it("points canary.sock at the version before moving buckets 00..N-1", () => {
    const ops = planSetCanary(l, live, B, 5);
    expect(ops[0]).toEqual({ op: "link", path: `${T}/canary.static`, target: staticTarget(B) });
    expect(ops[1]).toEqual({ op: "link", path: `${T}/canary.sock`, target: releaseTarget(B) });
    expect(ops.slice(2)).toEqual(
      ["00", "01", "02", "03", "04"].map((n) => ({ op: "link", path: `${T}/buckets/${n}.sock`, target: CANARY_TARGET })),
    );
  });
  it("moves only the buckets whose side changes when the share grows or shrinks", () => {
    const at5 = links({ live: releaseTarget(A), canary: releaseTarget(B), canaryPercent: 5 });
    expect(planSetCanary(l, at5, B, 8).map((o) => o.path)).toEqual([5, 6, 7].map((i) => `${T}/buckets/0${i}.sock`));
    const down = planSetCanary(l, at5, B, 2);
    expect(down).toEqual([2, 3, 4].map((i) => ({ op: "link", path: `${T}/buckets/0${i}.sock`, target: LIVE_TARGET })));
    expect(planSetCanary(l, at5, B, 5)).toEqual([]);
  });
  it("switches the canary version with one move of canary.static and one of canary.sock", () => {
    const at5 = links({ live: releaseTarget(A), canary: releaseTarget(B), canaryPercent: 5 });
    expect(planSetCanary(l, at5, "feature-x", 5)).toEqual([
      { op: "link", path: `${T}/canary.static`, target: staticTarget("feature-x") },
      { op: "link", path: `${T}/canary.sock`, target: releaseTarget("feature-x") },
    ]);
  });
  it("repairs a missing bucket link", () => {
    const buckets = links().buckets.map((t, i) => (i === 50 ? null : t));
    expect(planSetCanary(l, { ...live, buckets }, B, 1).map((o) => o.path)).toContain(`${T}/buckets/50.sock`);
  });
  it.each([0, 100, 5.5, -1, Number.NaN])("refuses a share of %s%%", (p) => {
    expect(() => planSetCanary(l, live, B, p)).toThrow(UsageError);
    expect(() => assertPercent(p)).toThrow(/whole number from 1 to 99/);
  });
  it("needs a live version that is not the canary", () => {
    expect(() => planSetCanary(l, links(), B, 5)).toThrow(/no version is live/);
    expect(() => planSetCanary(l, live, A, 5)).toThrow(/is the live version/);
  });
});

describe("planStopCanary", () => {
  it("moves the canary buckets back to live, then removes canary.sock, then canary.static", () => {
    const at3 = links({ live: releaseTarget(A), canary: releaseTarget(B), canaryPercent: 3 });
    expect(planStopCanary(l, at3)).toEqual([
      ...["00", "01", "02"].map((n) => ({ op: "link", path: `${T}/buckets/${n}.sock`, target: LIVE_TARGET })),
      { op: "unlink", path: `${T}/canary.sock` },
      { op: "unlink", path: `${T}/canary.static` },
    ]);
  });
  it("does nothing without a canary", () => {
    expect(planStopCanary(l, links({ live: releaseTarget(A) }))).toEqual([]);
  });
});

describe("describeTraffic", () => {
  it("reads live, previous and the canary share from the links", () => {
    const t = links({ live: releaseTarget(A), previous: releaseTarget("feature-x"), canary: releaseTarget(B), canaryPercent: 7 });
    expect(describeTraffic(t)).toEqual({ live: A, previous: "feature-x", canary: { version: B, percent: 7 } });
  });
  it("reports no canary when no bucket points at it", () => {
    expect(describeTraffic(links({ live: releaseTarget(A), canary: releaseTarget(B) }))).toEqual({ live: A, previous: null, canary: null });
  });
});

/** Applies ops to a links value, as the host would, checking that no link is made pointing at a missing one. */
function apply(l0: TrafficLinks, ops: ReturnType<typeof planRestore>): TrafficLinks {
  const paths = singleLinkPaths(l);
  const out: TrafficLinks = { ...l0, buckets: [...l0.buckets] };
  for (const op of ops) {
    const key = (Object.keys(paths) as (keyof typeof paths)[]).find((k) => paths[k] === op.path);
    const target = op.op === "link" ? op.target : null;
    if (key) out[key] = target;
    else out.buckets[Number(/(\d\d)\.sock$/.exec(op.path)![1])] = target;
    // A bucket may lead to canary.sock only while canary.sock is there.
    if (out.buckets.includes(CANARY_TARGET)) expect(out.canary).not.toBeNull();
  }
  return out;
}

describe("planRestore", () => {
  const P = "2024.04.30.09.00";
  const snap = links({ live: releaseTarget(A), previous: releaseTarget(P) });

  it("after a switch to B, puts back live AND previous (previous does not become B or A)", () => {
    const afterSwitch = apply(snap, planSetLive(l, snap, B));
    expect(describeTraffic(afterSwitch)).toMatchObject({ live: B, previous: A });
    const restored = apply(afterSwitch, planRestore(l, snap, afterSwitch));
    expect(restored).toEqual(snap);
    expect(describeTraffic(restored)).toMatchObject({ live: A, previous: P });
  });

  it("static links go back with their sockets, statics first", () => {
    const afterSwitch = apply(snap, planSetLive(l, snap, B));
    const ops = planRestore(l, snap, afterSwitch);
    expect(ops.map((o) => o.path)).toEqual([`${T}/live.static`, `${T}/previous.static`, `${T}/live.sock`, `${T}/previous.sock`]);
  });

  it("nothing live before: live.sock and live.static are removed, sockets first", () => {
    const empty = links();
    const afterSwitch = apply(empty, planSetLive(l, empty, B));
    const ops = planRestore(l, empty, afterSwitch);
    expect(ops).toEqual([{ op: "unlink", path: `${T}/live.sock` }, { op: "unlink", path: `${T}/live.static` }]);
    expect(apply(afterSwitch, ops)).toEqual(empty);
  });

  it("a canary started or stopped halfway is put back as it was, buckets before or after canary.sock", () => {
    const withCanary = links({ live: releaseTarget(A), previous: releaseTarget(P), canary: releaseTarget(B), canaryPercent: 10 });
    const stopped = apply(withCanary, planStopCanary(l, withCanary));
    expect(apply(stopped, planRestore(l, withCanary, stopped))).toEqual(withCanary);
    const started = apply(snap, planSetCanary(l, snap, B, 30));
    const ops = planRestore(l, snap, started);
    expect(apply(started, ops)).toEqual(snap);
    expect(ops.at(-2)).toEqual({ op: "unlink", path: `${T}/canary.sock` });
    expect(ops.at(-1)).toEqual({ op: "unlink", path: `${T}/canary.static` });
  });

  it("does nothing when nothing changed, and leaves alone links the snapshot did not read", () => {
    expect(planRestore(l, snap, snap)).toEqual([]);
    const partial: TrafficLinks = { ...snap, liveStatic: undefined };
    const moved = { ...snap, liveStatic: staticTarget(B) };
    expect(planRestore(l, partial, moved)).toEqual([]);
  });

  it("every single link of the snapshot type has a path", () => {
    const paths = singleLinkPaths(l);
    const keys = Object.keys(links()).filter((k) => k !== "buckets").sort();
    expect(Object.keys(paths).sort()).toEqual(keys);
  });
});
