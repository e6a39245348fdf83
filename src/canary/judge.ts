// The guarded canary's judge at one look. Pure: counts and latencies in, a
// verdict out. Canary is compared with live over the same requests' window;
// no verdict before min_requests. Each check tests a regression of at least
// the size the user set (its "effect") with an exact or small-sample-correct
// test, and fails only when its p-value is at or below the level this look
// may spend (the watch's alpha-spending plan, see watch.ts), shared equally by
// the three checks (Bonferroni). Each check also carries a confidence
// interval for the difference, so a pass says how large a regression it rules out.

import {
  binomUpperTail,
  clopperPearson,
  countAbove,
  fisherGreater,
  kth,
  mannWhitneyGreaterRuns,
  newcombeDifference,
  normalUpperQuantile,
  quantileLowerIndex,
  quantileUpperIndex,
  runsOf,
  runsQuantile,
  type Runs,
} from "./stats.js";

export { normalUpperTail } from "./stats.js";

export interface Sample {
  requests: number;
  /** Responses with status 500-599. */
  errors: number;
  /** Request times in seconds, any order (a uniform sample of the requests' when they are many). */
  latencies: readonly number[];
}

export interface Thresholds {
  /** The canary's 5xx rate may reach this whatever live's is, e.g. 0.01. */
  max5xxRate: number;
  /** ...and may exceed live's by this many points (0.005 = 0.5 points). Default 0. */
  max5xxIncrease?: number;
  /** The canary's latency (median, and p95) may exceed live's by this share, e.g. 0.1 = 10%. Default 0.1. */
  maxLatencyIncrease?: number;
  /** canary p95 / live p95 allowed, when set (else 1 + maxLatencyIncrease). */
  maxP95Ratio?: number;
  /** Seconds added to both latency allowances: nginx logs whole milliseconds. Default 0.001. */
  minP95IncreaseSec?: number;
  /** Fewer canary (or live) requests than this: no verdict. */
  minRequests: number;
  /** Chance of failing a canary that is no worse than the allowances, over the whole watch. */
  alpha: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  max5xxRate: 0.01,
  max5xxIncrease: 0,
  maxLatencyIncrease: 0.1,
  minP95IncreaseSec: 0.001,
  minRequests: 200,
  alpha: 0.01,
};

export type CheckName = "5xx rate" | "median latency" | "p95 latency";

export interface Check {
  name: CheckName;
  failed: boolean;
  /** The test that decided whether the difference is real. */
  test: string;
  pValue: number;
  /** The level the p-value was held to at this look (alpha spent at this look / checks / hosts). */
  level: number;
  /** The regression this check looks for, in words. */
  effect: string;
  /** 5xx rate: canary minus live (a rate, 0.01 = 1 point); latency: canary / live. */
  estimate: number;
  /** Two-sided interval for `estimate` at `confidence` (each bound one-sided at alpha), at this look. */
  interval: [number, number];
  confidence: number;
  detail: string;
}

export type Verdict =
  | { verdict: "not enough traffic"; reason: string; needed: { canary: number; live: number } }
  | { verdict: "pass"; reason: string; checks: Check[] }
  | { verdict: "fail"; reason: string; checks: Check[] };

/** Nearest-rank percentile of unsorted seconds, in seconds; NaN, infinite and negative values are left out. */
export function quantile(values: readonly number[], p: number): number {
  return runsQuantile(runsOf(values).runs, p);
}

/**
 * One-sided Mann-Whitney U p-value that canary latencies tend to be larger
 * than live's (normal approximation, tie and continuity corrections); NaN
 * and infinite values are left out, and an empty side gives 1.
 */
export function mannWhitneyGreater(canary: readonly number[], live: readonly number[]): number {
  return mannWhitneyGreaterRuns(runsOf(canary).runs, runsOf(live).runs).pValue;
}

/** A one-line error naming what is wrong with a sample, or nothing. */
export function checkSample(side: string, s: Sample): void {
  if (!Number.isInteger(s.requests) || s.requests < 0) throw new RangeError(`${side} sample: requests must be a whole number >= 0, got ${s.requests}`);
  if (!Number.isInteger(s.errors) || s.errors < 0 || s.errors > s.requests) throw new RangeError(`${side} sample: errors must be a whole number from 0 to requests (${s.requests}), got ${s.errors}`);
  if (!Array.isArray(s.latencies)) throw new RangeError(`${side} sample: latencies must be an array`);
}

