import { describe, expect, it } from "vitest";
import { sparkline, sparklineRows } from "../../src/stats/sparkline.js";
import { TimeSeries } from "../../src/stats/series.js";
import { computeStats, type RequestRecord } from "../../src/stats/compute.js";
import { failingNow } from "../../src/dashboard/alarm.js";
import { PairSamples } from "../../src/canary/sample.js";
import { assertBindable, hostAllowed, tokenMatches } from "../../src/dashboard/auth.js";
import { parseAction } from "../../src/dashboard/server.js";

describe("sparkline", () => {
  it("scales to the largest value and shows zero as a dot", () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe("·▁▂▄█");
    expect(sparkline([0, 0])).toBe("··");
    expect(sparkline([])).toBe("");
  });
  it("rows align the names and end with the last minute's figure", () => {
    const rows = sparklineRows([{ version: "v1", requests: [1, 2], s5xx: [0, 0] }, { version: "v22", requests: [0, 3], s5xx: [0, 1] }], (v) => (v === "v1" ? "live" : "canary 5%"));
    expect(rows[0]).toBe("v1 live        requests ▄█     2/min  5xx ·· 0/min");
    expect(rows[1]).toBe("v22 canary 5%  requests ·█     3/min  5xx ·█ 1/min");
  });
});

describe("TimeSeries", () => {
  const rec = (time: number, version: string, status = 200, requestTime = 0.01) => ({ time, version, status, requestTime });
  it("buckets per version and agrees with depl stats over the same window", () => {
    const recs = [rec(60, "a"), rec(61, "a", 500, 0.2), rec(125, "a"), rec(130, "b", 502), rec(179, "b")];
    const ts = new TimeSeries(60, 3);
    recs.forEach((r) => ts.add(r));
    const s = Object.fromEntries(ts.series(179).map((x) => [x.version, x]));
    expect(s.a!.t).toEqual([60, 120, 180].map((t) => t - 60));
    expect(s.a!.requests).toEqual([0, 2, 1]);
    expect(s.b!.s5xx).toEqual([0, 0, 1]);
    expect(s.b!.errorRate).toEqual([0, 0, 0.5]);
    expect(s.a!.p95).toEqual([null, 200, 10]);
    expect(ts.stats(0)).toEqual(computeStats(recs, 0));
  });
  it("forgets buckets older than it keeps", () => {
    const ts = new TimeSeries(10, 2);
    ts.add(rec(5, "a"));
    ts.add(rec(25, "b"));
    ts.prune(25);
    expect(ts.series(25).map((x) => x.version)).toEqual(["b"]);
  });
});

describe("dashboard auth and actions", () => {
  it("listens beyond loopback only with a token", () => {
    expect(() => assertBindable("127.0.0.1", null)).not.toThrow();
    expect(() => assertBindable("0.0.0.0", null)).toThrow(/needs a token: set DASHBOARD_TOKEN/);
    expect(() => assertBindable("0.0.0.0", "t0k")).not.toThrow();
  });
  it("compares the bearer token exactly", () => {
    expect(tokenMatches("Bearer s3cret", "s3cret")).toBe(true);
    expect(tokenMatches("Bearer s3cre", "s3cret")).toBe(false);
    expect(tokenMatches("s3cret", "s3cret")).toBe(false);
    expect(tokenMatches(undefined, "s3cret")).toBe(false);
    expect(tokenMatches("Bearer x", null)).toBe(false);
  });
  it("a loopback dashboard answers only to loopback names (no DNS rebinding)", () => {
    expect(hostAllowed("127.0.0.1:8077", "127.0.0.1")).toBe(true);
    expect(hostAllowed("localhost:8077", "127.0.0.1")).toBe(true);
    expect(hostAllowed("[::1]:8077", "::1")).toBe(true);
    expect(hostAllowed("evil.example:8077", "127.0.0.1")).toBe(false);
    expect(hostAllowed("evil.example", "0.0.0.0")).toBe(true);
  });
  it("an action needs confirm and valid arguments, checked as the CLI checks them", () => {
    expect(parseAction({ action: "promote", version: "2026.11.23.04.31", confirm: true })).toEqual({ action: "promote", version: "2026.11.23.04.31" });
    expect(parseAction({ action: "canary", version: "2026.11.23.04.31", percent: "25", confirm: true })).toEqual({ action: "canary", version: "2026.11.23.04.31", percent: "25%" });
    expect(() => parseAction({ action: "promote", version: "2026.11.23.04.31" })).toThrow(/confirm/);
    expect(() => parseAction({ action: "promote", version: "../etc", confirm: true })).toThrow();
    expect(() => parseAction({ action: "canary", version: "2026.11.23.04.31", percent: "150", confirm: true })).toThrow();
    expect(() => parseAction({ action: "drop", confirm: true })).toThrow(/unknown action/);
  });
});

