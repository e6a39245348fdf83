import { execFileSync, spawn, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium } from "playwright-core";
import { depl, REPO, type CliResult } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { startLoad, type LoadResult } from "../helpers/load.js";
import { onTestHost, startTestFleet, type TestFleet } from "./harness.js";
import { certificateNames, ensureCa, issue } from "../../src/tls/self-signed.js";
import { gotoSteady } from "../helpers/browser.js";

// Several app servers, end to end: three containers that are whole machines
// to depl (sshd, dockerd, nginx, supervisord), web3 only through a jump host.

const APP = "fleet";
const DOMAIN = "fleet.localhost";
let fleet: TestFleet;
let config: string;
let v1 = "";
let v2 = "";
let bad = "";

function writeConfig(name: string, hostsYaml: string, extra = "", domain = DOMAIN): string {
  const file = join(fleet.dir, name);
  writeFileSync(
    file,
    `app: ${APP}\ndomain: ${domain}\nroot: /srv/depl-fleet\nrun: { wsgi: "testapp.app:application", workers: 1, threads: 4 }\n` +
      `build: { context: ${join(fleet.dir, "app")} }\nhosts: ${hostsYaml}\n${extra}`,
  );
  return file;
}

const stateDir = mkdtempSync(join(tmpdir(), "depl-state-"));
const run = (args: string[], env: Record<string, string> = {}) => depl(["-c", config, ...args], { env: { DEPL_STATE_DIR: stateDir, ...env } });
const ok = (r: CliResult) => {
  expect(r.code, r.stderr).toBe(0);
  return r;
};
const liveOn = async (port: number) => (await get(port, DOMAIN, "/health")).headers["x-depl-version"];
const lives = () => Promise.all(fleet.hosts.map((h) => liveOn(h.httpPort)));

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${cond.toString().slice(0, 120)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  fleet = await startTestFleet({ prefix: "depl-th", basePort: 22300 });
  cpSync(join(import.meta.dirname, "../../testapp"), join(fleet.dir, "app"), { recursive: true });
  config = writeConfig("depl.yml", fleet.hostsYaml());
  const s = ok(await run(["setup"]));
  expect(s.stderr).toMatch(/setup: web3 +ok/);
}, 600_000);

afterAll(() => fleet?.stop());

