import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { layout } from "../../src/naming/layout.js";
import { LiveStats } from "../../src/stats/live.js";
import { computeStats, parseSince, percentile, StatsAccumulator, type RequestRecord } from "../../src/stats/compute.js";
import { formatStats } from "../../src/stats/format.js";
import { parseLog, parseLogLine, parseUpstreamStatus } from "../../src/stats/parse.js";
import { attribute, firstTryFailed, isCanaryBucket } from "../../src/stats/attribute.js";
import { TrafficTimeline } from "../../src/stats/timeline.js";
import { parsePercent } from "../../src/release/percent.js";

describe("percentages", () => {
  it.each([["5%", 5], ["1%", 1], ["99%", 99], ["50%", 50]])("parses %s", (s, n) => expect(parsePercent(s)).toBe(n));
  it.each(["0%", "100%", "105%", "5", "abc%", "-1%", "5.5%", "05%", " 5%", ""])("refuses %j", (s) => {
    expect(() => parsePercent(s)).toThrow(/^invalid percentage ".*": expected a whole number from 1% to 99%/);
  });
});

describe("stats", () => {
  const line = (t: number, status: number, rt: number, version: string | null) =>
    JSON.stringify({ msec: String(t), status: String(status), request_time: String(rt), version: version ?? "" });

  it("parses log lines and skips garbage", () => {
    expect(parseLogLine(line(100.5, 200, 0.01, "v1"))).toEqual({ time: 100.5, status: 200, requestTime: 0.01, version: "v1" });
    expect(parseLogLine(line(100.5, 404, 0, null))!.version).toBeNull();
    expect(parseLogLine("not json")).toBeNull();
    expect(parseLog(`${line(1, 200, 0.1, "a")}\n{"half":\n\n`)).toHaveLength(1);
  });

  it("computes per-version counts, shares, 5xx rate and percentiles", () => {
    const recs = [
      ...Array.from({ length: 90 }, (_, i) => ({ time: 1000 + i, status: 200, requestTime: (i + 1) / 1000, version: "live" })),
      ...Array.from({ length: 8 }, (_, i) => ({ time: 1000 + i, status: 200, requestTime: 0.05, version: "can" })),
      ...Array.from({ length: 2 }, (_, i) => ({ time: 1000 + i, status: 500, requestTime: 0.05, version: "can" })),
      { time: 10, status: 500, requestTime: 1, version: "can" }, // before the window
      { time: 1000, status: 404, requestTime: 0, version: null }, // nginx's own 404
    ];
    const [live, can] = computeStats(recs, 500);
    expect(live).toMatchObject({ version: "live", requests: 90, s2xx: 90, s5xx: 0, errorRate: 0, share: 0.9, p50: 45, p99: 90 });
    expect(can).toMatchObject({ version: "can", requests: 10, s5xx: 2, errorRate: 0.2, share: 0.1 });
    const text = formatStats([{ ...live!, role: "live" }, { ...can!, role: "canary 10%" }], "1h");
    expect(text).toMatch(/^version\s+role\s+requests/);
    expect(text).toContain("canary vs live: 5xx rate +20.00%");
  });

  it("percentile uses nearest rank", () => {
    expect(percentile([0.001, 0.002, 0.003, 0.004], 50)).toBe(2);
    expect(percentile([], 99)).toBe(0);
  });

  it("parses --since", () => {
    expect(parseSince("15m")).toBe(900);
    expect(parseSince("2h")).toBe(7200);
    expect(() => parseSince("soon")).toThrow(/invalid duration "soon"/);
  });
});