export function checkThresholds(th: Thresholds): void {
  const bad = (k: string, v: unknown, want: string) => new RangeError(`canary thresholds: ${k} must be ${want}, got ${v}`);
  if (!(th.alpha > 0 && th.alpha < 0.5)) throw bad("alpha", th.alpha, "above 0 and below 0.5");
  if (!(th.max5xxRate >= 0 && th.max5xxRate <= 1)) throw bad("max_5xx_rate", th.max5xxRate, "from 0 to 1");
  const inc = th.max5xxIncrease ?? 0;
  if (!(inc >= 0 && inc < 1)) throw bad("max_5xx_increase", inc, "from 0 to below 1");
  const lat = th.maxLatencyIncrease ?? 0.1;
  if (!(lat >= 0 && Number.isFinite(lat))) throw bad("max_latency_increase", lat, "a finite share >= 0");
  if (th.maxP95Ratio !== undefined && !(th.maxP95Ratio >= 1 && Number.isFinite(th.maxP95Ratio))) throw bad("max_p95_ratio", th.maxP95Ratio, "a finite number >= 1");
  const slack = th.minP95IncreaseSec ?? 0.001;
  if (!(slack >= 0 && Number.isFinite(slack))) throw bad("min_p95_increase", slack, "a finite duration >= 0");
  if (!(Number.isInteger(th.minRequests) && th.minRequests >= 1)) throw bad("min_requests", th.minRequests, "a whole number >= 1");
}

const CHECKS = 3;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pts = (x: number) => `${x >= 0 ? "+" : "-"}${Math.abs(x * 100).toFixed(2)}`;
const ms = (s: number) => `${Math.round(s * 1000)} ms`;
const times = (x: number) => (Number.isFinite(x) ? `x${x.toFixed(2)}` : "x-");
const pOf = (p: number) => (p < 1e-4 ? p.toExponential(2) : p.toFixed(4));

/** 5xx: fails when the canary's rate is above both live's + increase and the allowance. */
function errorCheck(c: Sample, l: Sample, th: Thresholds, level: number): Check {
  const a = th.max5xxRate;
  const inc = th.max5xxIncrease ?? 0;
  // Intersection-union: the canary fails only when both nulls fall, each at `level`.
  const pAllow = binomUpperTail(c.requests, c.errors, a);
  let pLive: number;
  let vsLive: string;
  if (inc === 0) {
    pLive = fisherGreater(c.errors, c.requests, l.errors, l.requests);
    vsLive = "Fisher exact vs live";
  } else {
    // Berger-Boos: live's rate at its exact upper bound (error gamma), plus gamma.
    const gamma = level / 10;
    const ucl = clopperPearson(l.errors, l.requests, gamma).upper;
    pLive = Math.min(1, binomUpperTail(c.requests, c.errors, Math.min(1, ucl + inc)) + gamma);
    vsLive = `exact binomial vs live's upper bound ${pts(inc)} points (Berger-Boos)`;
  }
  const pValue = Math.max(pAllow, pLive);
  const z = normalUpperQuantile(th.alpha);
  const pc = c.requests ? c.errors / c.requests : 0;
  const pl = l.requests ? l.errors / l.requests : 0;
  const interval = newcombeDifference(c.errors, c.requests, l.errors, l.requests, z);
  const effect = `above live${inc ? ` ${pts(inc)} points` : ""} and above ${pct(a)}`;
  const confidence = 1 - 2 * th.alpha;
  return {
    name: "5xx rate",
    failed: pValue <= level,
    test: `${vsLive}, and exact binomial vs ${pct(a)}, one-sided`,
    pValue,
    level,
    effect,
    estimate: pc - pl,
    interval,
    confidence,
    detail: `canary ${c.errors}/${c.requests} (${pct(pc)}) vs live ${l.errors}/${l.requests} (${pct(pl)}): ${pts(pc - pl)} points (${ciName(confidence)} ${pts(interval[0])} to ${pts(interval[1])}); fails when significantly ${effect}`,
  };
}

const ciName = (confidence: number) => `${+(confidence * 100).toFixed(2)}% CI`;

/** Distribution-free interval for the ratio of two quantiles (order statistics, each bound at alpha / 2). */
function ratioInterval(c: Runs, l: Runs, q: number, alpha: number): [number, number] {
  const b = alpha / 2;
  const cl = quantileLowerIndex(c.n, q, b);
  const cu = quantileUpperIndex(c.n, q, b);
  const ll = quantileLowerIndex(l.n, q, b);
  const lu = quantileUpperIndex(l.n, q, b);
  const lower = cl === null || lu === null ? 0 : kth(c, cl) / kth(l, lu);
  const upper = cu === null || ll === null ? Infinity : kth(c, cu) / kth(l, ll);
  return [Number.isNaN(lower) ? 0 : lower, Number.isNaN(upper) ? Infinity : upper];
}

