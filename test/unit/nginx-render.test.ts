import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { validateConfig } from "../../src/config/load.js";
import { includePath, renderInclude, renderSite, type SiteConfig } from "../../src/nginx/render.js";

const base: SiteConfig = {
  app: "app1",
  domain: "app1.localhost",
  subdomains: ["foo", "bar"],
  root: "/srv/depl",
  nginx: { listen: 80, conf_dir: "/etc/nginx/conf.d" },
};
const site = renderSite(base);
const lines = site.split("\n").map((s) => s.trim());

/** The value of a quoted `server_name "~..."` line, as a JS RegExp (PCRE and JS agree on this subset). */
function serverRegexes(text: string): RegExp[] {
  return [...text.matchAll(/server_name "~(.*)";/g)].map((m) => new RegExp(m[1]!));
}

describe("renderSite", () => {
  it("serves the base domain and each subdomain, and nothing else, on the configured port", () => {
    const [live] = serverRegexes(site);
    for (const h of ["app1.localhost", "foo.app1.localhost", "bar.app1.localhost"]) expect(live!.test(h), h).toBe(true);
    for (const h of ["baz.app1.localhost", "x.foo.app1.localhost", "app1xlocalhost", "fooxapp1.localhost", "app1.localhost.evil.example"]) {
      expect(live!.test(h), h).toBe(false);
    }
    expect(lines.filter((s) => s === "listen 80;")).toHaveLength(3);
    expect(renderSite({ ...base, nginx: { ...base.nginx, listen: 8080 } })).toContain("listen 8080;");
  });

  it("proxies the live site through the bucket links and a forced version through versions/", () => {
    expect(lines).toContain("set $depl_app1_pass depl_app1_b$depl_app1_bucket;");
    expect(lines).toContain("set $depl_app1_pass unix:/srv/depl/app1/traffic/versions/$depl_app1_forced_header.sock:;");
    expect(lines).toContain("set $depl_app1_pass unix:/srv/depl/app1/traffic/versions/$depl_app1_forced_by_cookie.sock:;");
    expect(lines).toContain("if (!-x $depl_app1_need_header) { return 404; }");
    expect(lines).toContain("proxy_set_header Host $host;");
  });

  it("never tests the bucket's socket before proxying (a restarting app's socket is briefly missing; the way out answers); no way out at all is a 503", () => {
    expect(site).not.toMatch(/-x \/srv\/depl\/app1\/traffic\/(buckets|\$)/);
    expect(lines).toContain("error_page 502 = @depl_unavailable;");
    const named = site.slice(site.indexOf("location @depl_unavailable {"));
    const body = named.slice(0, named.indexOf("\n    }"));
    expect(body).toContain("if ($depl_app1_route = forced) { return 502; }");
    expect(body).toContain("return 503;");
  });

  it("gives each bucket an upstream group whose way out is live, then previous, resending only what nginx may", () => {
    const groups = [...site.matchAll(/^upstream depl_app1_b(\d\d) \{\n([^}]*)\}/gm)];
    expect(groups.map((m) => m[1])).toEqual(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0")));
    expect(groups[42]![2]!.trim().split("\n").map((s) => s.trim())).toEqual([
      "server unix:/srv/depl/app1/traffic/buckets/42.sock max_fails=0;",
      "server unix:/srv/depl/app1/traffic/live.sock max_fails=0 backup;",
      "server unix:/srv/depl/app1/traffic/previous.sock max_fails=0 backup;",
    ]);
    expect(site).not.toMatch(/^\s*keepalive\b|non_idempotent/m);
    expect(lines).toContain("proxy_pass http://$depl_app1_pass;");
    expect(lines).toContain("set $depl_app1_pass depl_app1_b$depl_app1_bucket;");
    expect(lines).toContain("set $depl_app1_pass unix:/srv/depl/app1/traffic/versions/$depl_app1_forced_header.sock:;");
    expect(lines).toContain("proxy_next_upstream error;");
    expect(lines.filter((s) => s === "proxy_next_upstream off;")).toHaveLength(1); // the preview
  });

  it("sends a client whose forcing cookie names a missing version to live, and expires that cookie", () => {
    const block = site.slice(site.indexOf("if (!-x $depl_app1_need_cookie) {"));
    const body = block.slice(0, block.indexOf("}"));
    expect(body).toContain("set $depl_app1_pass depl_app1_b$depl_app1_bucket;");
    expect(body).toContain('set $depl_app1_drop_forced "depl_version=; Path=/; Max-Age=0$depl_app1_secure";');
    expect(body).toContain('set $depl_app1_drop_forced_domain "depl_version=; Domain=app1.localhost; Path=/; Max-Age=0$depl_app1_secure";');
    expect(lines).toContain("add_header Set-Cookie $depl_app1_drop_forced always;");
  });

  it("answers an unknown name with a small page linking to the base domain (with a port other than 80)", () => {
    expect(lines.filter((s) => s === "error_page 404 @depl_not_found;")).toHaveLength(3);
    const page = lines.find((s) => s.startsWith("return 404 '<!doctype html>"))!;
    expect(page).toContain('<a href="$depl_app1_home">');
    expect(page).not.toMatch(/version=/);
    expect(lines).toContain('default "http://app1.localhost/";');
    expect(renderSite({ ...base, nginx: { ...base.nginx, listen: 8080 } })).toContain('default "http://app1.localhost:8080/";');
  });

  it("listens on [::] as well when the host has IPv6, with no listen options that could clash between apps", () => {
    expect(site).not.toContain("[::]");
    const v6 = renderSite(base, { ipv6: true }).split("\n").map((s) => s.trim());
    expect(v6.filter((s) => s === "listen 80;")).toHaveLength(3);
    expect(v6.filter((s) => s === "listen [::]:80;")).toHaveLength(3);
    expect(v6.filter((s) => s.startsWith("listen ")).every((s) => /^listen (\[::\]:)?80;$/.test(s))).toBe(true);
  });

  it("serves static files from the traffic links (live, previous, canary) and previews from their release", () => {
    expect(site).not.toContain("static");
    const st = renderSite({ ...base, static: { url: "/assets/v.1/" } }).split("\n").map((s) => s.trim());
    expect(st.filter((s) => s === 'location ~ "^/assets/v[.]1/(?<depl_static_file>.*)$" {')).toHaveLength(2);
    expect(st).toContain("root /srv/depl/app1;");
    expect(st).toContain(
      "try_files $depl_app1_static1/$depl_static_file $depl_app1_static2/$depl_static_file $depl_app1_static3/$depl_static_file =404;",
    );
    expect(st).toContain("set $depl_app1_static1 /traffic/live.static;");
    expect(st).toContain("set $depl_app1_static2 /traffic/previous.static;");
    expect(st).toContain("set $depl_app1_static3 /traffic/canary.static;");
    expect(st).toContain("set $depl_app1_static1 /releases/$depl_app1_requested/static;");
    expect(st).toContain("try_files /releases/$depl_app1_preview_version/static/$depl_static_file =404;");
    expect(st).toContain('"~[.-][0-9a-f]{8,}[.][A-Za-z0-9]+$" "public, max-age=31536000, immutable";');
    expect(() => renderSite({ ...base, static: { url: "static" } })).toThrow(/invalid static.url/);
    expect(() => renderSite({ ...base, static: { url: "/st atic/" } })).toThrow(UsageError);
  });

  it("deals 100 buckets of 1% each and sets the bucket cookie only when it dealt one", () => {
    const dealt = lines.filter((s) => /^1% \d\d;$/.test(s)).map((s) => s.slice(3, 5));
    expect(dealt).toEqual(Array.from({ length: 99 }, (_, i) => String(i).padStart(2, "0")));
    expect(lines).toContain("* 99;");
    expect(lines).toContain('split_clients "${request_id}" $depl_app1_new_bucket {');
    expect(lines).toContain('"~(?:^|[;,])[ ]*depl_bucket=([0-9][0-9])[ ]*(?:[;,]|$)" $1;');
    expect(site).toMatch(/"" "depl_bucket=\$depl_app1_new_bucket; Domain=app1\.localhost; Path=\/; Max-Age=\d{7,}; HttpOnly; SameSite=Lax\$depl_app1_secure";/);
    expect(lines).toContain("add_header Set-Cookie $depl_app1_set_cookie always;");
    expect(lines).toContain("add_header Set-Cookie $depl_app1_drop_bad_bucket always;");
  });

  it("takes the first well-formed depl_bucket from the Cookie header, wherever it stands", () => {
    const [good, bad] = [...site.matchAll(/^ {4}"~(.*)" (?:\$1|1);$/gm)].map((m) => new RegExp(m[1]!));
    const pick = (c: string) => good!.exec(c)?.[1];
    expect(pick("depl_bucket=42")).toBe("42");
    expect(pick("depl_bucket=7; depl_bucket=42")).toBe("42");
    expect(pick("a=1; depl_bucket=zz; b=2; depl_bucket=05; depl_bucket=99")).toBe("05");
    expect(pick("xdepl_bucket=42")).toBeUndefined();
    expect(pick("depl_bucket=423")).toBeUndefined();
    expect(bad!.test("depl_bucket=7; depl_bucket=42")).toBe(true);
    expect(bad!.test("depl_bucket=; depl_bucket=42")).toBe(true);
    expect(bad!.test("depl_bucket=42; other=1")).toBe(false);
  });

  it("routes previews by regex and sends Host without the version label", () => {
    expect(lines).toContain("proxy_pass http://unix:/srv/depl/app1/traffic/versions/$depl_app1_preview_version.sock:;");
    expect(lines).toContain("if (!-x /srv/depl/app1/traffic/versions/$depl_app1_preview_version.sock) { return 404; }");
    expect(lines).toContain("proxy_set_header Host $depl_preview_host;");
  });

  it("matches only well-formed preview names; the rest of the domain falls to a 404 server", () => {
    const [, preview, other] = serverRegexes(site);
    const m = (h: string) => preview!.exec(h)?.groups;
    expect(m("2024.01.02.03.04.app1.localhost")).toEqual({ depl_preview_label: "2024.01.02.03.04", depl_preview_host: "app1.localhost" });
    expect(m("2024.01.02.03.04-2.foo.app1.localhost")).toEqual({ depl_preview_label: "2024.01.02.03.04-2", depl_preview_host: "foo.app1.localhost" });
    expect(m("feature-x.bar.app1.localhost")).toEqual({ depl_preview_label: "feature-x", depl_preview_host: "bar.app1.localhost" });
    for (const h of [
      "app1.localhost",
      "foo.app1.localhost",
      "foo.foo.app1.localhost",
      "a.b.c.app1.localhost",
      "../x.app1.localhost",
      "%2e%2e.app1.localhost",
      "x-.app1.localhost",
      "x.app1xlocalhost",
      "x.app1.localhost.evil.example",
      "2024.01.02.03.app1.localhost",
      "a".repeat(41) + ".app1.localhost",
    ]) {
      expect(m(h), h).toBeUndefined();
    }
    expect(other!.test("a.b.c.app1.localhost")).toBe(true);
    expect(other!.test("app1.localhost.evil.example")).toBe(false);
  });

  it("validates a forced version strictly", () => {
    const re = new RegExp(/"~(\^\(\?:\[0-9\]\{4\}.*)" \$http_x_depl_version;/.exec(site)![1]!);
    for (const v of ["2024.01.02.03.04", "2024.01.02.03.04-12", "feature-x"]) expect(re.test(v), v).toBe(true);
    for (const v of ["", "../x", "Feature", "x_y", "2024.1.2.3.4", "a".repeat(41), "x\n"]) expect(re.test(v), v).toBe(false);
  });

  it("has no subdomain alternatives when the app declares none", () => {
    const plain = renderSite({ ...base, subdomains: [] });
    expect(plain).toContain('server_name "~^app1[.]localhost$";');
    const [, preview] = serverRegexes(plain);
    expect(preview!.exec("foo.app1.localhost")?.groups?.depl_preview_label).toBe("foo");
    expect(preview!.test("x.foo.app1.localhost")).toBe(false);
  });

  it("names every nginx variable and the log format after the app", () => {
    const s = renderSite({ ...base, app: "my-app" , domain: "example.com" });
    expect(s).toContain("log_format depl_my_app escape=json");
    expect(s).not.toMatch(/\$depl_app1_/);
    const vars = new Set([...s.matchAll(/\$(depl_[a-z0-9_]+)/g)].map((m) => m[1]!));
    for (const v of vars) expect(v.startsWith("depl_my_app_") || v.startsWith("depl_preview_"), v).toBe(true);
  });

  it("logs one JSON line per request with the version that served it", () => {
    expect(lines.filter((s) => s === "access_log /srv/depl/app1/log/access.log depl_app1;")).toHaveLength(3);
    const format = /log_format depl_app1 escape=json '(.*)';/.exec(site)![1]!;
    for (const field of ['"time":$msec', '"host":"$host"', '"uri":"$request_uri"', '"status":$status', '"request_time":$request_time',
      '"upstream_response_time":"$upstream_response_time"', '"bucket":"$depl_app1_log_bucket"', '"requested":"$depl_app1_requested"',
      '"version":"$upstream_http_x_depl_version"']) {
      expect(format).toContain(field);
    }
  });

  it("proxies for zero-drop switching: a connection per request (no keepalive pool) unless a WebSocket, request id", () => {
    for (const l of ["proxy_http_version 1.1;", "proxy_set_header Connection $depl_app1_connection;", "proxy_set_header Upgrade $depl_app1_upgrade;",
      "proxy_set_header X-Request-Id $request_id;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Forwarded-Proto $scheme;", 'proxy_set_header X-Depl-Version "";']) {
      expect(lines.filter((s) => s === l), l).toHaveLength(2);
    }
    expect(site).not.toMatch(/^\s*keepalive\b/m);
    // Connection is close for every request but a WebSocket upgrade.
    expect(site).toMatch(/map \$http_upgrade \$depl_app1_upgrade \{\n\s+"~\*\^websocket\$" websocket;\n\s+default "";\n\}/);
    expect(site).toMatch(/map \$depl_app1_upgrade \$depl_app1_connection \{\n\s+websocket upgrade;\n\s+default close;\n\}/);
  });

  it("ends with a newline and is the same text for the same config", () => {
    expect(site.endsWith("}\n")).toBe(true);
    expect(renderSite(structuredClone(base))).toBe(site);
  });
});

