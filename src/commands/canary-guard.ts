import { DeplError, UsageError, quote } from "../errors.js";
import { parsePercent } from "../release/percent.js";
import { canary as startCanary, canaryStop } from "../release/promote.js";
import { audit } from "../release/audit.js";
import { readTraffic } from "../switch/traffic.js";
import { parseSince } from "../stats/compute.js";
import { startTails } from "../stats/tail.js";
import { hostArgs, onHosts, withContext, withLocks, type Context, type GlobalOptions } from "./context.js";
import type { Thresholds } from "../canary/judge.js";
import { describeResult, trafficChange, warmupOf, watchCanary, type WatchResult, type WatchTarget } from "../canary/watch.js";

export interface GuardOptions {
  watch?: string;
  steps?: string;
  promote?: boolean;
  json?: boolean;
}

/** "5,25,50" -> [5, 25, 50]: each a share the canary may take, rising. */
export function parseSteps(s: string): number[] {
  const parts = s.split(",").map((p) => p.trim());
  const out = parts.map((p) => parsePercent(/%$/.test(p) ? p : `${p}%`));
  for (let i = 1; i < out.length; i++) if (out[i]! <= out[i - 1]!) throw new UsageError(`--steps ${quote(s)}: each step must be larger than the one before`);
  return out;
}

export function thresholdsOf(ctx: Pick<Context, "config">): Thresholds {
  const c = ctx.config.canary;
  return {
    max5xxRate: c.max_5xx_rate,
    max5xxIncrease: c.max_5xx_increase,
    maxLatencyIncrease: c.max_latency_increase,
    ...(c.max_p95_ratio !== undefined ? { maxP95Ratio: c.max_p95_ratio } : {}),
    minP95IncreaseSec: c.min_p95_increase / 1000,
    minRequests: c.min_requests,
    alpha: c.alpha,
  };
}

/** The command that continues a stepped rollout from step `k`. Pure. */
export function resumeHint(version: string, steps: number[], k: number, watch: string, promote: boolean): string {
  const rest = steps.slice(k).join(",");
  return `to go on: depl canary ${version} --steps ${rest} --watch ${watch}${promote ? " --promote" : ""}; to stop: depl canary --stop`;
}

/**
 * `depl canary V N% --watch W` and `depl canary V --steps a,b,c --watch W [--promote]`:
 * each step is a normal canary change (lock held only for it), then a watch
 * without the lock; a failing verdict stops the canary (the lock again, only
 * for that change). Exit status: 0 pass (or promoted), 1 stopped or changed
 * by someone else, 3 not enough traffic (the canary is left as it is), 130 Ctrl-C.
 */
