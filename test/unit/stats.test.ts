import { describe, expect, it } from "vitest";
import { computeStats, parseSince, percentile } from "../../src/stats/compute.js";
import { formatStats } from "../../src/stats/format.js";
import { parseLog, parseLogLine } from "../../src/stats/parse.js";
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
