import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeplError } from "../../src/errors.js";
import { LocalHost } from "../../src/host/local.js";
import { applySite, applySiteFiles, detectSiteHost, siteFiles, type NginxControl } from "../../src/nginx/apply.js";
import { HTTP_LEVEL_CONF, renderSite, type SiteConfig, type SiteHost } from "../../src/nginx/render.js";
import { layout } from "../../src/naming/layout.js";

// Real `nginx -t` on every shape of rendered site, and applySite against a
// private nginx (own prefix, port and pid file; the system's nginx is never touched).

const NGINX = "/usr/sbin/nginx";
const host = new LocalHost();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "depl-nginx-apply-"));
  await chmod(tmp, 0o755);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function siteConfig(over: Partial<SiteConfig> = {}, listen = 8080): SiteConfig {
  return {
    app: "app1",
    domain: "app1.localhost",
    subdomains: ["foo"],
    root: join(tmp, "srv"),
    nginx: { listen, conf_dir: join(tmp, "conf.d") },
    ...over,
  };
}

/** `nginx -t` of a main config whose http block includes the given sites (and depl's http-level file, unless told). */
async function nginxTest(
  name: string,
  sites: SiteConfig[],
  opts: { siteHost?: SiteHost; httpLevel?: boolean } = {},
): Promise<{ code: number; stderr: string }> {
  const dir = join(tmp, `t-${name}`);
  await mkdir(dir, { recursive: true });
  const includes: string[] = [];
  if (opts.httpLevel !== false) {
    await writeFile(join(dir, "depl.conf"), HTTP_LEVEL_CONF);
    includes.push(`    include ${join(dir, "depl.conf")};`);
  }
  for (const [i, c] of sites.entries()) {
    await mkdir(layout(c.root, c.app).logDir, { recursive: true });
    const file = join(dir, `site${i}.conf`);
    await writeFile(file, renderSite(c, opts.siteHost));
    includes.push(`    include ${file};`);
  }
  const conf = join(dir, "nginx.conf");
  await writeFile(conf, `pid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n${tempPaths(dir)}\n${includes.join("\n")}\n}\n`);
  const r = spawnSync(NGINX, ["-t", "-p", `${dir}/`, "-c", conf], { encoding: "utf8" });
  return { code: r.status ?? -1, stderr: r.stderr };
}

/**
 * Temp files inside the instance's prefix: a running nginx chowns its temp directories to its worker user
 * (nobody here), which left Debian's /var/lib/nginx/body unwritable for the system nginx's www-data workers
 * (a 500 on any request body over 16 kB) until the system nginx's next -t or reload.
 */
