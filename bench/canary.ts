// npm run bench:canary: how often the guarded canary's watch aborts a healthy
// canary (false aborts), and how fast it catches a bad one (power), against
// today's judge (bench/legacy, main's judge and watch verbatim) on the same
// seeded traffic. Runs `watchCanary` itself with sources passed in and a fake
// clock, so it measures the real watch: looks every 10 s over a 10 minute
// window, a 10% canary, default thresholds (warm-up 60 s). Takes minutes; not
// part of `npm run bench` or CI. Prints tables; asserts nothing.
//
// BENCH_CANARIES (default 1000) canaries per false-abort row, BENCH_POWER
// (default 200) per power row, BENCH_WORKERS (default 2) child processes.
// Today's judge sorts objects at every look (2.5 s per canary at 100 req/s
// here), so it runs on fewer canaries: BENCH_TODAY (default 100) per
// false-abort row at 10 req/s (none at 100 req/s), and per power row at
// 10 req/s, a quarter of that at 100 req/s.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { clopperPearson } from "../src/canary/stats.js";
import { DEFAULT_THRESHOLDS, type Thresholds } from "../src/canary/judge.js";
import { watchCanary, type WatchSource } from "../src/canary/watch.js";
import { watchCanary as legacyWatch } from "./legacy/watch.js";
import type { Thresholds as LegacyThresholds } from "./legacy/judge.js";
import type { RequestRecord } from "../src/stats/compute.js";
import type { TrafficState } from "../src/switch/plan.js";

const WINDOW_MS = 600_000;
const INTERVAL_MS = 10_000;
const WARMUP_MS = 60_000;
const PERCENT = 10;
const target = { version: "v2", percent: PERCENT, live: "v1" };
const state: TrafficState = { live: "v1", previous: null, canary: { version: "v2", percent: PERCENT } };
// Today's defaults as `depl canary` passes them (schema: min_p95_increase 20ms).
const LEGACY: LegacyThresholds = { max5xxRate: 0.01, maxP95Ratio: 1.5, minP95IncreaseSec: 0.02, minRequests: 200, alpha: 0.01 };

export interface Scenario {
  /** live's 5xx rate */
  rate: number;
  hosts: number;
  /** requests per second over all hosts */
  rps: number;
  /** canary's 5xx rate = rate x this (after `from` seconds) */
  errorFactor?: number;
  /** canary's latency = live's x this */
  latencyFactor?: number;
  /** only host 0 is bad */
  oneHost?: boolean;
  /** the canary's first `coldSeconds` are slower (x coldLatency) and fail x coldErrors */
  coldSeconds?: number;
  coldLatency?: number;
  coldErrors?: number;
  warmupMs?: number;
}

/** mulberry32: small, fast, seeded. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One host's log: requests evenly in time, each canary's with chance 10%;
 * latency log-normal (median 40 ms, sigma 0.5) in whole milliseconds as nginx
 * logs it; 5xx with the side's rate.
 */
function hostSource(name: string, s: Scenario, bad: boolean, rand: () => number, clock: () => number, seen: { canary: number }): WatchSource {
  let last = 0;
  let carry = 0;
  const perSec = s.rps / s.hosts;
  return {
    name,
    traffic: async () => state,
    poll: async () => {
      const now = clock() / 1000;
      const out: RequestRecord[] = [];
      const exact = (now - last) * perSec + carry;
      const n = Math.floor(exact);
      carry = exact - n;
      for (let k = 0; k < n; k++) {
        const time = last + ((k + 0.5) / n) * (now - last);
        const canary = rand() < PERCENT / 100;
        const cold = canary && s.coldSeconds !== undefined && time < s.coldSeconds;
        let rate = s.rate;
        let lat = 1;
        if (canary && bad) {
          rate *= s.errorFactor ?? 1;
          lat *= s.latencyFactor ?? 1;
        }
        if (cold) {
          rate *= s.coldErrors ?? 1;
          lat *= s.coldLatency ?? 1;
        }
        const u1 = rand() || 1e-12;
        const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rand());
        const requestTime = Math.max(1, Math.round(40 * lat * Math.exp(0.5 * normal))) / 1000;
        if (canary) seen.canary++;
        out.push({ time, status: rand() < Math.min(1, rate) ? 500 : 200, requestTime, version: canary ? "v2" : "v1" });
      }
      last = now;
      return out;
    },
  };
}