function latencyChecks(c: Runs, l: Runs, dropped: number, th: Thresholds, level: number): Check[] {
  const r = th.maxLatencyIncrease ?? 0.1;
  const p95Ratio = th.maxP95Ratio ?? 1 + r;
  const slack = th.minP95IncreaseSec ?? 0.001;
  const confidence = 1 - 2 * th.alpha;
  const note = dropped ? ` (${dropped} ${dropped === 1 ? "latency" : "latencies"} not finite or negative, left out)` : "";
  const allowed = (ratio: number) => `x${ratio.toFixed(2)}${slack ? ` +${ms(slack)}` : ""}`;
  const empty = c.n === 0 || l.n === 0;

  const med = empty ? { pValue: 1 } : mannWhitneyGreaterRuns(c, l, 1 + r, slack);
  const c50 = runsQuantile(c, 0.5);
  const l50 = runsQuantile(l, 0.5);
  const medInterval = empty ? ([0, Infinity] as [number, number]) : ratioInterval(c, l, 0.5, th.alpha);
  const medEffect = `above live ${allowed(1 + r)}`;
  const median: Check = {
    name: "median latency",
    failed: med.pValue <= level,
    test: `Mann-Whitney U vs live ${allowed(1 + r)}, one-sided`,
    pValue: med.pValue,
    level,
    effect: medEffect,
    estimate: l50 > 0 ? c50 / l50 : c50 > 0 ? Infinity : 1,
    interval: medInterval,
    confidence,
    detail: empty
      ? `no latencies on one side${note}`
      : `canary p50 ${ms(c50)} vs live ${ms(l50)}: ${times(l50 > 0 ? c50 / l50 : NaN)} (${ciName(confidence)} ${times(medInterval[0])} to ${times(medInterval[1])}); fails when significantly ${medEffect}${note}`,
  };

  // p95: the share of canary requests above an exact upper bound of live's p95
  // (times the allowance) may not significantly exceed 5%. Distribution-free.
  const gamma = level / 10;
  const j = empty ? null : quantileUpperIndex(l.n, 0.95, gamma);
  let p95p = 1;
  let over = 0;
  if (j !== null) {
    over = countAbove(c, kth(l, j) * p95Ratio + slack);
    p95p = Math.min(1, binomUpperTail(c.n, over, 0.05) + gamma);
  }
  const c95 = runsQuantile(c, 0.95);
  const l95 = runsQuantile(l, 0.95);
  const p95Interval = empty ? ([0, Infinity] as [number, number]) : ratioInterval(c, l, 0.95, th.alpha);
  const p95Effect = `above live ${allowed(p95Ratio)}`;
  const p95: Check = {
    name: "p95 latency",
    failed: p95p <= level,
    test: j === null ? "exact binomial on the share above live's p95 bound (too few latencies yet)" : `exact binomial on the share above live's p95 bound ${allowed(p95Ratio)} (${over} of ${c.n}), one-sided`,
    pValue: p95p,
    level,
    effect: p95Effect,
    estimate: l95 > 0 ? c95 / l95 : c95 > 0 ? Infinity : 1,
    interval: p95Interval,
    confidence,
    detail: empty
      ? `no latencies on one side${note}`
      : `canary p95 ${ms(c95)} vs live ${ms(l95)}: ${times(l95 > 0 ? c95 / l95 : NaN)} (${ciName(confidence)} ${times(p95Interval[0])} to ${times(p95Interval[1])}); fails when significantly ${p95Effect}${note}`,
  };
  return [median, p95];
}

/**
 * The verdict at one look. `level` is what this look may spend on this
 * canary/live pair (default: all of alpha, a single look); each of the three
 * checks gets a third of it.
 */
export function judge(canary: Sample, live: Sample, th: Thresholds = DEFAULT_THRESHOLDS, level = th.alpha): Verdict {
  return judgeWithRuns(canary, live, runsOf(canary.latencies), runsOf(live.latencies), th, level);
}

/** judge() with the latencies already read into runs (the watch reads them once per look). */
export function judgeWithRuns(canary: Sample, live: Sample, c: { runs: Runs; dropped: number }, l: { runs: Runs; dropped: number }, th: Thresholds, level: number): Verdict {
  checkSample("canary", canary);
  checkSample("live", live);
  checkThresholds(th);
  if (!(level >= 0 && level <= th.alpha)) throw new RangeError(`judge: level must be from 0 to alpha (${th.alpha}), got ${level}`);
  if (canary.requests < th.minRequests || live.requests < th.minRequests) {
    const needed = { canary: Math.max(0, th.minRequests - canary.requests), live: Math.max(0, th.minRequests - live.requests) };
    const more = [needed.canary ? `${needed.canary} more canary` : "", needed.live ? `${needed.live} more live` : ""].filter(Boolean).join(" and ");
    return {
      verdict: "not enough traffic",
      reason: `canary ${canary.requests} and live ${live.requests} requests; at least ${th.minRequests} each are needed for a verdict (${more} requests)`,
      needed,
    };
  }
  const each = level / CHECKS;
  const checks = [errorCheck(canary, live, th, each), ...latencyChecks(c.runs, l.runs, c.dropped + l.dropped, th, each)];
  const failed = checks.filter((x) => x.failed);
  if (failed.length) {
    return { verdict: "fail", reason: failed.map((x) => `${x.name}: ${x.detail}; ${x.test} p=${pOf(x.pValue)} <= ${pOf(x.level)}`).join("; "), checks };
  }
  return { verdict: "pass", reason: checks.map((x) => `${x.name}: ${x.detail}`).join("; "), checks };
}

/** "5xx rate more than +0.84 points above live; median latency above live x1.12; ...": what a pass rules out. */
export function rulesOut(checks: readonly Check[]): string {
  const bound = (ch: Check) => (ch.name === "5xx rate" ? `more than ${pts(ch.interval[1])} points above live` : `above live ${times(ch.interval[1])}`);
  return checks.map((ch) => `${ch.name} ${bound(ch)}`).join("; ");
}
