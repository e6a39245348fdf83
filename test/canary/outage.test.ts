import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, REPO } from "../helpers/cli.js";
import { buildinst, deployLive, removeApp, sh, testApp } from "../helpers/app.js";
import { startLoad } from "../helpers/load.js";
import { gotoSteady } from "../helpers/browser.js";

// Every release of an app stopped under load, on real nginx, supervisord and
// Docker: the requests that no version answered are in depl stats, on the
// dashboard (Chromium) and in a guarded canary's verdict. App "guardout",
// guardout.localhost, /srv/depl-guardout (its own name: the guard suite's app
// is removed and made anew by that suite).

const T = testApp("guardout");
const PORT = 18083;
// No warm-up: these tests count every request of the watch, the first ones included.
const CANARY = "canary: { interval: 2s, min_requests: 100, warmup: 0s }\n";
const ARTIFACTS = `${REPO}test-artifacts/canary`;
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PERCENT = 20;
let config: string;
let v1: string;
let v2: string;
let dash: ChildProcess;
let dashOut = "";
let profile: string;
let ctx: BrowserContext;
let page: Page;

interface LogLine {
  time: number;
  status: number;
  route: string;
  bucket: string;
  upstream_status: string;
  version: string;
}
const accessLog = (since: number) =>
  readFileSync(`${T.root}/${T.app}/log/access.log`, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine)
    .filter((e) => e.time >= since);
const isCanaryBucket = (e: LogLine) => e.route === "live" && Number(e.bucket) < PERCENT;
const load = () => startLoad({ host: T.domain, connections: 6, maxSeconds: 180, keepAlive: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes a release down as a crash or an operator would: its supervisord
 * program stopped AND its container killed (a run script may adopt a running
 * container, and stopping a program may leave the container running).
 */
function stopRelease(v: string): void {
  sh(`supervisorctl stop ${T.app}-${v} >/dev/null; docker kill depl-${T.app}-${v} >/dev/null 2>&1 || true`);
}
function startRelease(v: string): void {
  sh(`supervisorctl start ${T.app}-${v} >/dev/null`);
}
/** Until a request to the release's socket through its preview answers 200 (its app is up again). */
async function waitUp(v: string): Promise<void> {
  await waitFor(async () => {
    const r = await fetch(`http://127.0.0.1/`, { headers: { host: `${v}.${T.domain}` } }).catch(() => null);
    return r?.status === 200;
  }, 90_000);
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(200);
  }
}

const charts = () =>
  page.evaluate(() => {
    const c = (window as unknown as { deplCharts: Record<string, { data: { datasets: { label: string; data: (number | null)[] }[] } }> }).deplCharts;
    return Object.fromEntries(Object.entries(c).map(([k, ch]) => [k, ch.data.datasets.map((d) => ({ label: d.label, data: d.data }))]));
  });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ config, version: v1 } = await deployLive(T, CANARY));
  v2 = await buildinst(config);
  dash = spawn(process.execPath, ["--import", "tsx", `${REPO}/src/cli.ts`, "-c", config, "dashboard", "--port", String(PORT)], { cwd: REPO });
  dash.stdout!.on("data", (d) => (dashOut += d));
  dash.stderr!.on("data", (d) => (dashOut += d));
  await waitFor(() => dashOut.includes("depl dashboard for"), 60_000);
  profile = mkdtempSync(join(tmpdir(), "depl-chromium-"));
  ctx = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args: FLAGS, viewport: { width: 1300, height: 1000 } });
  page = ctx.pages()[0] ?? (await ctx.newPage());
});

afterAll(async () => {
  await ctx?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  dash?.kill("SIGINT");
  removeApp(T);
});