describe("requests no version answered, in the series and the canary's samples", () => {
  const rec = (o: Partial<RequestRecord>): RequestRecord => ({ time: 100, status: 200, requestTime: 0.01, version: null, route: "live", bucket: "50", requested: null, upstream: [200], ...o });
  const traffic = { live: "v1", canary: { version: "v2", percent: 10 } };

  it("series: a row per side nginx chose, the site's every request, and null (a gap) where a point has none", () => {
    const ts = new TimeSeries(5, 4);
    ts.add(rec({ time: 100, version: "v1" }), traffic);
    ts.add(rec({ time: 101, status: 503, upstream: [502, 502, 502] }), traffic);
    ts.add(rec({ time: 102, status: 503, bucket: "03", upstream: [502, 502, 502] }), traffic);
    ts.add(rec({ time: 103, status: 404, upstream: [] }), traffic);
    ts.add(rec({ time: 112, version: "v1" }), traffic);
    const s = ts.series(114);
    expect(s.map((x) => [x.kind, x.route ?? null, x.version, x.requests])).toEqual([
      ["version", null, "v1", [0, 1, 0, 1]],
      ["unanswered", "live", "v1", [0, 1, 0, 0]],
      ["unanswered", "canary", "v2", [0, 1, 0, 0]],
    ]);
    expect(s[0]!.p95).toEqual([null, 10, null, 10]);
    expect(ts.site(114)).toEqual({ t: [95, 100, 105, 110], requests: [0, 4, 0, 1], s5xx: [0, 2, 0, 0], errorRate: [null, 0.5, null, 0] });
    const r = ts.report(0);
    expect(r.site).toMatchObject({ requests: 5, s5xx: 2 });
    expect(r.nginx).toMatchObject({ requests: 1, s4xx: 1 });
    expect(r.unanswered.map((u) => u.route).sort()).toEqual(["canary", "live"]);
  });

  it("the banner: the site's last two points pass 5% of 5xx", () => {
    const site = (requests: number[], s5xx: number[]) => ({ t: requests.map((_, i) => i * 5), requests, s5xx, errorRate: requests.map((n, i) => (n ? s5xx[i]! / n : null)) });
    expect(failingNow(site([100, 100, 100], [0, 0, 0]), 5)).toBeNull();
    expect(failingNow(site([100, 100, 100], [90, 5, 5]), 5)).toBeNull(); // an older point does not count
    expect(failingNow(site([100, 100, 20], [0, 10, 2]), 5)).toEqual({ seconds: 10, requests: 120, s5xx: 12, rate: 0.1 });
    expect(failingNow(site([100, 100, 20], [0, 4, 2]), 5)).toBeNull(); // 6 of 120: 5%, not over
    expect(failingNow(site([100, 0, 0], [100, 0, 0]), 5)).toBeNull(); // no requests now: nothing to say
    expect(failingNow(site([100, 80, 20], [0, 40, 20]), 5)).toEqual({ seconds: 10, requests: 100, s5xx: 60, rate: 0.6 });
  });

  it("the guarded canary counts its bucket's requests that no version answered, or that live answered after the canary refused, against the canary", () => {
    const p = new PairSamples("v2", "v1", 50, 10);
    p.add(rec({ version: "v2", bucket: "03" }));
    p.add(rec({ version: "v1", bucket: "40" }));
    p.add(rec({ status: 503, bucket: "03", upstream: [502, 502, 502] })); // the canary's bucket: the canary's
    p.add(rec({ status: 200, bucket: "09", version: "v1", upstream: [502, 200] })); // the way out answered: still the canary's failure
    p.add(rec({ status: 503, bucket: "10", upstream: [502, 502, 502] })); // live's bucket
    p.add(rec({ status: 502, route: "forced", bucket: null, requested: "v2", upstream: [502] })); // asked for the canary
    p.add(rec({ status: 404, bucket: "03", requested: "v7", upstream: [] })); // nginx's own 404: nobody's
    p.add(rec({ status: 503, bucket: "03", upstream: [502], time: 10 })); // before the watch
    expect([p.canary.requests, p.canary.errors]).toEqual([4, 3]);
    expect([p.live.requests, p.live.errors]).toEqual([2, 1]);
    // Lines without a route (older logs), or no share given: only the version that answered counts.
    const old = new PairSamples("v2", "v1", 0);
    old.add({ time: 1, status: 503, requestTime: 0, version: null });
    old.add(rec({ status: 200, bucket: "09", version: "v1", upstream: [502, 200] }));
    expect([old.canary.requests, old.live.requests, old.live.errors]).toEqual([0, 1, 0]);
  });
});
