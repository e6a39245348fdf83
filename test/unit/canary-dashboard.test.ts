import { describe, expect, it } from "vitest";
import { sparkline, sparklineRows } from "../../src/stats/sparkline.js";
import { TimeSeries } from "../../src/stats/series.js";
import { computeStats } from "../../src/stats/compute.js";
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