describe("requests no version answered", () => {
  const at = (o: Record<string, unknown>) => JSON.stringify({ time: 1000.5, status: 200, request_time: 0.004, upstream_status: "200", route: "live", bucket: "07", requested: "", version: "v1", ...o });
  const rec = (o: Partial<RequestRecord>): RequestRecord => ({ time: 1000, status: 200, requestTime: 0.01, version: null, route: "live", bucket: "50", requested: null, upstream: [200], ...o });
  const outage = { live: "v1", canary: { version: "v2", percent: 5 } };

  it("parses the route, bucket, version asked for and each upstream try", () => {
    expect(parseLogLine(at({ status: 503, upstream_status: "502, 502, 502", version: "" }))).toEqual({
      time: 1000.5, status: 503, requestTime: 0.004, version: null, route: "live", bucket: "07", requested: null, upstream: [502, 502, 502],
    });
    expect(parseLogLine(at({ route: "preview", bucket: "", requested: "v3", upstream_status: "" }))).toMatchObject({ route: "preview", bucket: null, requested: "v3", upstream: [] });
    expect(parseUpstreamStatus("502, 200")).toEqual([502, 200]);
    expect(parseUpstreamStatus("502 : 200")).toEqual([502, 200]);
    expect(parseUpstreamStatus("-")).toEqual([0]);
    expect(parseUpstreamStatus("")).toEqual([]);
  });

  it("a bucket below the canary's share is the canary's (setCanary points 00..N-1 at it)", () => {
    expect(isCanaryBucket("00", 5)).toBe(true);
    expect(isCanaryBucket("04", 5)).toBe(true);
    expect(isCanaryBucket("05", 5)).toBe(false);
    expect(isCanaryBucket("4", 5)).toBe(false);
    expect(isCanaryBucket(null, 5)).toBe(false);
    expect(isCanaryBucket("03", null)).toBe(false);
  });

  it("attributes each request: to the version that answered, else to the side nginx chose, else to nginx itself", () => {
    expect(attribute(rec({ version: "v1" }), outage)).toEqual({ kind: "version", version: "v1" });
    expect(attribute(rec({ status: 503, bucket: "03", upstream: [502, 502, 502] }), outage)).toEqual({ kind: "unanswered", target: { route: "canary", version: "v2" } });
    expect(attribute(rec({ status: 503, bucket: "05", upstream: [502, 502, 502] }), outage)).toEqual({ kind: "unanswered", target: { route: "live", version: "v1" } });
    // Without a canary every bucket is live's.
    expect(attribute(rec({ status: 503, bucket: "03", upstream: [502, 502, 502] }), { live: "v1", canary: null })).toEqual({ kind: "unanswered", target: { route: "live", version: "v1" } });
    expect(attribute(rec({ status: 504, bucket: "03", upstream: [504] }), null)).toEqual({ kind: "unanswered", target: { route: "live", version: null } });
    expect(attribute(rec({ status: 502, route: "forced", bucket: null, requested: "v9", upstream: [502] }), outage)).toEqual({ kind: "unanswered", target: { route: "forced", version: "v9" } });
    expect(attribute(rec({ status: 502, route: "preview", bucket: null, requested: "v9", upstream: [502] }), outage)).toEqual({ kind: "unanswered", target: { route: "preview", version: "v9" } });
    // nginx asked no version: an unknown forced version (404), static files, redirects, other names.
    expect(attribute(rec({ status: 404, requested: "v8", upstream: [] }), outage)).toEqual({ kind: "nginx" });
    expect(attribute(rec({ route: "static", upstream: [] }), outage)).toEqual({ kind: "nginx" });
    expect(attribute(rec({ status: 308, route: "redirect", upstream: [] }), outage)).toEqual({ kind: "nginx" });
    expect(attribute({ time: 1, status: 404, requestTime: 0, version: null }, outage)).toEqual({ kind: "nginx" });
    expect(firstTryFailed(rec({ upstream: [502, 200] }))).toBe(true);
    expect(firstTryFailed(rec({ upstream: [200] }))).toBe(false);
    expect(firstTryFailed(rec({ upstream: [] }))).toBe(false);
  });

  it("knows where the buckets pointed when, from audit.log's traffic changes", () => {
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const tl = TrafficTimeline.fromAudit([
      { at: iso(100), actor: "a", action: "promote", version: "v1", to: { live: "v1", previous: null, canary: null }, result: "ok" },
      { at: iso(200), actor: "a", action: "canary", version: "v2", to: { version: "v2", percent: 5 }, result: "ok" },
      { at: iso(250), actor: "a", action: "canary", version: "v2", to: { version: "v2", percent: 50 }, result: "failed" },
      { at: iso(260), actor: "a", action: "build", version: "v3", result: "ok" },
      { at: iso(300), actor: "a", action: "canary-stop", version: "v2", to: null, result: "ok" },
      { at: iso(400), actor: "a", action: "promote", version: "v2", to: { live: "v2", previous: "v1", canary: null }, result: "ok" },
    ]);
    expect(tl.at(50)).toEqual({ at: 100, live: "v1", canary: null }); // before the first change: the first state known
    expect(tl.at(150)).toMatchObject({ live: "v1", canary: null });
    expect(tl.at(200)).toMatchObject({ live: "v1", canary: { version: "v2", percent: 5 } });
    expect(tl.at(299.9)).toMatchObject({ live: "v1", canary: { version: "v2", percent: 5 } });
    expect(tl.at(350)).toMatchObject({ live: "v1", canary: null });
    expect(tl.at(500)).toMatchObject({ live: "v2", canary: null });
    tl.observe(600, { live: "v2", canary: null }); // no change: no point
    tl.observe(700, { live: "v2", canary: { version: "v3", percent: 10 } }); // changed by hand: known from now
    expect(tl.at(650)).toMatchObject({ canary: null });
    expect(tl.at(701)).toMatchObject({ canary: { version: "v3", percent: 10 } });
    expect(new TrafficTimeline().at(5)).toBeNull();
  });

  it("counts every logged request once: versions, rows per side for the unanswered, nginx itself, and the site as users saw it", () => {
    const acc = new StatsAccumulator(500, (t) => (t < 2000 ? outage : { live: "v1", canary: null }));
    const add = (n: number, o: Partial<RequestRecord>) => Array.from({ length: n }, () => acc.add(rec(o)));
    add(60, { version: "v1", bucket: "50" });
    add(10, { version: "v2", bucket: "01" });
    add(20, { status: 503, bucket: "60", upstream: [502, 502, 502], requestTime: 0.001 });
    add(5, { status: 503, bucket: "02", upstream: [502, 502, 502], requestTime: 0.001 });
    add(3, { status: 503, bucket: "02", upstream: [502, 502, 502], time: 2500 }); // after the canary stopped: live's
    add(2, { status: 200, route: "static", bucket: "02", upstream: [] });
    add(9, { status: 503, time: 100, upstream: [502] }); // before the window
    const r = acc.report();
    expect(r.versions.map((v) => [v.version, v.requests, v.s5xx])).toEqual([["v1", 60, 0], ["v2", 10, 0]]);
    expect(r.unanswered.map((u) => [u.route, u.version, u.requests, u.s5xx, u.errorRate])).toEqual([["live", "v1", 23, 23, 1], ["canary", "v2", 5, 5, 1]]);
    expect(r.versions[0]!.share).toBeCloseTo(60 / 98);
    expect(r.unanswered[0]!.share).toBeCloseTo(23 / 98);
    expect(r.nginx).toMatchObject({ requests: 2, s2xx: 2 });
    expect(r.site).toMatchObject({ requests: 100, s5xx: 28, errorRate: 0.28 });
    // The old per-version answer is unchanged.
    expect(acc.result()).toEqual(r.versions);
    expect(StatsAccumulator.sum([acc, acc]).site).toMatchObject({ requests: 200, s5xx: 56 });
  });

  it("the table shows the unanswered rows and the site's 5xx rate beside the versions'", () => {
    const acc = new StatsAccumulator(0, () => outage);
    for (let i = 0; i < 30; i++) acc.add(rec({ version: "v1" }));
    for (let i = 0; i < 10; i++) acc.add(rec({ status: 503, upstream: [502, 502, 502] }));
    const r = acc.report();
    const text = formatStats(r.versions.map((v) => ({ ...v, role: "live" })), "15m", r);
    const lines = text.split("\n");
    expect(lines[1]).toMatch(/^v1\s+live\s+30\s+75\.00%\s+30\s+0\s+0\s+0\s+0\.00%/);
    expect(lines[2]).toMatch(/^v1\s+no version answered \(live\)\s+10\s+25\.00%\s+0\s+0\s+0\s+10\s+100\.00%/);
    expect(lines[3]).toMatch(/^all\s+site as users saw it\s+40\s+-\s+30\s+0\s+0\s+10\s+25\.00%/);
    expect(lines[4]).toBe("10 request(s) reached no version: the site's 5xx rate as users saw it was 25.00%");
    // An outage with no version answering at all is still a table, not "no requests".
    const only = new StatsAccumulator(0, () => outage);
    only.add(rec({ status: 503, upstream: [502] }));
    expect(formatStats([], "15m", only.report())).toMatch(/no version answered \(live\)\s+1\s/);
    expect(formatStats([], "15m", new StatsAccumulator(0).report())).toBe("no requests served by any version in the last 15m");
  });
});

