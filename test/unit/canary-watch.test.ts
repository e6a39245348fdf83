import { describe, expect, it } from "vitest";
import { describeResult, spending, trafficChange, warmupOf, watchCanary, type WatchSource } from "../../src/canary/watch.js";
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
    expect(text).toMatch(/Fisher exact vs live, and exact binomial vs 1\.00%, one-sided: p=\S+ \(significant at this look's \S+; alpha 0\.01 over the whole watch\)/);
  });

  it("passes only when the window ends, with counts and named tests", async () => {
    const { source, opts, ticks } = setup(() => [...reqs("v1", 1000), ...reqs("v2", 100)]);
    const r = await watchCanary(target, [source], opts);
    expect(r.outcome).toBe("pass");
    expect(ticks()).toBe(6);
    const text = describeResult(target, r, 0.01);
    expect(text).toContain("canary v2 10%: 600 req, 0 5xx");
    expect(text).toMatch(/ok   median latency: .*Mann-Whitney U vs live x1\.10 \+1 ms, one-sided: p=\S+ \(not significant/);
    expect(text).toMatch(/rules out \(98% bounds at the last look\): 5xx rate more than \+\d\.\d\d points above live; median latency above live x\d\.\d\d; p95 latency above live x\d\.\d\d/);
    // The last look spends what is left: alpha over the whole watch, no more.
    expect(r.outcome === "pass" && r.spent).toBeCloseTo(0.01, 12);
  });

  it("says not enough traffic, never pass, below min_requests, even with no errors", async () => {
    const { source, opts } = setup(() => [...reqs("v1", 1000), ...reqs("v2", 10)]);
    const r = await watchCanary(target, [source], opts);
    expect(r.outcome).toBe("not enough traffic");
    expect(describeResult(target, r, 0.01)).toContain("canary 60 and live 6000 requests; at least 200 each are needed for a verdict (140 more canary requests)");
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

describe("watchCanary's error over the whole watch", () => {
  /** Requests stamped with the fake clock's time, so that the warm-up can tell them apart. */
  function timed(perTick: (tick: number) => { live: number; canary: number; canaryStatus?: number }, hosts = ["local"]) {
    let now = 0;
    let tick = 0;
    const make = (version: string, n: number, status: number) =>
      Array.from({ length: n }, (_, i) => ({ time: now / 1000 - 5, status, requestTime: 0.01 + (i % 7) / 1000, version }));
    const sources: WatchSource[] = hosts.map((name) => ({
      name,
      poll: async () => {
        const p = perTick(tick);
        return [...make("v1", p.live, 200), ...make("v2", p.canary, p.canaryStatus ?? 200)];
      },
      traffic: async () => state,
    }));
    const opts = {
      windowMs: 120_000,
      intervalMs: 10_000,
      thresholds: DEFAULT_THRESHOLDS,
      since: 0,
      say: (m: string) => void said.push(m),
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
        tick++;
      },
    };
    const said: string[] = [];
    return { sources, opts, said };
  }

  it("looks without enough traffic spend nothing: the looks after them still share all of alpha", async () => {
    const { sources, opts, said } = timed((t) => ({ live: 1000, canary: t <= 6 ? 10 : 100 }));
    const r = await watchCanary(target, sources, opts);
    expect(r.outcome).toBe("pass");
    expect(r.outcome === "pass" && r.spent).toBeCloseTo(0.01, 12);
    // Looks 1 to 7 had fewer than 200 canary requests; look 8 (260) spends the plan's whole share up to 80 s.
    expect(said[6]).toMatch(/^\[70s\/120s\] .*: not enough traffic yet/);
    expect(said[7]).toContain(`[80s/120s] canary v2 10%: 260 req`);
    expect(said[7]).toContain(`alpha spent ${spending(0.01, 8 / 12).toFixed(4)} of 0.01`);
    // The last look's share: the plan's total at 120 s less what looks 8 to 11 spent.
    const last = r.outcome === "pass" && r.verdict.verdict === "pass" ? r.verdict.checks[0]!.level : NaN;
    expect(last).toBeCloseTo((0.01 - spending(0.01, 11 / 12)) / 3, 12);
  });

  it("several hosts: the summed pair and each host's share each look's alpha (Bonferroni)", async () => {
    const { sources, opts } = timed(() => ({ live: 500, canary: 50 }), ["web1", "web2"]);
    const r = await watchCanary(target, sources, opts);
    expect(r.outcome).toBe("pass");
    if (r.outcome !== "pass" || r.verdict.verdict !== "pass") throw new Error("expected a pass");
    const lastShare = 0.01 - spending(0.01, 11 / 12);
    expect(r.verdict.checks[0]!.level).toBeCloseTo(lastShare / 3 / 3, 12);
    expect(r.perHost.web1!.verdict === "pass" && r.perHost.web1!.checks[0]!.level).toBeCloseTo(lastShare / 3 / 3, 12);
  });

  it("warm-up: a cold canary's first requests are shown, not judged", async () => {
    const { sources, opts, said } = timed((t) => ({ live: 1000, canary: 100, canaryStatus: t <= 3 ? 500 : 200 }));
    const cold = await watchCanary(target, sources, { ...opts, warmupMs: 30_000 });
    expect(cold.outcome).toBe("pass");
    expect(said[0]).toMatch(/^\[10s\/120s\] warming up, not judged until 30s: canary v2 10%: 100 req, 100 5xx/);
    const text = describeResult(target, cold, 0.01);
    expect(text).toMatch(/^canary v2 10%: 900 req, 0 5xx/);
    expect(text).toContain("warm-up, shown but not judged: canary v2 10%: 300 req, 300 5xx");
    // Judged from the first request, the same canary fails.
    const again = timed((t) => ({ live: 1000, canary: 100, canaryStatus: t <= 3 ? 500 : 200 }));
    expect((await watchCanary(target, again.sources, again.opts)).outcome).toBe("fail");
  });

  it("refuses impossible thresholds and windows with one line", async () => {
    const { sources, opts } = timed(() => ({ live: 10, canary: 1 }));
    await expect(watchCanary(target, sources, { ...opts, thresholds: { ...DEFAULT_THRESHOLDS, alpha: NaN } })).rejects.toThrow("canary thresholds: alpha must be above 0 and below 0.5, got NaN");
    await expect(watchCanary(target, sources, { ...opts, windowMs: 0 })).rejects.toThrow(/window \(0 ms\) and interval \(10000 ms\) must be above 0/);
  });
});

describe("pieces", () => {
  it("a slower canary fails only past both the relative and the absolute allowance", async () => {
    const { judge } = await import("../../src/canary/judge.js");
    const c = { requests: 1000, errors: 0, latencies: Array.from({ length: 1000 }, (_, i) => 0.002 + (i % 10) / 1000) };
    const l = { requests: 1000, errors: 0, latencies: Array.from({ length: 1000 }, (_, i) => 0.001 + (i % 4) / 1000) };
    expect(judge(c, l, DEFAULT_THRESHOLDS).verdict).toBe("fail");
    const v = judge(c, l, { ...DEFAULT_THRESHOLDS, minP95IncreaseSec: 0.02 });
    expect(v.verdict).toBe("pass");
    expect(v.reason).toContain("fails when significantly above live x1.10 +20 ms");
  });

  it("spending: the Lan-DeMets Pocock-type function, all of alpha at the end", () => {
    expect(spending(0.01, 0)).toBe(0);
    expect(spending(0.01, 0.5)).toBeCloseTo(0.01 * Math.log(1 + (Math.E - 1) / 2), 15);
    expect(spending(0.01, 1)).toBe(0.01);
    expect(spending(0.01, 2)).toBe(0.01);
    expect(spending(0.01, -1)).toBe(0);
    expect(warmupOf(600_000, 60_000)).toBe(60_000);
    expect(warmupOf(60_000, 60_000)).toBe(15_000);
    expect(warmupOf(60_000, undefined)).toBe(0);
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
    expect(configSchema.parse(base).canary).toEqual({ max_5xx_rate: 0.01, max_5xx_increase: 0, max_latency_increase: 0.1, min_p95_increase: 1, min_requests: 200, alpha: 0.01, interval: 10_000, warmup: 60_000 });
    // The old keys still mean what they said.
    expect(configSchema.parse({ ...base, canary: { max_p95_ratio: 1.5, min_p95_increase: "20ms", warmup: "0s" } }).canary).toMatchObject({ max_p95_ratio: 1.5, min_p95_increase: 20, warmup: 0 });
    expect(configSchema.parse({ ...base, canary: { max_5xx_increase: "0.5%", max_latency_increase: "20%" } }).canary).toMatchObject({ max_5xx_increase: 0.005, max_latency_increase: 0.2 });
    expect(() => configSchema.parse({ ...base, canary: { max_5xx_increase: "100%" } })).toThrow(/must be below 100%/);
    expect(() => configSchema.parse({ ...base, canary: { warmup: "soon" } })).toThrow(/expected a duration/);
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
