import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, REPO, expectExit } from "../helpers/cli.js";
import { buildinst, deployLive, removeApp, testApp } from "../helpers/app.js";
import { startLoad } from "../helpers/load.js";
import { gotoSteady } from "../helpers/browser.js";

// depl stats --watch and depl dashboard on real services, the page in Debian's
// Chromium: app "guardui", guardui.localhost, /srv/depl-guardui.

const T = testApp("guardui");
const TOKEN = "guardui-t0ken-for-tests";
const PORT = 18077;
const ARTIFACTS = `${REPO}test-artifacts/canary`;
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
let config: string;
let v1: string;
let v2: string;
let dash: ChildProcess;
let dashOut = "";
let profile: string;
let ctx: BrowserContext;
let page: Page;

const state = () => JSON.parse(readFileSync(`${T.root}/${T.app}/state.json`, "utf8")) as { live: string; canary: { version: string; percent: number } | null };
const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
const load = () => startLoad({ host: T.domain, connections: 4, maxSeconds: 120, keepAlive: false });

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ config, version: v1 } = await deployLive(T, `secrets: { DASHBOARD_TOKEN: "${TOKEN}" }\n`));
  v2 = await buildinst(config);
  dash = spawn(process.execPath, ["--import", "tsx", `${REPO}/src/cli.ts`, "-c", config, "dashboard", "--port", String(PORT)], { cwd: REPO });
  dash.stdout!.on("data", (d) => (dashOut += d));
  dash.stderr!.on("data", (d) => (dashOut += d));
  await waitFor(() => dashOut.includes("depl dashboard for"), 60_000);
  profile = mkdtempSync(join(tmpdir(), "depl-chromium-"));
  ctx = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args: FLAGS, viewport: { width: 1300, height: 900 } });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on("dialog", (d) => void d.accept());
});

afterAll(async () => {
  await ctx?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  dash?.kill("SIGINT");
  removeApp(T);
});

describe("depl stats --watch", () => {
  it("refreshes a per-version table with sparklines, and one JSON object per refresh", async () => {
    const l = load();
    await new Promise((r) => setTimeout(r, 2000));
    const r = await depl(["-c", config, "stats", "--watch", "--every", "1s", "--count", "3", "--since", "5m"]);
    const j = await depl(["-c", config, "stats", "--watch", "--json", "--every", "1s", "--count", "2", "--since", "5m"]);
    await l.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/depl stats --watch: guardui/g)).toHaveLength(3);
    expect(r.stdout).toMatch(new RegExp(`${v1} live\\s+requests [·▁▂▃▄▅▆▇█]{15}\\s+\\d+/min  5xx ·+ 0/min`));
    expect(j.code, j.stderr).toBe(0);
    const lines = j.stdout.trim().split("\n").map((s) => JSON.parse(s) as { versions: { version: string; requests: number; role: string }[]; per_minute: Record<string, { requests: number[] }> });
    expect(lines).toHaveLength(2);
    expect(lines[1]!.versions.find((v) => v.version === v1)).toMatchObject({ role: "live" });
    expect(lines[1]!.per_minute[v1]!.requests.at(-1)).toBeGreaterThan(0);
  });
});

