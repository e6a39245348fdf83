import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { applySite } from "../../src/nginx/apply.js";
import { httpLevelPath, includePath, type SiteConfig } from "../../src/nginx/render.js";
import { layout } from "../../src/naming/layout.js";
import { ensureTrafficDirs, routeVersion, setLive } from "../../src/switch/traffic.js";
import { get, get6 } from "../helpers/http.js";

// The system's nginx on port 80, next to Debian's default site (listen [::]:80 default_server):
// what a browser that tries ::1 first gets for a depl name. Own app, domain and root; the
// include is removed again afterwards (a reload, never a restart).

const V = "2024.03.04.05.06";
const config: SiteConfig = {
  app: "nginxv6",
  domain: "nginxv6.localhost",
  subdomains: ["www"],
  root: "/srv/depl-nginxv6",
  nginx: { listen: 80, conf_dir: "/etc/nginx/conf.d" },
  static: { url: "/static/" },
};
const l = layout(config.root, config.app);
const host = new LocalHost();
const ipv6 = (await host.readFile("/proc/net/if_inet6").catch(() => null))?.trim();
const systemNginx = await host.exists("/etc/nginx/sites-enabled/default") && await host.exists("/run/nginx.pid");
let app: Server;
let hadHttpLevel = false;

beforeAll(async () => {
  hadHttpLevel = await host.exists(httpLevelPath(config));
  await mkdir(l.sockDir(V), { recursive: true, mode: 0o755 });
  await chmod(config.root, 0o755);
  app = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-depl-version": V });
    res.end(`app ${V} for ${req.headers.host}`);
  });
  await new Promise<void>((r) => app.listen({ path: l.socket(V), backlog: 1024 }, r));
  await chmod(l.socket(V), 0o777);
  await mkdir(l.staticDir(V), { recursive: true, mode: 0o755 });
  await writeFile(join(l.staticDir(V), "site.css"), "body{}", { mode: 0o644 });
});

afterAll(async () => {
  await rm(includePath(config), { force: true });
  if (!hadHttpLevel) await rm(httpLevelPath(config), { force: true });
  await host.run(["nginx", "-s", "reload"], { allowFailure: true });
  await new Promise((r) => app?.close(r));
  await rm(config.root, { recursive: true, force: true });
});

describe.skipIf(!ipv6 || !systemNginx)("the system's nginx with Debian's default site, over ::1 and 127.0.0.1", () => {
  it("routes the depl names on both families; Debian's default site answers only other names", async () => {
    await applySite(host, config);
    await ensureTrafficDirs(host, l);
    await routeVersion(host, l, V);
    await setLive(host, l, V);
    for (const [family, fetch] of [["IPv4", get], ["IPv6", get6]] as const) {
      const live = await fetch(80, config.domain);
      expect(live.body, family).toBe(`app ${V} for ${config.domain}`);
      expect((await fetch(80, `www.${config.domain}`)).body, family).toBe(`app ${V} for www.${config.domain}`);
      expect((await fetch(80, `${V}.${config.domain}`)).body, family).toBe(`app ${V} for ${config.domain}`);
      const css = await fetch(80, config.domain, "/static/site.css");
      expect([css.status, css.body], family).toEqual([200, "body{}"]);
      const unknown = await fetch(80, `nope.${config.domain}`);
      expect(unknown.status, family).toBe(404);
      expect(unknown.body, family).toContain(`<a href="http://${config.domain}/">`);
      expect(unknown.body, family).not.toContain("Welcome to nginx");
      expect((await fetch(80, "not-depl.localhost")).body, family).toContain("Welcome to nginx");
    }
  });

  it("leaves nginx -t free of the variables_hash warning with every depl app installed here", async () => {
    const r = await host.run(["nginx", "-t"], { allowFailure: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("variables_hash");
  });
});