export async function guardedCanary(g: GlobalOptions, version: string, percent: string | undefined, o: GuardOptions): Promise<void> {
  if (!o.watch) throw new UsageError("--steps and --promote need --watch <duration> (e.g. --watch 5m)");
  if (percent !== undefined && o.steps) throw new UsageError("give either a percentage or --steps, not both");
  if (percent === undefined && !o.steps) throw new UsageError("usage: depl canary <version> <N%> --watch <duration> (or --steps 5,25,50)");
  const steps = o.steps ? parseSteps(o.steps) : [parsePercent(percent!)];
  const watch = o.watch;
  const windowMs = parseSince(watch) * 1000;

  await withContext(g, {}, async (ctx) => {
    const th = thresholdsOf(ctx);
    const intervalMs = ctx.config.canary.interval;
    const warmupMs = warmupOf(windowMs, ctx.config.canary.warmup);
    const hosts = hostArgs(ctx);
    const lives = await onHosts(ctx, "canary", async (a) => (await readTraffic(a.host, a.layout)).live);
    const live = lives[0];
    if (!live) throw new DeplError("no version is live: promote one before a canary");
    if (lives.some((l) => l !== live)) throw new DeplError(`the hosts serve different live versions (${[...new Set(lives)].join(", ")}): promote one first`);

    const ac = new AbortController();
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) process.exit(130);
      ctx.say("interrupted: the watch ends after this check (Ctrl-C again to leave at once)");
      ac.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const results: { percent: number; outcome: string; result: WatchResult }[] = [];
    const out = (human: string) => {
      if (!o.json) console.log(human);
    };
    const finish = (extra: Record<string, unknown>) => {
      if (o.json) {
        console.log(JSON.stringify({
          version, live, steps: results.map((r) => ({ percent: r.percent, outcome: r.outcome, elapsed_ms: r.result.elapsedMs, ...("verdict" in r.result ? { verdict: r.result.verdict, counts: r.result.total, warmup_counts: r.result.warmup ?? null, alpha_spent: r.result.spent } : {}) })),
          ...extra,
        }));
      }
    };
    const record = (target: WatchTarget, result: "ok" | "failed" | "refused", detail: string) =>
      Promise.all(hosts.map((a) => audit(a.host, a.layout, { actor: ctx.actor, action: "canary-watch", version: target.version, to: { percent: target.percent }, result, detail }).catch(() => undefined)));

    try {
      for (let k = 0; k < steps.length; k++) {
        const p = steps[k]!;
        const target: WatchTarget = { version, percent: p, live };
        if (ac.signal.aborted) {
          const prev = steps[k - 1];
          out(`Interrupted: traffic left as it was${prev ? ` (${version} serves ${prev}%, live ${live})` : ""}; ${resumeHint(version, steps, k, watch, Boolean(o.promote))}`);
          finish({ outcome: "interrupted" });
          process.exitCode = 130;
          return;
        }
        await withLocks(ctx, `canary ${version} ${p}% --watch ${o.watch}`, g.wait, () => startCanary(hosts, version, p));
        const tails = await startTails(ctx.hosts, ctx.layout);
        const since = Date.now() / 1000;
        ctx.say(
          `Canary: ${p}% of clients are served ${version}; watching for ${o.watch} (a check every ${intervalMs / 1000}s${warmupMs ? `, the first ${warmupMs / 1000}s shown but not judged` : ""}, at least ${th.minRequests} requests each for a verdict, alpha ${th.alpha} over the whole watch)`,
        );
        const result = await watchCanary(target, ctx.hosts.map((h, i) => ({ name: h.name, poll: () => tails[i]!.poll(), traffic: () => readTraffic(h, ctx.layout) })), {
          windowMs, intervalMs, thresholds: th, since, signal: ac.signal, say: ctx.say, warmupMs,
        });
        results.push({ percent: p, outcome: result.outcome, result });
        const text = describeResult(target, result, th.alpha);
        if (result.outcome === "changed") {
          finish({ outcome: "changed", message: result.message });
          throw new DeplError(text);
        }
        if (result.outcome === "interrupted") {
          out(`${text}\nInterrupted after ${Math.round(result.elapsedMs / 1000)}s: traffic left as it was at this step (${version} serves ${p}%, live ${live}); ${resumeHint(version, steps, k, watch, Boolean(o.promote))}`);
          finish({ outcome: "interrupted" });
          process.exitCode = 130;
          return;
        }
        if (result.outcome === "fail") {
          const stopped = await stopAfterFail(ctx, g, target);
          await record(target, "failed", `stopped by the watch: ${result.verdict.reason}`);
          out(`${text}\nCanary ${version} FAILED after ${Math.round(result.elapsedMs / 1000)}s at ${p}% and was stopped (${stopped}): every client is served ${live}`);
          finish({ outcome: "fail", stopped: true });
          throw Object.assign(new DeplError(`canary ${version} failed its watch and was stopped: ${result.verdict.reason}`), { exitCode: 1 });
        }
        if (result.outcome === "not enough traffic") {
          await record(target, "refused", `not enough traffic: ${result.verdict.reason}`);
          out(`${text}\nNo verdict for canary ${version} at ${p}%: not enough traffic in ${o.watch}. The canary is left as it is; watch longer (${resumeHint(version, steps, k, watch, Boolean(o.promote))}) or promote by hand`);
          finish({ outcome: "not enough traffic" });
          process.exitCode = 3;
          return;
        }
        await record(target, "ok", `passed: ${result.verdict.reason}`);
        out(`${text}\nCanary ${version} PASSED ${o.watch} at ${p}%`);
      }
      if (o.promote) {
        const { promote } = await import("./promote.js");
        if (!o.json) await promote(g, version);
        else await captureStdout(() => promote(g, version));
        finish({ outcome: "pass", promoted: true });
      } else finish({ outcome: "pass", promoted: false });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });
}

/** promote prints its own line; under --json only our one object may reach stdout. */
async function captureStdout(fn: () => Promise<void>): Promise<void> {
  const log = console.log;
  console.log = (...a: unknown[]) => console.error(...a);
  try {
    await fn();
  } finally {
    console.log = log;
  }
}

/**
 * Everyone back on live (the existing canaryStop, one rename per host), under
 * the lock, and only when the traffic is still the watched canary's.
 */
async function stopAfterFail(ctx: Context, g: GlobalOptions, target: WatchTarget): Promise<string> {
  const t0 = Date.now();
  return withLocks(ctx, `canary --stop (failed watch of ${target.version})`, Math.max(g.wait ?? 0, 60), async () => {
    const states = await Promise.all(ctx.hosts.map((h) => readTraffic(h, ctx.layout)));
    const changed = states.map((s, i) => trafficChange(ctx.hosts[i]!.name, target, s)).filter((x): x is string => x !== null);
    if (changed.length) throw new DeplError(`canary ${target.version} failed its watch, but ${changed.join("; ")}: depl left it as it is`);
    const r = await canaryStop(hostArgs(ctx));
    const how = r?.skewMs != null && Object.keys(r.versions).length > 1 ? `renames ${r.skewMs.toFixed(1)} ms apart` : "one rename";
    return `${how}, ${Date.now() - t0} ms from the verdict, lock included`;
  });
}
