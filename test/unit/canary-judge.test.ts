import { describe, expect, it } from "vitest";
import { errorRateTest, judge, mannWhitneyGreater, normalUpperTail, quantile, type Sample } from "../../src/canary/judge.js";

const sample = (requests: number, errors: number, latency: (i: number) => number): Sample => ({
  requests,
  errors,
  latencies: Array.from({ length: requests }, (_, i) => latency(i)),
});
// Deterministic spread of latencies around a centre (no randomness in unit tests).
const spread = (centre: number) => (i: number) => centre * (0.5 + ((i * 7919) % 1000) / 1000);

describe("canary judge", () => {
  it("gives no verdict below min_requests, naming the counts", () => {
    const v = judge(sample(150, 150, spread(0.01)), sample(5000, 0, spread(0.01)));
    expect(v.verdict).toBe("not enough traffic");
    expect(v.reason).toMatch(/canary 150 and live 5000 requests; at least 200/);
  });

  it("passes a canary that behaves like live", () => {
    const v = judge(sample(1000, 3, spread(0.02)), sample(10000, 30, spread(0.02)));
    expect(v.verdict).toBe("pass");
  });

  it("fails a canary whose 5xx rate is significantly above live's and the allowance, naming the test and counts", () => {
    const v = judge(sample(1000, 80, spread(0.02)), sample(10000, 20, spread(0.02)));
    expect(v.verdict).toBe("fail");
    expect(v.reason).toMatch(/5xx rate: canary 80\/1000 \(8\.00%\) vs live 20\/10000 \(0\.20%\)/);
    expect(v.reason).toMatch(/two-proportion z-test/);
  });

  it("does not call a few extra errors significant", () => {
    // 4/300 = 1.3% vs an allowance of 1%: within noise.
    expect(judge(sample(300, 4, spread(0.02)), sample(10000, 10, spread(0.02))).verdict).toBe("pass");
  });

  it("fails a canary that is much slower, by p95 ratio and Mann-Whitney", () => {
    const v = judge(sample(1000, 0, spread(0.1)), sample(5000, 0, spread(0.02)));
    expect(v.verdict).toBe("fail");
    expect(v.reason).toMatch(/p95 latency: canary p95 \d+ ms vs live \d+ ms \(x\d/);
    expect(v.reason).toMatch(/Mann-Whitney U/);
  });

  it("normal tail, quantile and the tests behave at their edges", () => {
    expect(normalUpperTail(0)).toBeCloseTo(0.5, 6);
    expect(normalUpperTail(1.6449)).toBeCloseTo(0.05, 4);
    expect(normalUpperTail(-1.6449)).toBeCloseTo(0.95, 4);
    expect(quantile([5, 1, 3, 2, 4], 0.95)).toBe(5);
    expect(quantile([], 0.95)).toBe(0);
    expect(errorRateTest(sample(500, 0, () => 0), sample(500, 0, () => 0), 0.01).pValue).toBe(1);
    expect(mannWhitneyGreater([1, 1, 1], [1, 1, 1])).toBeGreaterThan(0.4);
    expect(mannWhitneyGreater([], [1])).toBe(1);
  });
});
