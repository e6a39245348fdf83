import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../helpers/cli.js";
import { buildinst, cleanupApp, example, must } from "../e2e/apps-helpers.js";
import { gotoSteady } from "../helpers/browser.js";

// What a user sees in a real browser: Debian's Chromium, no host-resolver
// flags (it resolves *.localhost itself, to ::1 first), against
// examples/djangosite deployed under an app name, domain and root of its own.

const d = example("djangosite", {
  app: "appsbrowser",
  domain: "appsbrowser.localhost",
  subdomains: ["www"],
  root: "/srv/depl-appsbrowser",
  env: {
    DJANGO_SETTINGS_MODULE: "djangosite.settings",
    DJANGO_DB: "/app/data/db.sqlite3",
    DJANGO_ALLOWED_HOSTS: ".appsbrowser.localhost",
  },
});
const ARTIFACTS = `${REPO}test-artifacts/browser`;
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const UNKNOWN = "2000.01.01.00.00";
let v1: string;
let v2: string;
let profile: string;
let ctx: BrowserContext;
let page: Page;

const url = (host: string, path = "/") => `http://${host}${path}`;
const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
async function open(host: string, path = "/") {
  const r = await gotoSteady(page, url(host, path), { waitUntil: "load" });
  expect(r, `no response from ${url(host, path)}`).not.toBeNull();
  return r!;
}
const shownVersion = () => page.locator("#version").textContent();

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  cleanupApp(d);
  await must(d, ["setup"]);
  v1 = await buildinst(d);
  await must(d, ["promote", v1]);
  v2 = await buildinst(d);
  profile = mkdtempSync(join(tmpdir(), "depl-chromium-"));
  ctx = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args: FLAGS });
  page = ctx.pages()[0] ?? (await ctx.newPage());
});

afterAll(async () => {
  await ctx?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  cleanupApp(d);
});

describe("Chromium on depl's URLs", () => {
  it("shows the app on the base domain, not nginx's welcome page", async () => {
    const r = await open(d.domain);
    await shot("base-domain");
    expect(r.status()).toBe(200);
    expect(await page.content()).not.toContain("Welcome to nginx");
    expect(await page.locator("#greeting").textContent()).toBe("Hello from djangosite");
    expect(await shownVersion()).toBe(v1);
  });

  it("shows each version at its preview URL, and as a subdomain", async () => {
    expect((await open(`${v2}.${d.domain}`)).status()).toBe(200);
    await shot("version-preview");
    expect(await shownVersion()).toBe(v2);
    expect((await open(`${v2}.www.${d.domain}`)).status()).toBe(200);
    await shot("subdomain-preview");
    expect(await shownVersion()).toBe(v2);
    expect(await page.content()).toContain(`www.${d.domain}`);
    expect((await open(`www.${d.domain}`)).status()).toBe(200);
    expect(await shownVersion()).toBe(v1);
  });

  it("loads the admin's CSS: the login page is styled", async () => {
    const css: number[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/static/admin/css/base.css")) css.push(r.status());
    });
    for (const host of [d.domain, `${v2}.${d.domain}`]) {
      css.length = 0;
      expect((await open(host, "/admin/login/")).status()).toBe(200);
      expect(css).toEqual([200]);
      // base.css: #header { background: var(--header-bg) } with --header-bg: #417690
      expect(await page.locator("#header").evaluate((e) => getComputedStyle(e).backgroundColor)).toBe("rgb(65, 118, 144)");
    }
    await shot("admin-login-styled");
  });

  it("shows depl's 404 page for an unknown version", async () => {
    const r = await open(`${UNKNOWN}.${d.domain}`);
    await shot("unknown-version");
    expect(r.status()).toBe(404);
    const text = await page.locator("body").innerText();
    expect(text).not.toContain("Welcome to nginx");
    expect(text).toContain("No such version");
    // A way home, and no list of the versions that do exist.
    expect(await page.locator("a").getAttribute("href")).toBe(`http://${d.domain}/`);
    expect(text).not.toContain(v1);
    expect(text).not.toContain(v2);
  });

  it("keeps a client on one version under a 50% canary, with its depl_bucket cookie", async () => {
    await must(d, ["canary", v2, "50%"]);
    try {
      const seen = new Set<string>();
      for (let client = 0; client < 12; client++) {
        await ctx.clearCookies();
        await open(d.domain);
        const first = await shownVersion();
        const bucket = (await ctx.cookies(url(d.domain))).find((c) => c.name === "depl_bucket");
        expect(bucket, "nginx set no depl_bucket cookie").toBeDefined();
        expect(bucket!.expires - Date.now() / 1000).toBeGreaterThan(300 * 24 * 3600);
        seen.add(first!);
        if (client === 0) await shot("canary-first-client");
        if (client < 2) {
          for (let i = 0; i < 10; i++) {
            await page.reload({ waitUntil: "load" });
            expect(await shownVersion()).toBe(first);
            expect((await ctx.cookies(url(d.domain))).find((c) => c.name === "depl_bucket")?.value).toBe(bucket!.value);
          }
        }
      }
      // 12 fresh clients at 50%: both versions (all on one side: p = 2^-11).
      expect([...seen].sort()).toEqual([v1, v2].sort());
    } finally {
      await must(d, ["canary", "--stop"]);
    }
  });
});