const tempPaths = (dir: string) =>
  ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/tmp;`).join("\n");

describe("every rendered site variant passes a real nginx -t", () => {
  // Functions: tmp exists only once beforeAll has run.
  const variants: [string, () => SiteConfig[]][] = [
    ["one subdomain", () => [siteConfig()]],
    ["no subdomains", () => [siteConfig({ subdomains: [] })]],
    ["several subdomains", () => [siteConfig({ subdomains: ["foo", "api", "www", "a1-b2"] })]],
    ["hyphenated app, deep domain, odd root", () => [siteConfig({ app: "a-b2", domain: "shop.eu-west.example.co.uk", root: join(tmp, "r@+_.x") })]],
    ["port 80 and a long domain", () => [siteConfig({ domain: `${"d".repeat(60)}.${"e".repeat(60)}.example.com` }, 80)]],
    ["two apps in one nginx", () => [siteConfig(), siteConfig({ app: "app2", domain: "app2.localhost", subdomains: ["foo", "bar"] })]],
  ];
  it.each(variants)("%s", async (name, sites) => {
    for (const ipv6 of [false, true]) {
      for (const withStatic of [false, true]) {
        const configs = sites().map((c) => (withStatic ? { ...c, static: { url: "/static/" } } : c));
        const r = await nginxTest(`${name.replace(/\W+/g, "-")}-${ipv6}-${withStatic}`, configs, { siteHost: { ipv6 } });
        expect(r.stderr).toContain("test is successful");
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(/\[(warn|emerg|alert)\]/);
      }
    }
  });

  const apps = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      siteConfig({ app: `app-${i}`, domain: `app-${i}.localhost`, subdomains: ["www", "api"], static: i % 2 ? { url: "/static/" } : undefined }, 80),
    );

  it("six apps on one nginx, both address families: no duplicate listen, no variables_hash warning", async () => {
    const r = await nginxTest("six-apps", apps(6), { siteHost: { ipv6: true } });
    expect(r.stderr).toContain("test is successful");
    expect(r.stderr).not.toMatch(/\[(warn|emerg|alert)\]/);
  });

  it("(the warning that depl's http-level file prevents is real with four apps)", async () => {
    const r = await nginxTest("four-apps-no-http-level", apps(4), { siteHost: { ipv6: true }, httpLevel: false });
    expect(r.stderr).toContain("could not build optimal variables_hash");
  });
});

describe("applySite against a running nginx", () => {
  let nginx: ChildProcess;
  let port: number;
  let ctl: Partial<NginxControl>;
  let confDir: string;

  beforeAll(async () => {
    const dir = join(tmp, "instance");
    confDir = join(dir, "conf.d");
    await mkdir(confDir, { recursive: true });
    port = await freePort();
    const conf = join(dir, "nginx.conf");
    await writeFile(
      conf,
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n    access_log off;\n${tempPaths(dir)}\n    include ${confDir}/*.conf;\n` +
        `    server { listen ${port} default_server; return 444; }\n}\n`,
    );
    ctl = { bin: NGINX, instanceArgs: ["-p", `${dir}/`, "-c", conf], pidFile: join(dir, "nginx.pid"), reload: "signal", reloadTimeoutMs: 5000 };
    nginx = spawn(NGINX, ["-p", `${dir}/`, "-c", conf, "-g", "daemon off;"], { stdio: "ignore" });
    await waitForPort(port);
  });
  afterAll(async () => {
    nginx?.kill("SIGTERM");
    if (nginx && nginx.exitCode === null) await new Promise((r) => nginx.once("exit", r));
  });

  const config = () => siteConfig({ nginx: { listen: port, conf_dir: confDir } });
  const sitePath = () => layout(config().root, config().app).siteConf;
  const incPath = () => join(confDir, "depl-app1.conf");

  it("installs the site and the include, reloads, and then serves the domain", async () => {
    expect(await status(port, "app1.localhost")).toBe(0); // the default server closes the connection (444)
    expect(await applySite(host, config(), ctl)).toEqual({ changed: true, reloaded: true });
    expect(await readFile(incPath(), "utf8")).toContain(`include ${sitePath()};`);
    expect(await readFile(sitePath(), "utf8")).toBe(renderSite(config(), await detectSiteHost(host)));
    expect(await readFile(join(confDir, "depl.conf"), "utf8")).toBe(HTTP_LEVEL_CONF);
    expect(await status(port, "app1.localhost")).toBe(503); // the site, with nothing live yet
    expect(await status(port, "x.y.app1.localhost")).toBe(404);
  });

  it("does not reload when the text is unchanged", async () => {
    const pid = await readFile(join(tmp, "instance", "nginx.pid"), "utf8");
    const workers = await readFile(`/proc/${pid.trim()}/task/${pid.trim()}/children`, "utf8");
    expect(await applySite(host, config(), ctl)).toEqual({ changed: false, reloaded: false });
    expect(await readFile(`/proc/${pid.trim()}/task/${pid.trim()}/children`, "utf8")).toBe(workers);
  });

  it("never puts in place a site that nginx rejects alone", async () => {
    const files = siteFiles({ ...config(), subdomains: ["foo", "bar"] });
    const broken = { ...files, site: { ...files.site, text: files.site.text.replace(`listen ${port};`, "listen 127.0.0.1:99999;") } };
    const before = await readFile(sitePath(), "utf8");
    const err = await applySiteFiles(host, broken, ctl).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeplError);
    expect((err as Error).message).toMatch(/nginx rejects the new site: .*invalid port in "127\.0\.0\.1:99999"/);
    expect(await readFile(sitePath(), "utf8")).toBe(before);
    expect(await status(port, "app1.localhost")).toBe(503);
  });

  it("restores the previous files when the full nginx -t fails, and keeps the running config", async () => {
    const other = join(confDir, "zz-broken.conf");
    await writeFile(other, "server { listen 127.0.0.1:99999; }\n");
    try {
      const before = await readFile(sitePath(), "utf8");
      const err = await applySite(host, { ...config(), subdomains: ["foo", "bar"] }, ctl).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeplError);
      expect((err as Error).message).toMatch(/nginx -t failed .*invalid port in "127\.0\.0\.1:99999".*zz-broken\.conf/);
      expect(await readFile(sitePath(), "utf8")).toBe(before);
      expect(await readFile(incPath(), "utf8")).toContain("include");
      expect(await status(port, "bar.app1.localhost")).toBe(404); // bar was never loaded
    } finally {
      await rm(other);
    }
  });

  it("detects a reload that the master cannot load (listen port taken) and restores the files", async () => {
    const taken = await holdPort();
    try {
      const before = await readFile(sitePath(), "utf8");
      const moved = { ...config(), nginx: { listen: taken.port, conf_dir: confDir } };
      const started = Date.now();
      const err = await applySite(host, moved, ctl).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeplError);
      expect((err as Error).message).toMatch(/did not load the new config/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
      expect(await readFile(sitePath(), "utf8")).toBe(before);
      expect(await status(port, "app1.localhost")).toBe(503); // still the old config
    } finally {
      await new Promise((r) => taken.server.close(r));
    }
  });

  it("removes a new include again when the site it brings fails", async () => {
    const other = join(confDir, "zz-broken.conf");
    await writeFile(other, "server { listen 127.0.0.1:99999; }\n");
    try {
      const app2 = siteConfig({ app: "app2", domain: "app2.localhost", nginx: { listen: port, conf_dir: confDir } });
      await expect(applySite(host, app2, ctl)).rejects.toThrow(DeplError);
      expect(await host.exists(join(confDir, "depl-app2.conf"))).toBe(false);
      expect(await host.exists(layout(app2.root, "app2").siteConf)).toBe(false);
    } finally {
      await rm(other);
    }
  });

  it("applies a change of port: the new port serves the site, the old one is gone", async () => {
    const next = await freePort();
    const moved = { ...config(), nginx: { listen: next, conf_dir: confDir } };
    expect(await applySite(host, moved, ctl)).toEqual({ changed: true, reloaded: true });
    expect(await status(next, "app1.localhost")).toBe(503);
    expect(await status(port, "app1.localhost")).toBe(0); // the default server answers this port now
  });
});

// --- helpers ----------------------------------------------------------------

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
  return { server, port: (server.address() as { port: number }).port };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await status(port, "probe").catch(() => -1)) !== -1) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** The status of GET / with that Host; 0 when the server closes without answering; rejects when nothing listens. */
function status(port: number, hostHeader: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("timed out")));
    socket.on("data", (c: Buffer) => (data += c.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.write(`GET / HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
  });
}