describe("request limits", () => {
  it("accepts 10MB bodies, waits 60s between reads and buffers answers unless depl.yml says otherwise", () => {
    expect(lines).toContain("client_max_body_size 10485760;");
    expect(lines).toContain("proxy_read_timeout 60s;");
    expect(lines).toContain("proxy_buffering on;");
    const custom = renderSite({ ...base, nginx: { ...base.nginx, max_body_size: 200 * 1024 ** 2, read_timeout: 300_000, buffering: false } }).split("\n").map((l) => l.trim());
    expect(custom).toContain("client_max_body_size 209715200;");
    expect(custom).toContain("proxy_read_timeout 300000ms;");
    expect(custom).toContain("proxy_buffering off;");
    expect(() => renderSite({ ...base, nginx: { ...base.nginx, max_body_size: 1.5 } })).toThrow('nginx site: invalid nginx.max_body_size 1.5: expected a positive whole number');
  });

  it("reads them from depl.yml, refusing what nginx would not take", () => {
    const c = { app: "a1", domain: "a1.localhost", run: { wsgi: "m:app" } };
    expect(validateConfig(c).nginx).toMatchObject({ max_body_size: 10 * 1024 ** 2, read_timeout: 60_000, buffering: true });
    expect(validateConfig({ ...c, nginx: { max_body_size: "1GB", read_timeout: "5m", buffering: false } }).nginx).toMatchObject({ max_body_size: 1024 ** 3, read_timeout: 300_000, buffering: false });
    expect(() => validateConfig({ ...c, nginx: { max_body_size: "lots" } })).toThrow('depl.yml: nginx.max_body_size: expected a size such as 100MB, 1GB or 512KB, got "lots"');
    expect(() => validateConfig({ ...c, nginx: { read_timeout: "2d" } })).toThrow(/nginx\.read_timeout: expected a duration/);
    expect(() => validateConfig({ ...c, nginx: { buffering: "no" } })).toThrow(/nginx\.buffering/);
  });
});