export interface Outcome {
  aborted: boolean;
  /** canary requests (warm-up included) until the watch stopped, and seconds */
  canaryRequests: number;
  seconds: number;
}

export async function once(s: Scenario, seed: number, judgeOf: "new" | "today"): Promise<Outcome> {
  let now = 0;
  const clock = () => now;
  const rand = rng(seed);
  // SampleBuilder's reservoir draws from Math.random: seeded too, so a run repeats.
  Math.random = rng(seed ^ 0x9e3779b9);
  const seen = { canary: 0 };
  const sources = Array.from({ length: s.hosts }, (_, i) => hostSource(`web${i + 1}`, s, !s.oneHost || i === 0, rand, clock, seen));
  const common = { windowMs: WINDOW_MS, intervalMs: INTERVAL_MS, since: 0, say: () => undefined, now: clock, sleep: async (ms: number) => void (now += ms) };
  const r =
    judgeOf === "new"
      ? await watchCanary(target, sources, { ...common, thresholds: DEFAULT_THRESHOLDS as Thresholds, warmupMs: s.warmupMs ?? WARMUP_MS })
      : await legacyWatch(target, sources, { ...common, thresholds: LEGACY });
  return { aborted: r.outcome === "fail", canaryRequests: seen.canary, seconds: r.elapsedMs / 1000 };
}

interface Job {
  scenario: Scenario;
  judge: "new" | "today";
  seeds: number[];
}

async function runJob(j: Job): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const seed of j.seeds) out.push(await once(j.scenario, seed, j.judge));
  return out;
}

if (process.env.BENCH_CANARY_CHILD) {
  process.on("message", async (j: Job) => process.send!(await runJob(j)));
} else {
  await main();
}

