import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS, judge, mannWhitneyGreater, quantile, rulesOut, type Sample } from "../../src/canary/judge.js";
import { normalUpperQuantile } from "../../src/canary/stats.js";
import { thresholdsOf } from "../../src/commands/canary-guard.js";
import { configSchema } from "../../src/config/schema.js";

/**
 * n latencies spread as a log-normal (median `median` s, sigma 0.5) in whole
 * milliseconds, as nginx logs them: its quantiles at (i + 0.5) / n, no randomness.
 */
const lognormal = (n: number, median = 0.04, factor = 1) =>
  Array.from({ length: n }, (_, i) => Math.max(1, Math.round(median * 1000 * factor * Math.exp(0.5 * -normalUpperQuantile((i + 0.5) / n)))) / 1000);
const sample = (requests: number, errors: number, latencies = lognormal(requests)): Sample => ({ requests, errors, latencies });
const check = (v: ReturnType<typeof judge>, name: string) => {
  if (v.verdict === "not enough traffic") throw new Error(`no checks: ${v.reason}`);
  return v.checks.find((c) => c.name === name)!;
};

describe("canary judge at one look", () => {
  it("gives no verdict below min_requests, naming the counts and how many more are needed", () => {
    const v = judge(sample(150, 150), sample(5000, 0));
    expect(v.verdict).toBe("not enough traffic");
    expect(v.reason).toBe("canary 150 and live 5000 requests; at least 200 each are needed for a verdict (50 more canary requests)");
    expect(v.verdict === "not enough traffic" && v.needed).toEqual({ canary: 50, live: 0 });
  });

  it("passes a canary that behaves like live, and says what it rules out", () => {
    const v = judge(sample(1000, 3), sample(10000, 30));
    expect(v.verdict).toBe("pass");
    const e = check(v, "5xx rate");
    expect(e.estimate).toBeCloseTo(0, 12);
    expect(e.interval[0]).toBeLessThan(0);
    expect(e.interval[1]).toBeGreaterThan(0);
    expect(e.confidence).toBeCloseTo(0.98, 12);
    expect(e.detail).toMatch(/^canary 3\/1000 \(0\.30%\) vs live 30\/10000 \(0\.30%\): \+0\.00 points \(98% CI -0\.\d\d to \+0\.\d\d\)/);
    expect(v.verdict === "pass" && rulesOut(v.checks)).toMatch(/^5xx rate more than \+0\.\d\d points above live; median latency above live x1\.\d\d; p95 latency above live x1\.\d\d$/);
  });

  it("fails a canary whose 5xx rate is significantly above live's and the allowance, naming the test and counts", () => {
    const v = judge(sample(1000, 80), sample(10000, 20));
    expect(v.verdict).toBe("fail");
    expect(v.reason).toMatch(/^5xx rate: canary 80\/1000 \(8\.00%\) vs live 20\/10000 \(0\.20%\): \+7\.80 points/);
    expect(v.reason).toMatch(/Fisher exact vs live, and exact binomial vs 1\.00%, one-sided p=\S+ <= 0\.0033$/);
    // Fisher's one-sided p for 80/1000 vs 20/10000 (SciPy: 2.3843897881112076e-65); the allowance's is larger.
    expect(check(v, "5xx rate").pValue).toBeLessThan(1e-20);
  });

  it("small counts get exact tests: 6 of 200 against 0 of 200 is Fisher's p 0.015 (the old z-test said 0.002)", () => {
    const v = judge(sample(200, 6), sample(200, 0), { ...DEFAULT_THRESHOLDS, max5xxRate: 0 });
    expect(check(v, "5xx rate").pValue).toBeCloseTo(0.015042029075494588, 10);
    expect(v.verdict).toBe("pass");
  });

  it("min_requests 1: one 5xx in one request is no verdict on its own (Fisher: 1/201)", () => {
    const v = judge(sample(1, 1), sample(200, 0), { ...DEFAULT_THRESHOLDS, minRequests: 1, max5xxRate: 0 });
    expect(check(v, "5xx rate").pValue).toBeCloseTo(0.004975124378109453, 12);
    expect(v.verdict).toBe("pass");
  });

  it("max_5xx_rate 0 with a quiet live does not fail one 5xx in 5,000 (Fisher: 1/11)", () => {
    const v = judge(sample(5000, 1), sample(50000, 0), { ...DEFAULT_THRESHOLDS, max5xxRate: 0 });
    expect(check(v, "5xx rate").pValue).toBeCloseTo(1 / 11, 9);
    expect(v.verdict).toBe("pass");
  });

  it("live above the allowance: judged against live (pooled, exact), not live's rate twice", () => {
    expect(judge(sample(2000, 100), sample(20000, 1000)).verdict).toBe("pass");
    expect(judge(sample(2000, 200), sample(20000, 1000)).verdict).toBe("fail");
  });

  it("max_5xx_increase: a rise within the set points passes, a larger one fails (Berger-Boos exact test)", () => {
    const th = { ...DEFAULT_THRESHOLDS, max5xxRate: 0, max5xxIncrease: 0.005 };
    expect(judge(sample(10000, 130), sample(100000, 1000), th).verdict).toBe("pass");
    const v = judge(sample(10000, 300), sample(100000, 1000), th);
    expect(v.verdict).toBe("fail");
    expect(check(v, "5xx rate").test).toMatch(/live's upper bound \+0\.50 points \(Berger-Boos\)/);
    expect(check(v, "5xx rate").effect).toBe("above live +0.50 points and above 0.00%");
  });

  it("catches latency +20% (the old p95 x1.5 gate hid it), passes +5% (within the 10% allowed)", () => {
    const live = sample(5000, 0);
    const slow = judge(sample(1000, 0, lognormal(1000, 0.04, 1.2)), live);
    expect(slow.verdict).toBe("fail");
    expect(check(slow, "median latency").failed).toBe(true);
    expect(check(slow, "median latency").test).toBe("Mann-Whitney U vs live x1.10 +1 ms, one-sided");
    expect(check(slow, "median latency").estimate).toBeCloseTo(1.2, 1);
    expect(judge(sample(1000, 0, lognormal(1000, 0.04, 1.05)), live).verdict).toBe("pass");
  });

  it("catches a slow tail by p95 while the median is unchanged", () => {
    const lat = lognormal(2000).map((x, i) => (i % 10 === 0 ? x * 4 : x));
    const v = judge(sample(2000, 0, lat), sample(10000, 0));
    expect(check(v, "p95 latency").failed).toBe(true);
    expect(check(v, "median latency").failed).toBe(false);
    expect(check(v, "p95 latency").detail).toMatch(/^canary p95 \d+ ms vs live \d+ ms: x\d\.\d\d \(98% CI x\d\.\d\d to x\d\.\d\d\)/);
  });

  it("a look's level decides: the same data fails at all of alpha and passes at a small share of it", () => {
    const c = sample(600, 15);
    const l = sample(5400, 54);
    expect(judge(c, l, { ...DEFAULT_THRESHOLDS, alpha: 0.2 }).verdict).toBe("fail");
    expect(judge(c, l, { ...DEFAULT_THRESHOLDS, alpha: 0.2 }, 0.001).verdict).toBe("pass");
    expect(() => judge(c, l, DEFAULT_THRESHOLDS, 0.5)).toThrow(/level must be from 0 to alpha \(0\.01\), got 0\.5/);
  });
});

describe("canary judge's guards", () => {
  it("a NaN or infinite latency is left out (and said), never a hang", () => {
    const lat = [...lognormal(300), NaN, Infinity];
    const v = judge({ requests: 302, errors: 0, latencies: lat }, sample(1000, 0));
    expect(v.verdict).toBe("pass");
    expect(check(v, "median latency").detail).toContain("(2 latencies not finite or negative, left out)");
    expect(mannWhitneyGreater([NaN, 0.01, NaN], [0.01, NaN])).toBeGreaterThan(0.4);
    expect(quantile([NaN, 0.005, Infinity, 0.001], 0.95)).toBe(0.005);
  });

  it("empty sides: not enough traffic, naming what each side needs", () => {
    const v = judge({ requests: 0, errors: 0, latencies: [] }, { requests: 0, errors: 0, latencies: [] });
    expect(v).toMatchObject({ verdict: "not enough traffic", needed: { canary: 200, live: 200 } });
    expect(v.reason).toContain("(200 more canary and 200 more live requests)");
  });

  it("no latencies on a side: the latency checks pass with no test, the 5xx check still judges", () => {
    const v = judge({ requests: 500, errors: 100, latencies: [] }, { requests: 500, errors: 0, latencies: [NaN] });
    expect(v.verdict).toBe("fail");
    expect(check(v, "median latency")).toMatchObject({ failed: false, pValue: 1, detail: "no latencies on one side (1 latency not finite or negative, left out)" });
    expect(check(v, "p95 latency")).toMatchObject({ failed: false, pValue: 1 });
  });

  it("refuses impossible counts and thresholds with one line naming them", () => {
    expect(() => judge({ requests: 3, errors: 5, latencies: [] }, sample(200, 0))).toThrow("canary sample: errors must be a whole number from 0 to requests (3), got 5");
    expect(() => judge(sample(200, 0), { requests: NaN, errors: 0, latencies: [] })).toThrow("live sample: requests must be a whole number >= 0, got NaN");
    expect(() => judge(sample(200, 0), { requests: Infinity, errors: 0, latencies: [] })).toThrow(/live sample: requests/);
    expect(() => judge(sample(200, 0), sample(200, 0), { ...DEFAULT_THRESHOLDS, alpha: 0.7 })).toThrow("canary thresholds: alpha must be above 0 and below 0.5, got 0.7");
    expect(() => judge(sample(200, 0), sample(200, 0), { ...DEFAULT_THRESHOLDS, maxLatencyIncrease: NaN })).toThrow(/max_latency_increase/);
    expect(() => judge(sample(200, 0), sample(200, 0), { ...DEFAULT_THRESHOLDS, minRequests: 0 })).toThrow(/min_requests must be a whole number >= 1, got 0/);
  });

  it("DEFAULT_THRESHOLDS are depl.yml's defaults", () => {
    const config = configSchema.parse({ app: "guard", domain: "guard.localhost", run: { wsgi: "app:application" } });
    expect(thresholdsOf({ config })).toEqual(DEFAULT_THRESHOLDS);
  });
});
