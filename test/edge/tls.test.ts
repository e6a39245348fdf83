import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildinst, deployLive, removeApp, testApp, writeAppConfig } from "../helpers/app.js";
import { depl, REPO, expectExit } from "../helpers/cli.js";
import { startLoad } from "../helpers/load.js";
import { certificateNames, ensureCa, issue, type KeyPair } from "../../src/tls/self-signed.js";
import { versionLabel } from "../../src/naming/version.js";
import { gotoSteady } from "../helpers/browser.js";

// HTTPS as users meet it: a CA of the test's own (openssl), curl trusting it
// with --cacert, Debian's Chromium trusting it through its NSS database, on the
// base domain, a version preview and a subdomain preview; plain HTTP redirected;
// bad certificates refused before anything changes; renewals under load.

const t = testApp("edgetls");
const TLS = `${t.dir}/tls`;
const ARTIFACTS = `${REPO}test-artifacts/edge`;
const DAY = 86_400_000;
let ca: KeyPair;
let config = "";
let v1 = "";
let v2 = "";

const pair = (name: string): KeyPair => ({ cert: `${TLS}/${name}.crt`, key: `${TLS}/${name}.key` });
function make(name: string, names: string[], start = new Date(Date.now() - 60_000), end = new Date(Date.now() + 30 * DAY)): KeyPair {
  const p = pair(name);
  issue(ca, p, names, start, end);
  return p;
}
const tlsYaml = (p: KeyPair) => `tls:\n  certificates:\n    - { cert: ${p.cert}, key: ${p.key} }\n`;
const withCert = (p: KeyPair, name = "depl.yml") => writeAppConfig(t, name, tlsYaml(p));

/** curl as a user runs it: the name in the URL, trusting only the test CA. */
function curl(url: string, extra: string[] = []): { code: number; out: string; err: string } {
  const host = new URL(url).hostname;
  try {
    const out = execFileSync("curl", ["-sS", "--cacert", ca.cert, "--resolve", `${host}:443:127.0.0.1`, "--resolve", `${host}:80:127.0.0.1`, "-D", "-", "-o", "/dev/null", "-w", "%{http_version} %{http_code}\n", ...extra, url], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { code: 0, out, err: "" };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout, err: x.stderr };
  }
}
const header = (out: string, name: string) => new RegExp(`^${name}: (.*?)\\r?$`, "im").exec(out)?.[1];

/** The fingerprint of the certificate nginx shows for a name (no verification: this is what is served). */
function servedFingerprint(name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port: 443, servername: name, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on("error", reject);
  });
}
const fingerprintOf = (p: KeyPair) =>
  execFileSync("openssl", ["x509", "-in", p.cert, "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" }).trim().replace(/^.*=/, "");

