import { describe, expect, it } from "vitest";
import { describeResult, trafficChange, watchCanary, type WatchSource } from "../../src/canary/watch.js";
import { SampleBuilder } from "../../src/canary/sample.js";
import { parseSteps, resumeHint } from "../../src/commands/canary-guard.js";
import { DEFAULT_THRESHOLDS } from "../../src/canary/judge.js";
import { takeLines } from "../../src/stats/tail.js";
import { configSchema } from "../../src/config/schema.js";
import type { RequestRecord } from "../../src/stats/compute.js";
import type { TrafficState } from "../../src/switch/plan.js";

const target = { version: "v2", percent: 10, live: "v1" };
const state: TrafficState = { live: "v1", previous: null, canary: { version: "v2", percent: 10 } };

/** A fake clock and a host whose log gains `perTick(t)` records at each check. */
function setup(perTick: (tick: number) => RequestRecord[], traffic: (tick: number) => TrafficState = () => state) {
  let now = 0;
  let tick = 0;
  const source: WatchSource = { name: "local", poll: async () => perTick(tick), traffic: async () => traffic(tick) };
  const opts = {
    windowMs: 60_000,
    intervalMs: 10_000,
    thresholds: DEFAULT_THRESHOLDS,
    since: 0,
    say: () => undefined,
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      tick++;
    },
  };
  return { source, opts, ticks: () => tick };
}

const reqs = (version: string, n: number, status = 200, time = 0.01): RequestRecord[] =>
  Array.from({ length: n }, (_, i) => ({ time: 1, status, requestTime: time + (i % 7) / 1000, version }));

describe("watchCanary", () => {
  it("fails at the first check where the canary's 5xx rate is significantly over live's and the allowance", async () => {
    const { source, opts, ticks } = setup((t) => [...reqs("v1", 2000), ...reqs("v2", 200, t >= 2 ? 500 : 200)]);
    const r = await watchCanary(target, [source], opts);
    expect(r.outcome).toBe("fail");
    expect(ticks()).toBe(2);
    const text = describeResult(target, r, 0.01);
    expect(text).toMatch(/FAIL 5xx rate: canary 200\/400 \(50\.00%\) vs live 0\/4000/);
    expect(text).toContain("two-proportion z-test");
  });

  it("passes only when the window ends, with counts and named tests", async () => {
    const { source, opts, ticks } = setup(() => [...reqs("v1", 1000), ...reqs("v2", 100)]);
    const r = await watchCanary(target, [source], opts);
    expect(r.outcome).toBe("pass");
    expect(ticks()).toBe(6);
    const text = describeResult(target, r, 0.01);
    expect(text).toContain("canary v2 10%: 600 req, 0 5xx");
    expect(text).toMatch(/Mann-Whitney U.*not significant/);
  });

  it("says not enough traffic, never pass, below min_requests, even with no errors", async () => {
    const { source, opts } = setup(() => [...reqs("v1", 1000), ...reqs("v2", 10)]);
    const r = await watchCanary(target, [source], opts);
    expect(r.outcome).toBe("not enough traffic");
    expect(describeResult(target, r, 0.01)).toContain("canary 60 and live 6000 requests; at least 200 each");
  });

  it("gives no fail verdict before min_requests even when every canary request failed", async () => {
    const { source, opts } = setup(() => [...reqs("v1", 1000), ...reqs("v2", 5, 500)]);
    expect((await watchCanary(target, [source], opts)).outcome).toBe("not enough traffic");
  });

  it("fails on one host even when the sum across hosts is within bounds", async () => {
    const a = setup(() => [...reqs("v1", 3000), ...reqs("v2", 3000)]);
    const b: WatchSource = { name: "web2", poll: async () => [...reqs("v1", 300), ...reqs("v2", 250, 200), ...reqs("v2", 50, 503)], traffic: async () => state };
    const r = await watchCanary(target, [a.source, b], { ...a.opts, thresholds: { ...DEFAULT_THRESHOLDS, max5xxRate: 0.05 } });
    expect(r.outcome).toBe("fail");
    expect(describeResult(target, r, 0.01)).toContain("failed on host web2");
  });

  it("ends without a verdict when someone else changed the canary", async () => {
    const { source, opts } = setup(() => reqs("v1", 10), (t) => (t >= 2 ? { ...state, canary: { version: "v2", percent: 50 } } : state));
    const r = await watchCanary(target, [source], opts);
    expect(r).toMatchObject({ outcome: "changed", message: "local: the canary is now v2 at 50%, not v2 at 10%" });
  });

  it("ends with interrupted when its signal is aborted", async () => {
    const ac = new AbortController();
    const { source, opts } = setup(() => reqs("v1", 10));
    const r = await watchCanary(target, [source], { ...opts, signal: ac.signal, sleep: async () => ac.abort() });
    expect(r.outcome).toBe("interrupted");
  });
});

