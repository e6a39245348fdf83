import type { RequestRecord } from "../stats/compute.js";
import type { TrafficState } from "../switch/plan.js";
import { checkThresholds, judgeWithRuns, rulesOut, type Sample, type Thresholds, type Verdict } from "./judge.js";
import { runsOf, runsQuantile, type Runs } from "./stats.js";
import { PairSamples } from "./sample.js";

// The guarded canary's watch: every interval, the requests each host logged
// since the watch began (after its warm-up) are added to canary and live
// samples (per host and summed) and judged. The looks share alpha by a
// spending plan (Lan-DeMets, Pocock type, over the window's time), split
// equally over the summed pair and each host's (Bonferroni), so that the
// chance of failing a canary no worse than the allowances is at most alpha
// over the whole watch, however many looks. A failing verdict ends the watch
// at once; a pass is given only when the window ends. The watch changes no
// traffic itself: its caller stops the canary (under the lock) when the
// outcome says so.

export interface WatchTarget {
  version: string;
  percent: number;
  live: string;
}

/** One host as the watch sees it: new requests since the last poll, and its traffic now. */
export interface WatchSource {
  name: string;
  poll(): Promise<RequestRecord[]>;
  traffic(): Promise<TrafficState>;
}

export interface WatchOptions {
  windowMs: number;
  intervalMs: number;
  thresholds: Thresholds;
  /** Requests in the watch's first warmupMs (at most a quarter of the window) are shown, not judged. */
  warmupMs?: number;
  /** Seconds since the epoch: requests before it are not the watch's. */
  since: number;
  signal?: AbortSignal;
  say: (m: string) => void;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type WatchResult =
  | { outcome: "pass" | "fail" | "not enough traffic"; verdict: Verdict; failedOn: string | null; perHost: Record<string, Verdict>; total: Counts; warmup?: Counts; spent: number; elapsedMs: number }
  | { outcome: "changed"; message: string; elapsedMs: number }
  | { outcome: "interrupted"; verdict: Verdict; total: Counts; warmup?: Counts; spent: number; elapsedMs: number };

export interface Counts {
  canary: { requests: number; errors: number; p50: number; p95: number; p99: number };
  live: { requests: number; errors: number; p50: number; p95: number; p99: number };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const msOf = (s: number) => `${Math.round(s * 1000)} ms`;

export function counts(c: Sample, l: Sample, cRuns: Runs = runsOf(c.latencies).runs, lRuns: Runs = runsOf(l.latencies).runs): Counts {
  const one = (s: Sample, r: Runs) => ({ requests: s.requests, errors: s.errors, p50: runsQuantile(r, 0.5), p95: runsQuantile(r, 0.95), p99: runsQuantile(r, 0.99) });
  return { canary: one(c, cRuns), live: one(l, lRuns) };
}

/** A pair's samples and their latencies read once, for the judge and the counts. */
function read(p: PairSamples) {
  const c = p.canary.sample();
  const l = p.live.sample();
  return { c, l, cr: runsOf(c.latencies), lr: runsOf(l.latencies) };
}

/** "canary 5%: 143 req, 2 5xx (1.40%), p50/p95/p99 4/12/30 ms; live: ..." Pure. */
export function describeCounts(t: WatchTarget, c: Counts): string {
  const side = (s: Counts["canary"]) =>
    `${s.requests} req, ${s.errors} 5xx (${s.requests ? pct(s.errors / s.requests) : "-"}), p50/p95/p99 ${Math.round(s.p50 * 1000)}/${Math.round(s.p95 * 1000)}/${msOf(s.p99)}`;
  return `canary ${t.version} ${t.percent}%: ${side(c.canary)}; live ${t.live}: ${side(c.live)}`;
}

/** Why the traffic is no longer the watch's, or null when it still is. Pure. */
export function trafficChange(host: string, t: WatchTarget, now: TrafficState): string | null {
  if (now.live !== t.live) return `${host}: live is now ${now.live ?? "nothing"}, not ${t.live}`;
  if (!now.canary) return `${host}: the canary was stopped by someone else`;
  if (now.canary.version !== t.version || now.canary.percent !== t.percent) return `${host}: the canary is now ${now.canary.version} at ${now.canary.percent}%, not ${t.version} at ${t.percent}%`;
  return null;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/**
 * The share of alpha that may be spent by `t` (0..1, the share of the judged
 * part of the window gone): the Lan-DeMets Pocock-type spending function
 * alpha * ln(1 + (e - 1) t) (Lan & DeMets 1983, Biometrika 70:659).
 */
export function spending(alpha: number, t: number): number {
  const s = Math.min(1, Math.max(0, t));
  return s >= 1 ? alpha : alpha * Math.log(1 + (Math.E - 1) * s);
}

/** The part of the window whose requests are shown but not judged: canary.warmup, at most a quarter of the window. */
export function warmupOf(windowMs: number, warmupMs: number | undefined): number {
  return Math.max(0, Math.min(warmupMs ?? 0, windowMs / 4));
}

export async function watchCanary(target: WatchTarget, sources: readonly WatchSource[], o: WatchOptions): Promise<WatchResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  checkThresholds(o.thresholds);
  if (!(o.windowMs > 0 && o.intervalMs > 0)) throw new RangeError(`watch: window (${o.windowMs} ms) and interval (${o.intervalMs} ms) must be above 0`);
  const started = now();
  const warmupMs = warmupOf(o.windowMs, o.warmupMs);
  const judgedSince = o.since + warmupMs / 1000;
  const warm = new PairSamples(target.version, target.live, o.since, target.percent);
  const total = new PairSamples(target.version, target.live, judgedSince, target.percent);
  const per = sources.map(() => new PairSamples(target.version, target.live, judgedSince, target.percent));
  const multi = sources.length > 1;
  // Bonferroni across the summed pair and each host's.
  const units = multi ? sources.length + 1 : 1;
  const alpha = o.thresholds.alpha;
  let spent = 0;

  const collect = async () => {
    const got = await Promise.all(sources.map((s) => s.poll()));
    got.forEach((records, i) => {
      for (const r of records) {
        if (r.time < judgedSince) warm.add(r);
        total.add(r);
        per[i]!.add(r);
      }
    });
  };
  const verdicts = (level: number) => {
    const t = read(total);
    const sum = judgeWithRuns(t.c, t.l, t.cr, t.lr, o.thresholds, level / units);
    const perHost: Record<string, Verdict> = {};
    if (multi)
      sources.forEach((s, i) => {
        const h = read(per[i]!);
        perHost[s.name] = judgeWithRuns(h.c, h.l, h.cr, h.lr, o.thresholds, level / units);
      });
    return { sum, perHost, c: counts(t.c, t.l, t.cr.runs, t.lr.runs) };
  };
  const warmCounts = () => (warmupMs > 0 ? counts(warm.canary.sample(), warm.live.sample()) : undefined);

  for (;;) {
    const left = started + o.windowMs - now();
    await sleep(Math.max(0, Math.min(o.intervalMs, left)), o.signal);
    const elapsedMs = now() - started;
    await collect();
    const at = `[${Math.round(elapsedMs / 1000)}s/${Math.round(o.windowMs / 1000)}s]`;
    const inWarmup = elapsedMs < warmupMs && elapsedMs < o.windowMs;
    // What this look may spend: the plan's total so far less what earlier looks spent.
    // A look where no pair has min_requests yet spends nothing (its share carries on).
    const t = (elapsedMs - warmupMs) / (o.windowMs - warmupMs);
    const offer = inWarmup ? 0 : Math.max(0, spending(alpha, t) - spent);
    const { sum, perHost, c } = verdicts(offer);
    if (!inWarmup && (sum.verdict !== "not enough traffic" || Object.values(perHost).some((v) => v.verdict !== "not enough traffic"))) spent += offer;
    if (o.signal?.aborted) return { outcome: "interrupted", verdict: sum, total: c, warmup: warmCounts(), spent, elapsedMs };
    // Someone else's change is theirs: the watch ends without touching it.
    const states = await Promise.all(sources.map((s) => s.traffic()));
    const changed = states.map((st, i) => trafficChange(sources[i]!.name, target, st)).filter((x): x is string => x !== null);
    if (changed.length) return { outcome: "changed", message: changed.join("; "), elapsedMs };

    if (inWarmup) {
      const w = counts(warm.canary.sample(), warm.live.sample());
      o.say(`${at} warming up, not judged until ${Math.round(warmupMs / 1000)}s: ${describeCounts(target, w)}`);
      continue;
    }
    const failedHost = Object.entries(perHost).find(([, v]) => v.verdict === "fail");
    if (sum.verdict === "fail" || failedHost) {
      const [name, v] = sum.verdict === "fail" ? [null, sum] : failedHost!;
      return { outcome: "fail", verdict: v, failedOn: name, perHost, total: c, warmup: warmCounts(), spent, elapsedMs };
    }
    const state =
      sum.verdict === "not enough traffic"
        ? `not enough traffic yet (${o.thresholds.minRequests} each needed)`
        : `no significant regression so far (alpha spent ${fmtAlpha(spent)} of ${alpha})`;
    o.say(`${at} ${describeCounts(target, c)}: ${state}`);
    if (multi) for (const [name, i] of sources.map((s, k) => [s.name, k] as const)) o.say(`  ${name}: ${describeCounts(target, counts(per[i]!.canary.sample(), per[i]!.live.sample()))}`);
    if (elapsedMs >= o.windowMs) {
      return { outcome: sum.verdict === "pass" ? "pass" : "not enough traffic", verdict: sum, failedOn: null, perHost, total: c, warmup: warmCounts(), spent, elapsedMs };
    }
  }
}

const fmtAlpha = (x: number) => (x === 0 ? "0" : x < 1e-3 ? x.toExponential(1) : x.toFixed(4));

/** The verdict in a few lines, with its counts, the tests that decided and the intervals. Pure. */
export function describeResult(target: WatchTarget, r: WatchResult, alpha: number): string {
  if (r.outcome === "changed") return `watch of canary ${target.version} ended after ${Math.round(r.elapsedMs / 1000)}s: ${r.message}; depl left it as it is`;
  const lines = [describeCounts(target, r.total)];
  if (r.warmup) lines.push(`warm-up, shown but not judged: ${describeCounts(target, r.warmup)}`);
  const v = r.verdict;
  if (v.verdict === "not enough traffic") lines.push(`verdict: not enough traffic (${v.reason})`);
  else {
    for (const ch of v.checks) {
      const sig = `${ch.failed ? "significant" : "not significant"} at this look's ${fmtAlpha(ch.level)}; alpha ${alpha} over the whole watch`;
      lines.push(`${ch.failed ? "FAIL" : "ok  "} ${ch.name}: ${ch.detail}; ${ch.test}: p=${ch.pValue < 1e-4 ? ch.pValue.toExponential(2) : ch.pValue.toFixed(4)} (${sig})`);
    }
    if (v.verdict === "pass") lines.push(`rules out (${+(v.checks[0]!.confidence * 100).toFixed(2)}% bounds at the last look): ${rulesOut(v.checks)}`);
  }
  if (r.outcome !== "interrupted" && r.failedOn) lines.push(`failed on host ${r.failedOn}`);
  return lines.join("\n");
}