beforeAll(async () => {
  rmSync(TLS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  ca = ensureCa(TLS, t.domain);
  ({ config, version: v1 } = await deployLive(t, tlsYaml(make("good", certificateNames(t.domain, ["foo"])))));
  v2 = await buildinst(config);
});

afterAll(() => removeApp(t));

describe("HTTPS with curl --cacert", () => {
  it("serves the base domain, a version preview and a subdomain preview over HTTP/2 with no certificate error", async () => {
    const cases = [
      [`https://${t.domain}/`, v1],
      [`https://foo.${t.domain}/`, v1],
      [`https://${versionLabel(v2)}.${t.domain}/`, v2],
      [`https://${versionLabel(v2)}.foo.${t.domain}/`, v2],
    ] as const;
    for (const [url, version] of cases) {
      const r = curl(url);
      expect(r.code, `${url}: ${r.err}`).toBe(0);
      expect(r.out, url).toMatch(/^2 200$/m);
      expect(header(r.out, "x-depl-version"), url).toBe(version);
    }
    // The bucket cookie is Secure under HTTPS.
    expect(header(curl(`https://${t.domain}/`).out, "set-cookie")).toMatch(/^depl_bucket=\d\d; .*HttpOnly; SameSite=Lax; Secure$/);
    // A version's dotted name is several labels: no wildcard covers it, and curl says so.
    const dotted = curl(`https://${v2}.${t.domain}/`);
    expect(dotted.code, dotted.err).toBe(60);
    expect(dotted.err).toMatch(/no alternative certificate subject name matches/);
  });

  it("redirects plain HTTP to the same URL over HTTPS", () => {
    for (const host of [t.domain, `${versionLabel(v2)}.foo.${t.domain}`]) {
      const r = curl(`http://${host}/health?x=1`);
      expect(r.out).toMatch(/^1\.1 308$/m);
      expect(header(r.out, "location")).toBe(`https://${host}/health?x=1`);
    }
    // A dotted preview name (several labels) is sent to its one-label form, which the wildcard covers.
    const dotted = curl(`http://${v2}.foo.${t.domain}/health`);
    expect(header(dotted.out, "location")).toBe(`https://${versionLabel(v2)}.foo.${t.domain}/health`);
    const followed = curl(`http://${t.domain}/health`, ["-L"]);
    expect(followed.out).toMatch(/^2 200$/m);
  });
});

describe("certificates depl refuses", () => {
  it("refuses expired, not yet valid, mismatched names or key, before anything is written", async () => {
    const site = `${t.root}/${t.app}/nginx/site.conf`;
    const before = readFileSync(site, "utf8");
    const served = await servedFingerprint(t.domain);
    const names = certificateNames(t.domain, ["foo"]);
    const cases: [KeyPair, RegExp][] = [
      [make("expired", names, new Date(Date.now() - 60 * DAY), new Date(Date.now() - DAY)), /tls: \S+expired\.crt: expired on \d{4}-\d\d-\d\d/],
      [make("future", names, new Date(Date.now() + DAY), new Date(Date.now() + 60 * DAY)), /tls: \S+future\.crt: not valid yet \(from /],
      [make("other", ["other.localhost"]), /tls: no certificate covers edgetls\.localhost \(the live site\); tls\.certificates name other\.localhost/],
      [make("apexonly", [t.domain]), /tls: no certificate covers foo\.edgetls\.localhost \(the live subdomain foo\)/],
      [{ cert: pair("good").cert, key: pair("expired").key }, /tls: \S+expired\.key is not the private key of \S+good\.crt/],
      [{ cert: `${TLS}/missing.crt`, key: pair("good").key }, /tls: cannot read \S+missing\.crt \(tls\.certificates\[0\]\.cert\): no such file/],
    ];
    for (const [p, why] of cases) {
      const bad = withCert(p, "bad.yml");
      for (const cmd of [["tls", "renew"], ["setup"]]) {
        const r = await depl(["-c", bad, ...cmd]);
        expect(r.code, `${cmd.join(" ")} with ${p.cert}`).toBe(2);
        expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(why);
      }
    }
    expect(readFileSync(site, "utf8")).toBe(before);
    expect(await servedFingerprint(t.domain)).toBe(served);
    expect(curl(`https://${t.domain}/`).out).toMatch(/^2 200$/m);
  });
});

describe("renewal", () => {
  it("swaps certificates with one reload each, under load, losing no request", async () => {
    const names = certificateNames(t.domain, ["foo"]);
    const certs = [make("renew-a", names), make("renew-b", names)];
    const caPem = readFileSync(ca.cert, "utf8");
    const perRequest = startLoad({ host: t.domain, port: 443, path: "/health", connections: 4, keepAlive: false, ca: caPem, maxSeconds: 120 });
    const keepAlive = startLoad({ host: t.domain, port: 443, path: "/health", connections: 4, ca: caPem, retryOnReset: true, maxSeconds: 120 });
    const SWAPS = 6;
    for (let i = 0; i < SWAPS; i++) {
      const p = certs[i % 2]!;
      writeAppConfig(t, "depl.yml", tlsYaml(p));
      const r = await depl(["-c", config, "tls", "renew"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr + r.stdout).toMatch(/certificates in place, nginx reloaded once \(\d+ ms\)/);
      expect(await servedFingerprint(t.domain)).toBe(fingerprintOf(p));
      await new Promise((res) => setTimeout(res, 300));
    }
    const [a, b] = [await perRequest.stop(), await keepAlive.stop()];
    console.log(`tls renew x${SWAPS}: connection per request ${a.requests} requests, ${a.failed} failed ${JSON.stringify(a.failures)}; ` +
      `keep-alive ${b.requests} requests, ${b.failed} failed, ${b.retried} resent after a closed connection`);
    expect(a.requests).toBeGreaterThan(100);
    expect(a.failures).toEqual({});
    expect(b.failures).toEqual({});
    // Only the files the site names stay on the host.
    const left = execFileSync("ls", [`${t.root}/${t.app}/nginx/tls`], { encoding: "utf8" }).trim().split("\n");
    expect(left).toHaveLength(2);
    const again = await depl(["-c", config, "tls", "renew"]);
    expect(again.stderr + again.stdout).toMatch(/already serving these certificates/);
  });

  it("shows each certificate's expiry in depl list and doctor", async () => {
    const list = await depl(["-c", config, "list"]);
    expect(list.stdout).toMatch(/local\s+\S+\/nginx\/tls\/[0-9a-f]{16}\.crt\s+edgetls\.localhost,\*\.edgetls\.localhost,\*\.foo\.edgetls\.localhost\s+expires \d{4}-\d\d-\d\d \(in 29 days\)/);
    const doc = await depl(["-c", config, "doctor", "--dry-run", "--json"]);
    const certs = (JSON.parse(doc.stdout) as { check: string; status: string; detail: string }[]).filter((f) => f.check.startsWith("certificate"));
    expect(certs).toHaveLength(1);
    expect(certs[0]).toMatchObject({ status: "ok", detail: expect.stringMatching(/^expires .* \(in 29 days\)$/) });
    // Under 14 days left: doctor warns (and says what to do), without calling it broken.
    writeAppConfig(t, "depl.yml", tlsYaml(make("short", certificateNames(t.domain, ["foo"]), new Date(Date.now() - 60_000), new Date(Date.now() + 5 * DAY))));
    expectExit(await depl(["-c", config, "tls", "renew"]));
    const soon = await depl(["-c", config, "doctor", "--dry-run", "--json"]);
    expect(soon.code, soon.stderr).toBe(0);
    const warned = (JSON.parse(soon.stdout) as { check: string; status: string; detail: string }[]).filter((f) => f.check.startsWith("certificate"));
    expect(warned).toEqual([expect.objectContaining({ status: "warning", detail: expect.stringMatching(/^expires .* \(in 4 days\): renew it, then depl tls renew$/) })]);
  });
});

describe("Chromium trusting the test CA", () => {
  let home = "";
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    writeAppConfig(t, "depl.yml", tlsYaml(pair("good")));
    expectExit(await depl(["-c", config, "tls", "renew"]));
    // Chromium on Linux trusts what the NSS database in $HOME/.pki/nssdb trusts.
    home = mkdtempSync(join(tmpdir(), "depl-edge-home-"));
    const db = `sql:${home}/.pki/nssdb`;
    mkdirSync(`${home}/.pki/nssdb`, { recursive: true });
    execFileSync("certutil", ["-d", db, "-N", "--empty-password"]);
    execFileSync("certutil", ["-d", db, "-A", "-t", "C,,", "-n", "depl edge test CA", "-i", ca.cert]);
    browser = await chromium.launchPersistentContext(join(home, "profile"), {
      executablePath: "/usr/bin/chromium",
      headless: true,
      env: { ...process.env, HOME: home },
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("loads the base domain, a version preview and a subdomain preview with no certificate error", async () => {
    const page = browser!.pages()[0] ?? (await browser!.newPage());
    const cases = [
      ["base", `https://${t.domain}/`, v1],
      ["preview", `https://${versionLabel(v2)}.${t.domain}/`, v2],
      ["subdomain-preview", `https://${versionLabel(v2)}.foo.${t.domain}/`, v2],
      ["http-redirected", `http://${t.domain}/`, v1],
    ] as const;
    for (const [name, url, version] of cases) {
      const r = await gotoSteady(page, url, { waitUntil: "load" });
      expect(r, url).not.toBeNull();
      await page.screenshot({ path: `${ARTIFACTS}/${name}.png` });
      expect(r!.status(), url).toBe(200);
      expect(page.url(), url).toMatch(/^https:\/\//);
      expect(await r!.securityDetails(), url).toMatchObject({ protocol: expect.stringMatching(/^TLS 1\.[23]$/) });
      expect(await page.textContent("body"), url).toContain(`version ${version}`);
    }
    // A WebSocket over TLS from the page (wss://), answered by the live version.
    await gotoSteady(page, `https://${t.domain}/`);
    const echoed = await page.evaluate(
      (url) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.onopen = () => ws.send("over tls");
          ws.onmessage = (m) => {
            resolve(String(m.data));
            ws.close();
          };
          ws.onerror = () => reject(new Error("websocket error"));
        }),
      `wss://${t.domain}/ws`,
    );
    expect(echoed).toBe(`${v1}: over tls`);
    const cookies = await browser!.cookies(`https://${t.domain}/`);
    expect(cookies.find((c) => c.name === "depl_bucket")).toMatchObject({ secure: true, httpOnly: true });
    // The dotted name of a version is refused by the browser: no wildcard covers several labels.
    await expect(gotoSteady(page, `https://${v2}.${t.domain}/`)).rejects.toThrow(/ERR_CERT_COMMON_NAME_INVALID/);
    await page.screenshot({ path: `${ARTIFACTS}/dotted-preview-refused.png` });
  });
});
