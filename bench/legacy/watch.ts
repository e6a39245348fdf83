// Today's watch (main at c5db44b, src/canary/watch.ts), kept verbatim (imports re-pointed) for bench/canary.ts to compare against.
import type { RequestRecord } from "../../src/stats/compute.js";
import type { TrafficState } from "../../src/switch/plan.js";
import { judge, quantile, type Sample, type Thresholds, type Verdict } from "./judge.js";
import { PairSamples } from "../../src/canary/sample.js";

// The guarded canary's watch: every interval, the requests each host logged
// since the watch began are added to canary and live samples (per host and
// summed) and judged. A failing verdict ends the watch at once; a pass is
// given only when the window ends. The watch changes no traffic itself: its
// caller stops the canary (under the lock) when the outcome says so.

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
  /** Seconds since the epoch: requests before it are not the watch's. */
  since: number;
  signal?: AbortSignal;
  say: (m: string) => void;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type WatchResult =
  | { outcome: "pass" | "fail" | "not enough traffic"; verdict: Verdict; failedOn: string | null; perHost: Record<string, Verdict>; total: Counts; elapsedMs: number }
  | { outcome: "changed"; message: string; elapsedMs: number }
  | { outcome: "interrupted"; verdict: Verdict; total: Counts; elapsedMs: number };

export interface Counts {
  canary: { requests: number; errors: number; p50: number; p95: number; p99: number };
  live: { requests: number; errors: number; p50: number; p95: number; p99: number };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const msOf = (s: number) => `${Math.round(s * 1000)} ms`;

export function counts(c: Sample, l: Sample): Counts {
  const one = (s: Sample) => ({ requests: s.requests, errors: s.errors, p50: quantile(s.latencies, 0.5), p95: quantile(s.latencies, 0.95), p99: quantile(s.latencies, 0.99) });
  return { canary: one(c), live: one(l) };
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

export async function watchCanary(target: WatchTarget, sources: readonly WatchSource[], o: WatchOptions): Promise<WatchResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const started = now();
  const total = new PairSamples(target.version, target.live, o.since);
  const per = sources.map(() => new PairSamples(target.version, target.live, o.since));
  const multi = sources.length > 1;

  const collect = async () => {
    const got = await Promise.all(sources.map((s) => s.poll()));
    got.forEach((records, i) => {
      for (const r of records) {
        total.add(r);
        per[i]!.add(r);
      }
    });
  };
  const verdicts = () => {
    const sum = judge(total.canary.sample(), total.live.sample(), o.thresholds);
    const perHost: Record<string, Verdict> = {};
    if (multi) sources.forEach((s, i) => (perHost[s.name] = judge(per[i]!.canary.sample(), per[i]!.live.sample(), o.thresholds)));
    return { sum, perHost, c: counts(total.canary.sample(), total.live.sample()) };
  };

  for (;;) {
    const left = started + o.windowMs - now();
    await sleep(Math.max(0, Math.min(o.intervalMs, left)), o.signal);
    const elapsedMs = now() - started;
    await collect();
    const { sum, perHost, c } = verdicts();
    if (o.signal?.aborted) return { outcome: "interrupted", verdict: sum, total: c, elapsedMs };
    // Someone else's change is theirs: the watch ends without touching it.
    const states = await Promise.all(sources.map((s) => s.traffic()));
    const changed = states.map((st, i) => trafficChange(sources[i]!.name, target, st)).filter((x): x is string => x !== null);
    if (changed.length) return { outcome: "changed", message: changed.join("; "), elapsedMs };

    const failedHost = Object.entries(perHost).find(([, v]) => v.verdict === "fail");
    const at = `[${Math.round(elapsedMs / 1000)}s/${Math.round(o.windowMs / 1000)}s]`;
    if (sum.verdict === "fail" || failedHost) {
      const [name, v] = sum.verdict === "fail" ? [null, sum] : failedHost!;
      return { outcome: "fail", verdict: v, failedOn: name, perHost, total: c, elapsedMs };
    }
    const state = sum.verdict === "not enough traffic" ? `not enough traffic yet (${o.thresholds.minRequests} each needed)` : "no significant difference so far";
    o.say(`${at} ${describeCounts(target, c)}: ${state}`);
    if (multi) for (const [name, i] of sources.map((s, k) => [s.name, k] as const)) o.say(`  ${name}: ${describeCounts(target, counts(per[i]!.canary.sample(), per[i]!.live.sample()))}`);
    if (elapsedMs >= o.windowMs) {
      return { outcome: sum.verdict === "pass" ? "pass" : "not enough traffic", verdict: sum, failedOn: null, perHost, total: c, elapsedMs };
    }
  }
}

/** The verdict in a few lines, with its counts and the tests that decided. Pure. */
export function describeResult(target: WatchTarget, r: WatchResult, alpha: number): string {
  if (r.outcome === "changed") return `watch of canary ${target.version} ended after ${Math.round(r.elapsedMs / 1000)}s: ${r.message}; depl left it as it is`;
  const lines = [describeCounts(target, r.total)];
  const v = r.verdict;
  if (v.verdict === "not enough traffic") lines.push(`verdict: not enough traffic (${v.reason})`);
  else
    for (const ch of v.checks) {
      const sig = ch.failed ? `significant at ${alpha}, over the threshold` : ch.pValue < alpha ? `significant at ${alpha}, within the threshold` : `not significant at ${alpha}`;
      lines.push(`${ch.failed ? "FAIL" : "ok  "} ${ch.name}: ${ch.detail}; ${ch.test}: p=${ch.pValue < 1e-4 ? ch.pValue.toExponential(2) : ch.pValue.toFixed(4)} (${sig})`);
    }
  if (r.outcome !== "interrupted" && r.failedOn) lines.push(`failed on host ${r.failedOn}`);
  return lines.join("\n");
}