describe("depl dashboard in Chromium", () => {
  it("loads, showing the app, its host, releases and traffic", async () => {
    await gotoSteady(page, `http://127.0.0.1:${PORT}/`, { waitUntil: "load" });
    await waitFor(async () => ((await page.locator("#title").textContent()) ?? "").includes("guardui"));
    await waitFor(async () => (await page.locator(".host .live").first().textContent()) === v1);
    expect(await page.locator(".host td").allTextContents()).toEqual(expect.arrayContaining([v1, v2]));
    await shot("dashboard-loaded");
  });

  it("during a canary, the charts show canary and live side by side", async () => {
    expectExit(await depl(["-c", config, "canary", v2, "30%"]));
    const l = load();
    try {
      const twoSeries = async () =>
        page.evaluate(() => {
          const c = (window as unknown as { deplCharts: Record<string, { data: { datasets: { label: string; data: (number | null)[] }[] } }> }).deplCharts;
          return ["requests", "p95"].every((k) => c[k]!.data.datasets.filter((d) => d.data.some((x) => (x ?? 0) > 0) && !d.label.endsWith("(other)")).length === 2);
        });
      await waitFor(twoSeries, 40_000);
      const labels = await page.evaluate(() => (window as unknown as { deplCharts: { requests: { data: { datasets: { label: string }[] } } } }).deplCharts.requests.data.datasets.map((d) => d.label));
      expect(labels).toEqual(expect.arrayContaining([`${v1} (live)`, `${v2} (canary 30%)`]));
      expect(await page.locator(".host .canary").first().textContent()).toBe(`${v2} at 30%`);
      await shot("dashboard-canary");
    } finally {
      await l.stop();
    }
  });

  it("refuses actions without the token", async () => {
    await page.fill("#token", "");
    await page.selectOption("#action", "promote");
    await page.selectOption("#version", v2);
    await page.click("#go");
    await waitFor(async () => ((await page.locator("#result").textContent()) ?? "").includes("refused"));
    expect(state().live).toBe(v1);
    const direct = await fetch(`http://127.0.0.1:${PORT}/api/action`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer wrong" }, body: JSON.stringify({ action: "stop", confirm: true }) });
    expect(direct.status).toBe(401);
    expect(state().canary).toEqual({ version: v2, percent: 30 });
    await shot("dashboard-refused");
  });

  it("a promote from the page, with the token and a confirmation, moves traffic and is in depl history", async () => {
    await page.fill("#token", TOKEN);
    await page.selectOption("#action", "promote");
    await page.selectOption("#version", v2);
    await page.click("#go");
    await waitFor(async () => ((await page.locator("#result").textContent()) ?? "").includes(`Version ${v2} is live`), 60_000);
    expect(state()).toMatchObject({ live: v2, canary: null });
    const h = JSON.parse((await depl(["-c", config, "history", "--json"])).stdout) as { action: string; version?: string; actor: string; result: string }[];
    expect(h.some((e) => e.action === "promote" && e.version === v2 && e.result === "ok" && e.actor.endsWith("(dashboard)"))).toBe(true);
    await waitFor(async () => (await page.locator(".host .live").first().textContent()) === v2);
    await shot("dashboard-promoted");
  });
});

describe("depl dashboard --also, two apps on one page", () => {
  const T2 = testApp("guardui2");
  const TOKEN2 = "guardui2-other-t0ken";
  const PORT2 = 18079;
  let dash2: ChildProcess | undefined;
  let config2 = "";
  let live2 = "";
  let next2 = "";
  const state2 = () => JSON.parse(readFileSync(`${T2.root}/${T2.app}/state.json`, "utf8")) as { live: string };

  afterAll(() => {
    dash2?.kill("SIGINT");
    removeApp(T2);
  });

  it("shows each app with its own hosts and releases; an action needs the chosen app's own token and moves only that app", async () => {
    ({ config: config2, version: live2 } = await deployLive(T2, `secrets: { DASHBOARD_TOKEN: "${TOKEN2}" }\n`));
    next2 = await buildinst(config2);
    let out = "";
    dash2 = spawn(process.execPath, ["--import", "tsx", `${REPO}/src/cli.ts`, "-c", config, "dashboard", "--port", String(PORT2), "--also", config2], { cwd: REPO });
    dash2.stdout!.on("data", (d) => (out += d));
    dash2.stderr!.on("data", (d) => (out += d));
    await waitFor(() => out.includes("depl dashboard for guardui, guardui2"), 60_000);
    const before = state().live;
    const p = await ctx.newPage();
    p.on("dialog", (d) => void d.accept());
    try {
      await gotoSteady(p, `http://127.0.0.1:${PORT2}/`, { waitUntil: "load" });
      await waitFor(async () => (await p.locator("#app option").count()) === 2);
      expect(await p.locator("#app option").allTextContents()).toEqual(["guardui (guardui.localhost)", "guardui2 (guardui2.localhost)"]);
      await waitFor(async () => (await p.locator(".host .live").first().textContent()) === before);
      await p.selectOption("#app", T2.app);
      await waitFor(async () => ((await p.locator("#title").textContent()) ?? "").includes("guardui2.localhost"));
      await waitFor(async () => (await p.locator(".host .live").first().textContent()) === live2);
      expect(await p.locator(".host td").allTextContents()).toEqual(expect.arrayContaining([live2, next2]));
      // The first app's token is not the second's.
      await p.fill("#token", TOKEN);
      await p.selectOption("#action", "promote");
      await p.selectOption("#version", next2);
      await p.click("#go");
      await waitFor(async () => ((await p.locator("#result").textContent()) ?? "").includes("a valid token for guardui2"));
      expect(state2().live).toBe(live2);
      await p.fill("#token", TOKEN2);
      await p.click("#go");
      await waitFor(async () => ((await p.locator("#result").textContent()) ?? "").includes(`Version ${next2} is live`), 60_000);
      expect(state2().live).toBe(next2);
      expect(state().live).toBe(before);
      await waitFor(async () => (await p.locator(".host .live").first().textContent()) === next2);
      await p.screenshot({ path: `${ARTIFACTS}/dashboard-two-apps.png`, fullPage: true });
      const unknown = await fetch(`http://127.0.0.1:${PORT2}/api/state?app=nope`);
      expect([unknown.status, ((await unknown.json()) as { error: string }).error]).toEqual([404, 'no app "nope" on this dashboard: guardui, guardui2']);
    } finally {
      await p.close();
    }
  });

  it("refuses the same depl.yml twice, and --host with --also, in one line", async () => {
    const twice = await depl(["-c", config, "dashboard", "--port", String(PORT2 + 1), "--also", config]);
    expect([twice.code, twice.stderr.trim()]).toEqual([2, `depl: ${config}: app "guardui" is already shown (from ${config}): give each depl.yml once`]);
    const host = await depl(["-c", config, "--host", "local", "dashboard", "--also", config2]);
    expect([host.code, host.stderr.trim()]).toEqual([2, "depl: --host cannot be combined with --also: host names belong to one depl.yml"]);
  });
});