describe("several hosts over SSH", () => {
  it("buildinst ships the image through the registry and installs it on every host, in parallel; a code change ships a few kB", async () => {
    const r = ok(await run(["buildinst", "--json"]));
    const first = JSON.parse(r.stdout.trim().split("\n").pop()!) as { version: string; shipped: Record<string, number> };
    v1 = first.version;
    expect(r.stderr).toMatch(/^web3: shipped fleet:\S+ through the registry: [\d.]+ MB/m);
    for (const h of ["web1", "web2", "web3"]) expect(r.stderr).toMatch(new RegExp(`install ${v1}: ${h} +ok`));
    expect(r.stderr).toMatch(/^web3: started /m);
    // Every host's preview through its own nginx.
    for (const h of fleet.hosts) {
      const p = await get(h.httpPort, `${v1}.${DOMAIN}`, "/health");
      expect([h.name, p.status, p.headers["x-depl-version"]]).toEqual([h.name, 200, v1]);
    }
    // A code-only change: only the app's own layers move.
    appendFileSync(join(fleet.dir, "app", "testapp", "app.py"), `\n# changed for the second version\n`);
    const second = JSON.parse(ok(await run(["buildinst", "--json"])).stdout.trim().split("\n").pop()!) as { version: string; shipped: Record<string, number> };
    v2 = second.version;
    const total = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
    console.log(`hosts: shipped to 3 hosts through the registry: first version ${(total(first.shipped) / 1e6).toFixed(1)} MB, second (code change) ${(total(second.shipped) / 1e6).toFixed(2)} MB (${((100 * total(second.shipped)) / total(first.shipped)).toFixed(2)}%)`);
    expect(Object.keys(second.shipped).sort()).toEqual(["web1", "web2", "web3"]);
    expect(total(second.shipped)).toBeGreaterThan(0);
    expect(total(second.shipped)).toBeLessThan(total(first.shipped) / 10);
  });

  it("promote switches all three at once and reports the spread of the renames", async () => {
    ok(await run(["promote", v1]));
    const r = ok(await run(["promote", v2, "--json"]));
    const out = JSON.parse(r.stdout) as { rename_skew_ms: number; renamed_at: Record<string, number>; versions: Record<string, string> };
    expect(Object.keys(out.renamed_at).sort()).toEqual(["web1", "web2", "web3"]);
    expect(out.versions).toEqual({ web1: v2, web2: v2, web3: v2 });
    expect(out.rename_skew_ms).toBeGreaterThanOrEqual(0);
    expect(await lives()).toEqual([v2, v2, v2]);
    const h = ok(await run(["history", "--json"]));
    const last = (JSON.parse(h.stdout) as { host: string; action: string; version: string; result: string }[]).slice(-3);
    expect(last.map((e) => [e.host, e.action, e.version, e.result]).sort()).toEqual(["web1", "web2", "web3"].map((n) => [n, "promote", v2, "ok"]));
  });

  it("with one host's release stopped, promote switches none and names that host", async () => {
    onTestHost(fleet.hosts[1]!, "supervisorctl", "stop", `${APP}-${v1}`);
    try {
      const r = await run(["promote", v1]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`web2: version ${v1.replace(/\./g, "\\.")} is not running \\(supervisord: STOPPED\\); nothing was changed`));
      expect(await lives()).toEqual([v2, v2, v2]);
    } finally {
      onTestHost(fleet.hosts[1]!, "supervisorctl", "start", `${APP}-${v1}`);
    }
  });

  it("a host that drops its connection after its rename is switched back with the others", async () => {
    const r = await run(["promote", v1], { DEPL_FAULT_DROP: "web3" });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/promote failed on web3 \(connection lost after the rename.*\); every host is switched back to the links it had/);
    expect(await lives()).toEqual([v2, v2, v2]);
    // The record agrees with the links on every host (depl list reads them back).
    const state = fleet.hosts.map((h) => JSON.parse(onTestHost(h, "cat", `/srv/depl-fleet/${APP}/state.json`)) as { live: string; previous: string });
    expect(state.map((s) => [s.live, s.previous])).toEqual(Array(3).fill([v2, v1]));
  });

  it("canary and rollback across all hosts", async () => {
    ok(await run(["canary", v1, "10%"]));
    for (const h of fleet.hosts) {
      expect((await get(h.httpPort, DOMAIN, "/health", { cookie: "depl_bucket=05" })).headers["x-depl-version"]).toBe(v1);
      expect((await get(h.httpPort, DOMAIN, "/health", { cookie: "depl_bucket=50" })).headers["x-depl-version"]).toBe(v2);
    }
    ok(await run(["canary", "--stop"]));
    for (const h of fleet.hosts) expect((await get(h.httpPort, DOMAIN, "/health", { cookie: "depl_bucket=05" })).headers["x-depl-version"]).toBe(v2);
    const r = ok(await run(["rollback"]));
    expect(r.stdout).toMatch(new RegExp(`Rolled back: version ${v1.replace(/\./g, "\\.")} is live \\(renames [\\d.]+ ms apart on 3 hosts\\)`));
    expect(await lives()).toEqual([v1, v1, v1]);
  });

  it("under load on all three hosts, 30 switches fail no request", async () => {
    const loads = fleet.hosts.map((h) => startLoad({ host: DOMAIN, port: h.httpPort, path: "/health", connections: 4, maxSeconds: 240, keepAlive: false }));
    const skews: number[] = [];
    let target = v2;
    for (let i = 0; i < 30; i++) {
      const r = ok(await run(["promote", target, "--json"]));
      skews.push((JSON.parse(r.stdout) as { rename_skew_ms: number }).rename_skew_ms);
      target = target === v1 ? v2 : v1;
    }
    const results: LoadResult[] = await Promise.all(loads.map((l) => l.stop()));
    const requests = results.reduce((n, r) => n + r.requests, 0);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    skews.sort((a, b) => a - b);
    console.log(`hosts: 30 promotes on 3 hosts under load: ${requests} requests, ${failed} failed; rename skew median ${skews[15]!.toFixed(1)} ms, max ${skews[29]!.toFixed(1)} ms`);
    expect(requests).toBeGreaterThan(300);
    expect({ failed, failures: results.map((r) => r.failures) }).toEqual({ failed: 0, failures: [{}, {}, {}] });
  });

  it("exec, logs, list and stats work across hosts; --host narrows", async () => {
    const e = ok(await run(["exec", v1, "--", "sh", "-c", "echo $DEPL_VERSION"]));
    expect(e.stdout.split("\n").filter(Boolean).sort()).toEqual(["web1", "web2", "web3"].map((h) => `${h}: ${v1}`));
    const one = ok(await run(["--host", "web2", "exec", v1, "--", "sh", "-c", "exit 0"]));
    expect(one.stderr).not.toMatch(/web1/);
    const l = ok(await run(["list", "--json"]));
    const rows = JSON.parse(l.stdout) as { host: string; version: string }[];
    expect(new Set(rows.map((r) => r.host))).toEqual(new Set(["web1", "web2", "web3"]));
    const logs = ok(await run(["logs", v1, "-n", "2"]));
    expect(logs.stdout).toMatch(/^web3: /m);
    const s = ok(await run(["stats", "--since", "1h", "--json"]));
    const stats = JSON.parse(s.stdout) as { versions: { version: string; requests: number }[]; hosts: Record<string, { requests: number }[]> };
    const total = stats.versions.reduce((n, v) => n + v.requests, 0);
    const perHost = Object.values(stats.hosts).map((vs) => vs.reduce((n, v) => n + v.requests, 0));
    expect(perHost).toHaveLength(3);
    expect(perHost.reduce((a, b) => a + b, 0)).toBe(total);
    const bad = await run(["--host", "web9", "list"]);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'depl: unknown host "web9" in --host: the config\'s hosts are web1, web2, web3']);
  });

  it("a guarded canary that goes bad is stopped on all three hosts at once; the dashboard shows each host and its charts", async () => {
    // Answers 500 through nginx after its first 40 requests (per host: one gunicorn worker each).
    const guard = "canary: { interval: 2s, min_requests: 100 }\n";
    const badConfig = writeConfig("bad.yml", fleet.hostsYaml(), `${guard}env: { TESTAPP_FAIL_AFTER: "40" }\n`);
    bad = (JSON.parse(ok(await depl(["-c", badConfig, "buildinst", "--json"], { env: { DEPL_STATE_DIR: stateDir } })).stdout.trim().split("\n").pop()!) as { version: string }).version;
    const live = String((await lives())[0]);
    const ARTIFACTS = `${REPO}test-artifacts/hosts`;
    mkdirSync(ARTIFACTS, { recursive: true });
    const PORT = 18078;
    let dashOut = "";
    const dash = spawn(process.execPath, ["--import", "tsx", `${REPO}src/cli.ts`, "-c", config, "dashboard", "--port", String(PORT)], { cwd: REPO, env: { ...process.env, DEPL_STATE_DIR: stateDir } });
    dash.stdout!.on("data", (d) => (dashOut += d));
    dash.stderr!.on("data", (d) => (dashOut += d));
    const profile = mkdtempSync(join(tmpdir(), "depl-chromium-"));
    const loads = fleet.hosts.map((h) => startLoad({ host: DOMAIN, port: h.httpPort, path: "/health", connections: 3, maxSeconds: 180, keepAlive: false }));
    const ctx = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"], viewport: { width: 1500, height: 1000 } });
    try {
      await waitFor(() => dashOut.includes("depl dashboard for"), 60_000);
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await gotoSteady(page, `http://127.0.0.1:${PORT}/`, { waitUntil: "load" });
      ok(await run(["canary", bad, "20%"]));
      // Every host's box shows the canary; the charts can show one host or the sum.
      const canaries = () => page.locator(".host .traffic .canary").allTextContents();
      await waitFor(async () => JSON.stringify(await canaries()) === JSON.stringify(Array(3).fill(`${bad} at 20%`)), 30_000);
      expect(await page.locator(".host h3").allTextContents()).toEqual(["web1", "web2", "web3"]);
      await waitFor(async () => (await page.locator("#scope option").count()) === 4, 30_000);
      await page.selectOption("#scope", "web2");
      // The series with requests in the last 30 s (5 s points): canary and live side by side.
      const recent = () =>
        page.evaluate(() => {
          const c = (window as unknown as { deplCharts: Record<string, { data: { datasets: { label: string; data: (number | null)[] }[] } }> }).deplCharts;
          return c.requests!.data.datasets.filter((d) => d.data.slice(-6).some((x) => (x ?? 0) > 0)).map((d) => d.label).sort();
        });
      const both = [`${bad} (canary 20%)`, `${live} (live)`].sort();
      await waitFor(async () => JSON.stringify(await recent()) === JSON.stringify(both), 40_000);
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-three-hosts-canary.png`, fullPage: true });

      // The guard (same version and share) sees the 500s and stops the canary on every host with one switch.
      const w = await depl(["-c", badConfig, "canary", bad, "20%", "--watch", "60s"], { env: { DEPL_STATE_DIR: stateDir } });
      expect(w.code, w.stdout + w.stderr).toBe(1);
      expect(w.stdout).toMatch(/FAIL 5xx rate: canary \d+\/\d+ \([\d.]+%\) vs live 0\/\d+/);
      expect(w.stdout).toMatch(new RegExp(`stopped \\(renames [\\d.]+ ms apart, \\d+ ms from the verdict, lock included\\): every client is served ${live.replace(/\./g, "\\.")}`));
      for (const h of fleet.hosts) {
        const st = JSON.parse(onTestHost(h, "cat", `/srv/depl-fleet/${APP}/state.json`)) as { live: string; canary: unknown };
        expect([h.name, st.live, st.canary]).toEqual([h.name, live, null]);
        expect((await get(h.httpPort, DOMAIN, "/health", { cookie: "depl_bucket=05" })).headers["x-depl-version"]).toBe(live);
      }
      await waitFor(async () => JSON.stringify(await canaries()) === JSON.stringify(Array(3).fill("none")), 30_000);
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-three-hosts-stopped.png`, fullPage: true });
      const results: LoadResult[] = await Promise.all(loads.map((l) => l.stop()));
      // The canary's own 500s, nothing else: no request was dropped or got a 502 from the switches.
      for (const r of results) expect(Object.keys(r.failures).filter((k) => k !== "500")).toEqual([]);
      console.log(`hosts: guarded canary on 3 hosts: ${results.reduce((n, r) => n + r.requests, 0)} requests, ${results.reduce((n, r) => n + r.failed, 0)} were the canary's 500s; ${/stopped \(([^)]*)\)/.exec(w.stdout)?.[1]}`);
    } finally {
      await Promise.all(loads.map((l) => l.stop().catch(() => undefined)));
      if (fleet.hosts.some((h) => /"canary": *\{/.test(onTestHost(h, "cat", `/srv/depl-fleet/${APP}/state.json`)))) await run(["canary", "--stop"]); // for the tests that follow
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
      dash.kill("SIGINT");
    }
  });

  it("remove takes a version off every host and off this machine (built image, tag in depl's registry); make registry_gc runs and keeps every layer the other versions need", async () => {
    const registry = "http://127.0.0.1:5000/v2/depl/fleet";
    const tags = async () => ((await (await fetch(`${registry}/tags/list`)).json()) as { tags: string[] | null }).tags ?? [];
    const accept = { accept: "application/vnd.docker.distribution.manifest.v2+json" };
    expect(await tags()).toEqual(expect.arrayContaining([v1, v2, bad]));
    const r = ok(await run(["remove", bad]));
    expect(r.stderr).toMatch(new RegExp(`this machine: forgot ${bad.replace(/\./g, "\\.")} \\(image, registry tag\\)`));
    expect(await tags()).not.toContain(bad);
    expect(await tags()).toEqual(expect.arrayContaining([v1, v2]));
    expect(spawnSync("docker", ["image", "inspect", `${APP}:${bad}`]).status).not.toBe(0);
    for (const h of fleet.hosts) expect(onTestHost(h, "sh", "-c", `docker image inspect ${APP}:${bad} >/dev/null 2>&1 && echo kept || echo gone`)).toBe("gone");
    const gc = spawnSync("make", ["-s", "registry_gc"], { cwd: REPO, encoding: "utf8" });
    expect(gc.status, gc.stderr).toBe(0);
    console.log(`hosts: ${gc.stdout.trim()}`);
    expect(gc.stdout).toMatch(/^registry-gc: \/var\/lib\/depl-registry \d+ MB -> \d+ MB$/m);
    // What the kept versions need is all still there (curl: this process's pooled connections died with the old registry process).
    const curl = (...a: string[]) => execFileSync("curl", ["-sS", ...a], { encoding: "utf8" });
    for (const v of [v1, v2]) {
      const m = JSON.parse(curl("-H", `accept: ${accept.accept}`, `${registry}/manifests/${v}`)) as { config: { digest: string }; layers: { digest: string }[] };
      for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) expect([v, d, curl("-I", "-o", "/dev/null", "-w", "%{http_code}", `${registry}/blobs/${d}`)]).toEqual([v, d, "200"]);
    }
  });

  it("depl killed between staging and the renames switches no host and leaves no staged link; killed after the switch, a rerun or --resume finishes on all", async () => {
    const [from, to] = (await lives())[0] === v1 ? [v1, v2] : [v2, v1];
    const staged = (h: (typeof fleet.hosts)[number]) => onTestHost(h, "find", `/srv/depl-fleet/${APP}`, "-maxdepth", "2", "-name", ".*.depl-*").trim();
    const killed = await run(["promote", to], { DEPL_FAULT_AT: "promote:staged" });
    expect(killed.code, killed.stderr).not.toBe(0);
    expect(killed.stdout).not.toMatch(/is live/);
    expect(await lives()).toEqual([from, from, from]);
    // Each host's waiting script sees its connection end and removes what it staged.
    await waitFor(() => fleet.hosts.every((h) => staged(h) === ""), 10_000);
    // A plain rerun takes over the dead process's locks on every host and switches all three.
    ok(await run(["promote", to]));
    expect(await lives()).toEqual([to, to, to]);

    const cut = await run(["promote", from], { DEPL_FAULT_AT: "promote:switch" });
    expect(cut.code).not.toBe(0);
    expect(await lives()).toEqual([from, from, from]); // the switch step had finished on every host
    const resumed = ok(await run(["promote", "--resume"]));
    expect(resumed.stdout).toMatch(new RegExp(`^Version ${from.replace(/\./g, "\\.")} is live`, "m"));
    expect(await lives()).toEqual([from, from, from]);
    expect(await run(["promote", "--resume"])).toMatchObject({ code: 2 });
  });

  it("HTTPS: tls renew puts the certificate on every host (key 0600) and each serves it; without tls: they go again", async () => {
    const tlsDir = join(fleet.dir, "tls");
    const ca = ensureCa(tlsDir, DOMAIN);
    const leaf = { cert: join(tlsDir, "fleet.crt"), key: join(tlsDir, "fleet.key") };
    issue(ca, leaf, certificateNames(DOMAIN, []), new Date(Date.now() - 60_000), new Date(Date.now() + 30 * 86_400_000));
    const withTls = writeConfig("tls.yml", fleet.hostsYaml(), `tls:\n  certificates:\n    - { cert: ${leaf.cert}, key: ${leaf.key} }\n`);
    const r = await depl(["-c", withTls, "tls", "renew"], { env: { DEPL_STATE_DIR: stateDir } });
    expect(r.code, r.stderr).toBe(0);
    for (const h of ["web1", "web2", "web3"]) expect(r.stderr).toMatch(new RegExp(`^${h}: certificates in place, nginx reloaded once`, "m"));
    const sum = (text: string) => createHash("sha256").update(text.trim()).digest("hex"); // docker exec output comes trimmed
    for (const h of fleet.hosts) {
      const dir = "/srv/depl-fleet/fleet/nginx/tls";
      const files = onTestHost(h, "sh", "-c", `cd ${dir} && stat -c '%n %a %U' *`).trim().split("\n");
      expect(files.map((f) => f.replace(/^[0-9a-f]{16}/, "ID"))).toEqual(["ID.crt 644 root", "ID.key 600 root"]);
      expect(sum(onTestHost(h, "sh", "-c", `cat ${dir}/*.crt`))).toBe(sum(readFileSync(leaf.cert, "utf8")));
      const https = onTestHost(h, "curl", "-sk", "--resolve", `${DOMAIN}:443:127.0.0.1`, "-o", "/dev/null", "-w", "%{http_code} %{http_version}", `https://${DOMAIN}/health`);
      expect([h.name, https]).toEqual([h.name, "200 2"]);
    }
    const l = await depl(["-c", withTls, "list"], { env: { DEPL_STATE_DIR: stateDir } });
    expect(l.stdout.match(/^web\d +\S+\.crt +fleet\.localhost,\*\.fleet\.localhost +expires /gm)).toHaveLength(3);
    // Back to plain HTTP for the tests that follow; the certificate files go with the HTTPS blocks.
    ok(await run(["setup"]));
    for (const h of fleet.hosts) expect(onTestHost(h, "ls", "/srv/depl-fleet/fleet/nginx/tls").trim()).toBe("");
  });

  it("refuses a host whose key is unknown or changed, saying how to trust it", async () => {
    const file = join(fleet.dir, "known_hosts_wrong");
    const other = onTestHost(fleet.hosts[0]!, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").split(/\s+/).slice(0, 2).join(" ");
    writeFileSync(file, `[127.0.0.1]:22301 ${other}\n`); // web1's key under web2's name
    const web2 = { ...fleet.hosts[1]!.config, known_hosts: file };
    const changed = await depl(["-c", writeConfig("wrongkey.yml", JSON.stringify([web2])), "list"]);
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stderr).toMatch(/host key check against .*known_hosts_wrong failed/);
    writeFileSync(file, "");
    const unknown = await depl(["-c", writeConfig("nokey.yml", JSON.stringify([web2])), "list"]);
    expect(unknown.stderr).toMatch(/no host key for \[127\.0\.0\.1\]:22301 in .*; check the server's fingerprint, then add it \(ssh-keyscan -p 22301 127\.0\.0\.1\)/);
  });
});