describe("every release of the app stopped under load", () => {
  it("counts each 503 for the side nginx chose: in depl stats --json, on the dashboard (banner, chart) and in the guarded canary's counts", async () => {
    await gotoSteady(page, `http://127.0.0.1:${PORT}/`, { waitUntil: "load" });
    await waitFor(async () => (await page.locator(".host .live").first().textContent()) === v1);
    const l = load();
    const started = Date.now() / 1000;
    const watch = depl(["-c", config, "canary", v2, `${PERCENT}%`, "--watch", "30s", "--json"]);
    await waitFor(() => accessLog(started).some((e) => e.version === v2), 60_000);
    await sleep(3000);

    // Both releases down (the programs and their containers) for 4 s, then started again.
    const down = Date.now() / 1000;
    stopRelease(v1);
    stopRelease(v2);
    const outage = (async () => {
      await sleep(4000);
      startRelease(v1);
      startRelease(v2);
    })();
    await waitFor(async () => page.locator("#alarm").isVisible(), 30_000);
    const alarm = (await page.locator("#alarm").textContent()) ?? "";
    await waitFor(async () => (await charts()).errors!.some((d) => d.label.startsWith("site as users saw it") && d.data.some((x) => (x ?? 0) > 0)), 20_000);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-outage.png`, fullPage: true });
    await outage;
    await Promise.all([waitUp(v1), waitUp(v2)]);
    const up = Date.now() / 1000;
    await sleep(2000);
    const r = await watch;
    const res = await l.stop();

    const log = accessLog(started);
    const lost = log.filter((e) => e.version === "" && e.route === "live" && e.status === 503);
    const lostCanary = lost.filter(isCanaryBucket).length;
    const lostLive = lost.length - lostCanary;
    console.log(`outage: ${(up - down).toFixed(1)} s until both answered again; load ${res.requests} requests, failures ${JSON.stringify(res.failures)}; log: ${lost.length} 503s (${lostCanary} of the canary's buckets, ${lostLive} of live's); banner: ${alarm}`);
    expect(lost.length).toBeGreaterThan(50);
    expect(lostCanary).toBeGreaterThan(0);
    expect(res.failures["503"]).toBe(lost.length);

    // The guarded canary: each side counts its own bucket's 503s (the verdict may go either way: both sides failed alike).
    expect([0, 1], r.stdout + r.stderr).toContain(r.code);
    const verdict = JSON.parse(r.stdout) as { outcome: string; steps: { counts: { canary: { requests: number; errors: number }; live: { requests: number; errors: number } } }[] };
    const counts = verdict.steps[0]!.counts;
    console.log(`guarded canary during the outage: ${verdict.outcome}; canary ${counts.canary.errors}/${counts.canary.requests} 5xx, live ${counts.live.errors}/${counts.live.requests}`);
    if (verdict.outcome === "pass") {
      // The last check came after the outage: every 503 is in it, on its own side.
      expect(counts.canary.errors).toBe(lostCanary);
      expect(counts.live.errors).toBe(lostLive);
    } else {
      expect(counts.canary.errors).toBeGreaterThan(0);
      expect(counts.canary.errors).toBeLessThanOrEqual(lostCanary);
    }
    if (verdict.outcome === "pass") expect((await depl(["-c", config, "canary", "--stop"])).code).toBe(0);

    // depl stats --json: the versions answered no 5xx; the 503s are rows of their own, per side, and in the site's rate.
    const s = await depl(["-c", config, "stats", "--since", "10m", "--json"]);
    expect(s.code, s.stderr).toBe(0);
    const st = JSON.parse(s.stdout) as {
      versions: { version: string; s5xx: number }[];
      unanswered: { route: string; version: string | null; requests: number; s5xx: number; role: string }[];
      site: { requests: number; s5xx: number; errorRate: number };
    };
    expect(st.versions.map((v) => v.s5xx)).toEqual(st.versions.map(() => 0));
    const row = (route: string) => st.unanswered.find((u) => u.route === route);
    expect(row("live")).toMatchObject({ version: v1, role: "no version answered (live)" });
    expect(row("canary")).toMatchObject({ version: v2, role: "no version answered (canary)" });
    if (verdict.outcome === "pass") expect([row("live")!.s5xx, row("canary")!.s5xx]).toEqual([lostLive, lostCanary]);
    // A failed watch stopped the canary during the outage: its buckets' later 503s were live's.
    else expect(row("live")!.s5xx + row("canary")!.s5xx).toBe(lost.length);
    expect(st.site.s5xx).toBe(lost.length);
    expect(st.site.errorRate).toBeGreaterThan(0);
    const text = await depl(["-c", config, "stats", "--since", "10m"]);
    console.log(text.stdout);
    expect(text.stdout).toMatch(new RegExp(`${v1}\\s+no version answered \\(live\\)\\s+${row("live")!.requests}\\s`));
    expect(text.stdout).toMatch(/all\s+site as users saw it\s+\d+/);
    // stats --watch: the same rows, and a sparkline row per side that no version answered.
    const w = await depl(["-c", config, "stats", "--watch", "--json", "--every", "1s", "--count", "1", "--since", "10m"]);
    expect(w.code, w.stderr).toBe(0);
    const wj = JSON.parse(w.stdout) as { unanswered: { route: string; s5xx: number }[]; site: { s5xx: number }; unanswered_per_minute: { route: string; s5xx: number[] }[] };
    expect(wj.site.s5xx).toBe(lost.length);
    expect(wj.unanswered.reduce((n, u) => n + u.s5xx, 0)).toBe(lost.length);
    expect(wj.unanswered_per_minute.reduce((n, u) => n + u.s5xx.reduce((a, b) => a + b, 0), 0)).toBe(lost.length);
    const wt = await depl(["-c", config, "stats", "--watch", "--every", "1s", "--count", "1", "--since", "10m"]);
    expect(wt.stdout).toMatch(new RegExp(`no version answered \\(live\\) ${v1}\\s+requests [·▁▂▃▄▅▆▇█]{15}`));
    expect(wt.stdout).toMatch(/all requests \(site as users saw it\)\s+requests [·▁▂▃▄▅▆▇█]{15}/);

    // The page said so plainly while it lasted, and the chart's site line has the outage's point.
    expect(alarm).toMatch(/^The site is failing now: [\d.]+% of requests answered 5xx in the last 10 s \(\d+ of \d+; \d+ reached no version\)$/);
    const c = await charts();
    const site = c.errors!.find((d) => d.label.startsWith("site as users saw it"))!;
    expect(Math.max(...site.data.map((x) => x ?? 0))).toBeGreaterThan(5);
    expect(c.errors!.some((d) => d.label.startsWith("no version answered (live") && d.data.includes(100))).toBe(true);
    // Back up: the banner goes once the last 10 s are clean.
    await waitFor(async () => !(await page.locator("#alarm").isVisible()), 40_000);
  });
});

describe("the canary's release stopped during a guarded canary", () => {
  it("fails the canary on its bucket's failed tries, though live answered them by the way out", async () => {
    const l = load();
    const started = Date.now() / 1000;
    const watch = depl(["-c", config, "canary", v2, `${PERCENT}%`, "--watch", "40s", "--json"]);
    await waitFor(() => accessLog(started).some((e) => e.version === v2), 60_000);
    await sleep(2000);
    const down = Date.now() / 1000;
    stopRelease(v2);
    const r = await watch;
    const res = await l.stop();
    startRelease(v2);
    const log = accessLog(started);
    const refused = log.filter((e) => isCanaryBucket(e) && e.time >= down && /^50[234]/.test(e.upstream_status) && e.version !== v2);
    const verdict = JSON.parse(r.stdout) as { outcome: string; stopped?: boolean; steps: { counts: { canary: { requests: number; errors: number }; live: { errors: number } } }[] };
    const counts = verdict.steps[0]!.counts;
    console.log(`canary stopped: verdict ${verdict.outcome}, canary ${counts.canary.errors}/${counts.canary.requests} failed, live ${counts.live.errors}; log: ${refused.length} tries of the canary's buckets failed after the stop (answered by ${[...new Set(refused.map((e) => e.version || "none"))].join(", ")}); load failures ${JSON.stringify(res.failures)}`);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(verdict).toMatchObject({ outcome: "fail", stopped: true });
    expect(counts.canary.errors).toBeGreaterThan(0);
    expect(counts.canary.errors).toBeLessThanOrEqual(refused.length);
    expect(counts.live.errors).toBe(0);
    expect(r.stderr).toMatch(/canary \S+ failed its watch and was stopped: 5xx rate: canary \d+\/\d+/);
    await waitUp(v2);

    // Live answered nothing for seconds in the outage: its p95 has gaps there, no line drawn across them.
    await sleep(4000);
    const p95 = (await charts()).p95!.find((d) => d.label === `${v1} (live)`)!.data;
    const first = p95.findIndex((x) => x !== null);
    const last = p95.length - 1 - [...p95].reverse().findIndex((x) => x !== null);
    console.log(`live's p95 points: ${p95.slice(first, last + 1).map((x) => (x === null ? "gap" : x)).join(" ")}`);
    expect(p95.slice(first, last).some((x) => x === null)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { deplCharts: { p95: { options: { spanGaps: boolean } } } }).deplCharts.p95.options.spanGaps)).toBe(false);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-after-outage.png`, fullPage: true });
  });
});