describe("pieces", () => {
  it("a slower p95 fails only past both the ratio and the absolute increase", async () => {
    const { judge } = await import("../../src/canary/judge.js");
    const c = { requests: 1000, errors: 0, latencies: Array.from({ length: 1000 }, (_, i) => 0.002 + (i % 10) / 1000) };
    const l = { requests: 1000, errors: 0, latencies: Array.from({ length: 1000 }, (_, i) => 0.001 + (i % 4) / 1000) };
    expect(judge(c, l, DEFAULT_THRESHOLDS).verdict).toBe("fail");
    const v = judge(c, l, { ...DEFAULT_THRESHOLDS, minP95IncreaseSec: 0.02 });
    expect(v.verdict).toBe("pass");
    expect(v.reason).toContain("allowed x1.5 and +20 ms");
  });

  it("trafficChange names what changed", () => {
    expect(trafficChange("h", target, state)).toBeNull();
    expect(trafficChange("h", target, { ...state, canary: null })).toBe("h: the canary was stopped by someone else");
    expect(trafficChange("h", target, { ...state, live: "v3" })).toBe("h: live is now v3, not v1");
  });

  it("SampleBuilder counts exactly and keeps a bounded reservoir", () => {
    const s = new SampleBuilder(100, () => 0.5);
    for (let i = 0; i < 1000; i++) s.add({ status: i % 10 === 0 ? 502 : 200, requestTime: i });
    expect(s.sample().requests).toBe(1000);
    expect(s.sample().errors).toBe(100);
    expect(s.sample().latencies.length).toBe(100);
  });

  it("takeLines leaves a half-written last line for the next poll", () => {
    const line = JSON.stringify({ msec: "1.5", status: "200", request_time: "0.010", version: "v1" });
    const r = takeLines(`${line}\n${line}\n{"msec":`);
    expect(r.records).toHaveLength(2);
    expect(r.bytes).toBe(Buffer.byteLength(line) * 2 + 2);
    expect(takeLines("partial").bytes).toBe(0);
  });

  it("parseSteps takes rising percentages and refuses the rest", () => {
    expect(parseSteps("5,25,50")).toEqual([5, 25, 50]);
    expect(parseSteps("5%, 25%")).toEqual([5, 25]);
    expect(() => parseSteps("25,5")).toThrow(/larger than the one before/);
    expect(() => parseSteps("5,100")).toThrow();
    expect(resumeHint("v2", [5, 25, 50], 1, "5m", true)).toBe("to go on: depl canary v2 --steps 25,50 --watch 5m --promote; to stop: depl canary --stop");
  });

  it("depl.yml canary: has defaults and takes percentages", () => {
    const base = { app: "guard", domain: "guard.localhost", run: { wsgi: "app:application" } };
    expect(configSchema.parse(base).canary).toEqual({ max_5xx_rate: 0.01, max_p95_ratio: 1.5, min_p95_increase: 20, min_requests: 200, alpha: 0.01, interval: 10_000 });
    expect(configSchema.parse({ ...base, canary: { max_5xx_rate: "0.5%", interval: "5s" } }).canary).toMatchObject({ max_5xx_rate: 0.005, interval: 5000 });
    expect(() => configSchema.parse({ ...base, canary: { max_5xx_rate: "lots" } })).toThrow(/percentage/);
  });
});

describe("LogTail on a real file", () => {
  it("follows access.log across a rotation (rename and a new file) without losing or repeating a line", async () => {
    const { mkdtempSync, mkdirSync, appendFileSync, renameSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { LocalHost } = await import("../../src/host/local.js");
    const { layout } = await import("../../src/naming/layout.js");
    const { LogTail } = await import("../../src/stats/tail.js");
    const root = mkdtempSync(`${tmpdir()}/depl-tail-`);
    try {
      const l = layout(root, "guard");
      mkdirSync(l.logDir, { recursive: true });
      const log = `${l.logDir}/access.log`;
      const line = (n: number) => JSON.stringify({ time: 1000 + n, status: 200, request_time: 0.001, version: "v1" }) + "\n";
      appendFileSync(log, line(0)); // before start: not the tail's
      const tail = new LogTail(new LocalHost(), l);
      await tail.start();
      appendFileSync(log, line(1) + line(2) + '{"time":10');
      expect((await tail.poll()).map((r) => r.time)).toEqual([1001, 1002]);
      appendFileSync(log, '03,"status":200,"request_time":0.001,"version":"v1"}\n' + line(4));
      renameSync(log, `${l.logDir}/access.log-20261123T051800Z`);
      appendFileSync(log, line(5));
      expect((await tail.poll()).map((r) => r.time)).toEqual([1003, 1004, 1005]);
      expect(await tail.poll()).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