// Domains of their own: an app's domain under another app's on the same nginx is a known limit (README).
const PRODUCTION = "fleetprod.localhost";
const STAGING = "fleetstaging.localhost";

describe("roles and destinations", () => {
  it("a worker-only host runs the workers and no web; a staging destination deploys only its hosts", async () => {
    const [web1, web2] = fleet.hosts;
    const hosts = JSON.stringify([{ ...web1!.config, roles: ["web"] }, { ...web2!.config, roles: ["worker"] }]);
    const extra =
      `processes: { worker: ["/app/venv/bin/python", "-m", "testapp.worker"] }\nshared: { data: /app/data }\nenv: { TESTAPP_SHARED: /app/data }\n` +
      `destinations:\n  staging: { domain: ${STAGING}, hosts: [${JSON.stringify({ ...web1!.config })}] }\n  production: {}\n`;
    const file = writeConfig("roles.yml", hosts, extra, PRODUCTION);
    const noDest = await depl(["-c", file, "--wait", "60", "list"]);
    expect([noDest.code, noDest.stderr.trim()]).toEqual([2, `depl: ${file} defines destinations (staging, production): choose one with -d/--destination`]);
    const prod = (args: string[]) => depl(["-c", file, "--wait", "60", "-d", "production", ...args]);
    ok(await prod(["setup"]));
    const v = (JSON.parse(ok(await prod(["buildinst", "--json"])).stdout.trim().split("\n").pop()!) as { version: string }).version;
    ok(await prod(["promote", v]));
    const program = (p: string) => `${APP}-production-${v}${p ? `-${p}` : ""}`;
    const status = (h: typeof web1) => onTestHost(h!, "sh", "-c", "supervisorctl status || true");
    expect(status(web2)).toMatch(new RegExp(`${program("worker").replace(/\./g, "\\.")} +RUNNING`));
    expect(status(web2)).not.toMatch(new RegExp(`${program("").replace(/\./g, "\\.")} `));
    expect(onTestHost(web2!, "sh", "-c", `grep -rl ${APP}-production /etc/nginx/ || true`)).toBe("");
    expect(status(web1)).not.toMatch(/worker +RUNNING/);
    expect((await get(web1!.httpPort, PRODUCTION, "/health")).headers["x-depl-version"]).toBe(v);
    // staging: its own app name on its own host, nothing on web2.
    ok(await depl(["-c", file, "--wait", "60", "-d", "staging", "setup"]));
    const s = (JSON.parse(ok(await depl(["-c", file, "--wait", "60", "-d", "staging", "buildinst", "--json"])).stdout.trim().split("\n").pop()!) as { version: string }).version;
    expect((await get(web1!.httpPort, `${s}.${STAGING}`, "/health")).headers["x-depl-version"]).toBe(s);
    expect(onTestHost(web2!, "sh", "-c", `ls /srv/depl-fleet`)).not.toMatch(/staging/);
  });
});