async function main() {
  const N = Number(process.env.BENCH_CANARIES ?? 1000);
  const P = Number(process.env.BENCH_POWER ?? 200);
  const T = Number(process.env.BENCH_TODAY ?? 100);
  const W = Math.max(1, Number(process.env.BENCH_WORKERS ?? Math.min(2, availableParallelism())));
  // Child processes (Node 20's worker threads will not load this .ts file through tsx).
  const workers: ChildProcess[] = Array.from({ length: W }, () =>
    fork(fileURLToPath(import.meta.url), [], { execArgv: ["--import", "tsx"], env: { ...process.env, BENCH_CANARY_CHILD: "1" } }),
  );
  const free = [...workers];
  const waiting: (() => void)[] = [];
  const onWorker = async (j: Job): Promise<Outcome[]> => {
    while (free.length === 0) await new Promise<void>((r) => waiting.push(r));
    const w = free.pop()!;
    try {
      return await new Promise<Outcome[]>((resolve, reject) => {
        const onMessage = (m: unknown) => {
          w.off("error", onError);
          resolve(m as Outcome[]);
        };
        const onError = (e: Error) => {
          w.off("message", onMessage);
          reject(e);
        };
        w.once("message", onMessage);
        w.once("error", onError);
        w.send(j);
      });
    } finally {
      free.push(w);
      waiting.shift()?.();
    }
  };
  /** n canaries of a scenario, seeds 1..n (the same traffic for both judges), in chunks over the workers. */
  const run = async (scenario: Scenario, judge: "new" | "today", n: number, salt: number): Promise<Outcome[]> => {
    const seeds = Array.from({ length: n }, (_, i) => salt * 100_003 + i + 1);
    const chunk = Math.ceil(n / (W * 4));
    const parts = [];
    for (let i = 0; i < n; i += chunk) parts.push(onWorker({ scenario, judge, seeds: seeds.slice(i, i + chunk) }));
    return (await Promise.all(parts)).flat();
  };
  const t0 = Date.now();
  const share = (k: number, n: number) => {
    const { lower, upper } = clopperPearson(k, n, 0.025);
    return `${((k / n) * 100).toFixed(1)}% (${k}/${n}; 95% CI ${(lower * 100).toFixed(1)}-${(upper * 100).toFixed(1)}%)`;
  };
  const median = (xs: number[]) => {
    if (!xs.length) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor((s.length - 1) / 2)]!;
  };

  console.log(`\nnpm run bench:canary: ${N} healthy canaries per row, ${P} bad ones per power row; 10% canary, looks every 10 s for 10 min, default thresholds (alpha 0.01 over the whole watch, warm-up 60 s); today's judge (main) on the same traffic, ${T} canaries per row at 10 req/s\n`);
  console.log("| live 5xx | hosts | req/s (all hosts) | false aborts, this judge | false aborts, today's judge |");
  console.log("|---|---|---|---|---|");
  let salt = 1;
  for (const rps of [10, 100])
    for (const hosts of [1, 3])
      for (const rate of [0.001, 0.01, 0.02, 0.05]) {
        const s: Scenario = { rate, hosts, rps };
        const [a, b] = await Promise.all([run(s, "new", N, salt), rps < 100 ? run(s, "today", T, salt) : Promise.resolve([])]);
        salt++;
        const k = (xs: Outcome[]) => (xs.length ? share(xs.filter((x) => x.aborted).length, xs.length) : "not run");
        console.log(`| ${(rate * 100).toFixed(1)}% | ${hosts} | ${rps} | ${k(a)} | ${k(b)} |`);
      }

  console.log(`\nPower: a bad canary from the first request, live 5xx 1%, ${P} canaries per row (today's judge: ${T} at 10 req/s, ${Math.ceil(T / 4)} at 100). Caught = failed within the 10 min window; requests and seconds are medians over the caught ones (canary requests, warm-up included)\n`);
  console.log("| regression | hosts | req/s | caught, this judge | canary req / s to stop | caught, today's judge | canary req / s to stop |");
  console.log("|---|---|---|---|---|---|---|");
  const effects: [string, Partial<Scenario>][] = [
    ["5xx x2", { errorFactor: 2 }],
    ["5xx x5", { errorFactor: 5 }],
    ["latency +20%", { latencyFactor: 1.2 }],
    ["latency x1.5", { latencyFactor: 1.5 }],
    ["5xx x5 on one of 3 hosts", { errorFactor: 5, hosts: 3, oneHost: true }],
  ];
  for (const rps of [10, 100])
    for (const [name, e] of effects) {
      const s: Scenario = { rate: 0.01, hosts: 1, rps, ...e };
      const [a, b] = await Promise.all([run(s, "new", P, salt), run(s, "today", rps < 100 ? T : Math.ceil(T / 4), salt)]);
      salt++;
      const cell = (xs: Outcome[]) => {
        const caught = xs.filter((x) => x.aborted);
        return `${share(caught.length, xs.length)} | ${caught.length ? `${median(caught.map((x) => x.canaryRequests))} / ${median(caught.map((x) => x.seconds))} s` : "-"}`;
      };
      console.log(`| ${name} | ${s.hosts} | ${rps} | ${cell(a)} | ${cell(b)} |`);
    }

  console.log(`\nCold start: a healthy canary whose first 60 s are twice as slow and fail 3x as often (live 5xx 1%), ${N} canaries per row (today's judge: ${T}, ${Math.ceil(T / 4)} at 100 req/s)\n`);
  console.log("| req/s | warm-up 60 s: false aborts | no warm-up: false aborts | today's judge |");
  console.log("|---|---|---|---|");
  for (const rps of [10, 100]) {
    const s: Scenario = { rate: 0.01, hosts: 1, rps, coldSeconds: 60, coldLatency: 2, coldErrors: 3 };
    const [a, b, c] = await Promise.all([run(s, "new", N, salt), run({ ...s, warmupMs: 0 }, "new", N, salt), run(s, "today", rps < 100 ? T : Math.ceil(T / 4), salt)]);
    salt++;
    const k = (xs: Outcome[]) => share(xs.filter((x) => x.aborted).length, xs.length);
    console.log(`| ${rps} | ${k(a)} | ${k(b)} | ${k(c)} |`);
  }
  console.log(`\n(${((Date.now() - t0) / 1000).toFixed(0)} s in ${W} process${W > 1 ? "es" : ""})`);
  for (const w of workers) w.disconnect();
}
