// Today's judge (main at c5db44b, src/canary/judge.ts), kept verbatim for bench/canary.ts to compare against.
// The guarded canary's judge. Pure: counts and latencies in, a verdict out.
// Canary is compared with live over the same window; no verdict before
// min_requests; a difference fails the canary only when it crosses the
// configured threshold AND a named test calls it significant.

export interface Sample {
  requests: number;
  /** Responses with status 500-599. */
  errors: number;
  /** Request times in seconds, any order. */
  latencies: readonly number[];
}

export interface Thresholds {
  /** The canary's 5xx rate may not exceed max(this, live's rate) significantly, e.g. 0.01. */
  max5xxRate: number;
  /** canary p95 / live p95 may not exceed this, e.g. 1.5. */
  maxP95Ratio: number;
  /**
   * Seconds the canary's p95 must also exceed live's by: nginx logs whole
   * milliseconds, and a fresh release's cold few ms (4 ms vs 10 ms) are a
   * ratio of 2.5 that no user notices.
   */
  minP95IncreaseSec?: number;
  /** Fewer canary (or live) requests than this: no verdict. */
  minRequests: number;
  /** One-sided significance level of both tests. */
  alpha: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { max5xxRate: 0.01, maxP95Ratio: 1.5, minRequests: 200, alpha: 0.01 };

export type Verdict =
  | { verdict: "not enough traffic"; reason: string }
  | { verdict: "pass"; reason: string; checks: Check[] }
  | { verdict: "fail"; reason: string; checks: Check[] };

export interface Check {
  name: "5xx rate" | "p95 latency";
  failed: boolean;
  /** The test that decided whether the difference is real. */
  test: string;
  pValue: number;
  detail: string;
}

/** Nearest-rank percentile of unsorted seconds, in seconds. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** Standard normal upper tail P(Z > z) (Abramowitz-Stegun 26.2.17, error < 7.5e-8). */
export function normalUpperTail(z: number): number {
  if (z < 0) return 1 - normalUpperTail(-z);
  const t = 1 / (1 + 0.2316419 * z);
  const d = Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI);
  const poly = t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return d * poly;
}

/**
 * One-sided two-proportion z-test that the canary's error rate exceeds
 * `floor` (live's rate, or the allowed rate when that is higher): pooled
 * standard error against live, shifted by the allowance.
 */
export function errorRateTest(canary: Sample, live: Sample, allowed: number): { pValue: number; canaryRate: number; liveRate: number } {
  const pc = canary.errors / canary.requests;
  const pl = live.errors / live.requests;
  const floor = Math.max(pl, allowed);
  if (pc <= floor) return { pValue: 1, canaryRate: pc, liveRate: pl };
  // Variance of the difference under the null, each side at least at the floor.
  const vc = (floor * (1 - floor)) / canary.requests;
  const vl = pl >= allowed ? (pl * (1 - pl)) / live.requests : 0;
  const se = Math.sqrt(vc + vl);
  if (se === 0) return { pValue: 0, canaryRate: pc, liveRate: pl };
  return { pValue: normalUpperTail((pc - floor) / se), canaryRate: pc, liveRate: pl };
}

/**
 * One-sided Mann-Whitney U test (normal approximation with tie correction)
 * that canary latencies tend to be larger than live's.
 */
export function mannWhitneyGreater(canary: readonly number[], live: readonly number[]): number {
  const n1 = canary.length;
  const n2 = live.length;
  if (n1 === 0 || n2 === 0) return 1;
  const all = [...canary.map((v) => ({ v, c: true })), ...live.map((v) => ({ v, c: false }))].sort((a, b) => a.v - b.v);
  let rankSumCanary = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const rank = (i + 1 + j) / 2;
    const t = j - i;
    tieTerm += t * t * t - t;
    for (let k = i; k < j; k++) if (all[k]!.c) rankSumCanary += rank;
    i = j;
  }
  const u = rankSumCanary - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return 1;
  // Continuity correction of 0.5 toward the mean.
  return normalUpperTail((u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance));
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const ms = (s: number) => `${Math.round(s * 1000)} ms`;

export function judge(canary: Sample, live: Sample, th: Thresholds = DEFAULT_THRESHOLDS): Verdict {
  if (canary.requests < th.minRequests || live.requests < th.minRequests) {
    return {
      verdict: "not enough traffic",
      reason: `canary ${canary.requests} and live ${live.requests} requests; at least ${th.minRequests} each are needed for a verdict`,
    };
  }
  const err = errorRateTest(canary, live, th.max5xxRate);
  const errFailed = err.pValue < th.alpha;
  const p95c = quantile(canary.latencies, 0.95);
  const p95l = quantile(live.latencies, 0.95);
  const ratio = p95l > 0 ? p95c / p95l : p95c > 0 ? Infinity : 1;
  const latP = mannWhitneyGreater(canary.latencies, live.latencies);
  const slack = th.minP95IncreaseSec ?? 0;
  const latFailed = ratio > th.maxP95Ratio && p95c - p95l > slack && latP < th.alpha;
  const checks: Check[] = [
    {
      name: "5xx rate",
      failed: errFailed,
      test: "two-proportion z-test, one-sided",
      pValue: err.pValue,
      detail: `canary ${canary.errors}/${canary.requests} (${pct(err.canaryRate)}) vs live ${live.errors}/${live.requests} (${pct(err.liveRate)}), allowed ${pct(th.max5xxRate)}`,
    },
    {
      name: "p95 latency",
      failed: latFailed,
      test: "Mann-Whitney U, one-sided",
      pValue: latP,
      detail: `canary p95 ${ms(p95c)} vs live ${ms(p95l)} (x${Number.isFinite(ratio) ? ratio.toFixed(2) : "inf"}, allowed x${th.maxP95Ratio}${slack ? ` and +${ms(slack)}` : ""})`,
    },
  ];
  const failed = checks.filter((c) => c.failed);
  if (failed.length) {
    return { verdict: "fail", reason: failed.map((c) => `${c.name}: ${c.detail}; ${c.test} p=${c.pValue.toExponential(2)}`).join("; "), checks };
  }
  return { verdict: "pass", reason: checks.map((c) => `${c.name}: ${c.detail}`).join("; "), checks };
}