describe("renderInclude", () => {
  it("includes the site from the app's directory and goes to conf_dir/depl-<app>.conf", () => {
    expect(renderInclude(base).split("\n")).toContain("include /srv/depl/app1/nginx/site.conf;");
    expect(includePath(base)).toBe("/etc/nginx/conf.d/depl-app1.conf");
  });
});

describe("validation before rendering", () => {
  const bad: [string, Partial<SiteConfig>, RegExp][] = [
    ["domain with a space", { domain: "app1 .localhost" }, /invalid domain "app1 \.localhost"/],
    ["domain with braces", { domain: "app1.localhost{}" }, /invalid domain/],
    ["domain with a semicolon", { domain: "x.com;include" }, /invalid domain/],
    ["domain in upper case", { domain: "App1.localhost" }, /invalid domain/],
    ["one-label domain", { domain: "localhost" }, /invalid domain/],
    ["subdomain with a dot", { subdomains: ["foo.bar"] }, /invalid subdomain "foo\.bar"/],
    ["subdomain with a brace", { subdomains: ["foo}"] }, /invalid subdomain "foo}"/],
    ["subdomain starting with a hyphen", { subdomains: ["-x"] }, /invalid subdomain "-x"/],
    ["subdomain twice", { subdomains: ["foo", "foo"] }, /invalid subdomains/],
    ["app with an underscore", { app: "my_app" }, /invalid app "my_app"/],
    ["relative root", { root: "srv/depl" }, /invalid root/],
    ["root with a space", { root: "/srv/my depl" }, /invalid root/],
    ["root with ..", { root: "/srv/../etc" }, /invalid root/],
    ["root too long for a socket path", { root: "/" + "r".repeat(60) }, /too long/],
    ["port 0", { nginx: { listen: 0, conf_dir: "/etc/nginx/conf.d" } }, /invalid nginx\.listen 0/],
    ["port 70000", { nginx: { listen: 70000, conf_dir: "/etc/nginx/conf.d" } }, /invalid nginx\.listen/],
    ["fractional port", { nginx: { listen: 80.5, conf_dir: "/etc/nginx/conf.d" } }, /invalid nginx\.listen/],
    ["conf_dir with a semicolon", { nginx: { listen: 80, conf_dir: "/etc/nginx;x" } }, /invalid nginx\.conf_dir/],
  ];
  it.each(bad)("refuses a %s, naming the value", (_, change, message) => {
    const config = { ...base, ...change } as SiteConfig;
    for (const render of [renderSite, renderInclude, includePath]) {
      expect(() => render(config)).toThrow(UsageError);
      expect(() => render(config)).toThrow(message);
    }
  });
});