describe("live stats on real files: the side of an unanswered request follows audit.log's traffic changes", () => {
  const root = mkdtempSync(join(tmpdir(), "depl-stats-"));
  const l = layout(root, "app1");
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const entry = (at: number, action: string, to: unknown) => JSON.stringify({ at: iso(at), actor: "t", action, version: "x", to, result: "ok" }) + "\n";
  const lost = (t: number, bucket: string) => JSON.stringify({ time: t, status: 503, request_time: 0.001, upstream_status: "502, 502, 502", route: "live", bucket, requested: "", version: "" }) + "\n";

  it("reads the window with the timeline, then re-reads audit.log when a poll finds the links changed", async () => {
    const now = Date.now() / 1000;
    mkdirSync(l.logDir, { recursive: true });
    writeFileSync(l.auditLog, entry(now - 500, "promote", { live: "v1", previous: null, canary: null }) + entry(now - 100, "canary", { version: "v2", percent: 10 }));
    // Bucket 03: live's before the canary, the canary's after.
    writeFileSync(l.accessLog, lost(now - 200, "03") + lost(now - 50, "03") + lost(now - 40, "50"));
    const live = new LiveStats([new LocalHost()], l, 60, 15);
    await live.start(900);
    const rows = () => live.total.report(now - 900).unanswered.map((u) => [u.route, u.version, u.requests]);
    expect(rows()).toEqual([["live", "v1", 2], ["canary", "v2", 1]]);
    // The canary stopped (audit.log says when); the poll sees the links changed and places the new lines by it.
    appendFileSync(l.auditLog, entry(Date.now() / 1000 - 0.5, "canary-stop", null));
    appendFileSync(l.accessLog, lost(Date.now() / 1000, "03"));
    await live.poll([{ live: "v1", previous: null, canary: null }]);
    expect(rows()).toEqual([["live", "v1", 3], ["canary", "v2", 1]]);
  });
});
