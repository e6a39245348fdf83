import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.js";
import { assignCertificates, expiryText, neededNames, parseCertificate, type Certificate } from "../../src/tls/certificates.js";
import { certificateNames, opensslDate } from "../../src/tls/self-signed.js";
import { hostFiles, siteCertificates } from "../../src/tls/install.js";
import { renderSite, type SiteConfig } from "../../src/nginx/render.js";
import { layout } from "../../src/naming/layout.js";
import { versionLabel } from "../../src/naming/version.js";
import { siteUrl } from "../../src/commands/context.js";

const dir = new URL("../fixtures/tls/", import.meta.url);
const pem = (n: string) => readFileSync(new URL(n, dir), "utf8");
const NOW = new Date("2025-06-01T00:00:00Z");
const cert = (n: string, now = NOW, key = n): Certificate => parseCertificate(`/etc/tls/${n}.crt`, `/etc/tls/${key}.key`, pem(`${n}.crt`), pem(`${key}.key`), now);
const DOMAIN = "app1.example.test";

describe("certificates", () => {
  it("reads names, dates and a content id", () => {
    const c = cert("all");
    expect(c.names).toEqual([DOMAIN, `*.${DOMAIN}`, `*.foo.${DOMAIN}`]);
    expect(c.notBefore.toISOString()).toBe("2020-01-01T00:00:00.000Z");
    expect(c.notAfter.toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(c.id).toMatch(/^[0-9a-f]{16}$/);
    expect(cert("apex").id).not.toBe(c.id);
  });

  it("refuses, naming the file: expired, not yet valid, the wrong key, not PEM", () => {
    expect(() => cert("all", new Date("2031-01-01"))).toThrow("tls: /etc/tls/all.crt: expired on 2030-01-01");
    expect(() => cert("all", new Date("2019-01-01"))).toThrow("tls: /etc/tls/all.crt: not valid yet (from 2020-01-01)");
    expect(() => cert("all", NOW, "apex")).toThrow("tls: /etc/tls/apex.key is not the private key of /etc/tls/all.crt");
    expect(() => parseCertificate("/a.crt", "/a.key", "hello", pem("all.key"), NOW)).toThrow("tls: /a.crt: not a PEM certificate");
    expect(() => parseCertificate("/a.crt", "/a.key", pem("all.crt"), "nope", NOW)).toThrow("tls: /a.key: not a PEM private key");
  });

  it("needs the domain, each subdomain, and a wildcard for the previews of each", () => {
    expect(neededNames(DOMAIN, ["foo"]).map((n) => n.name)).toEqual([DOMAIN, `foo.${DOMAIN}`, `*.${DOMAIN}`, `*.foo.${DOMAIN}`]);
    expect(certificateNames(DOMAIN, ["foo"])).toEqual([DOMAIN, `*.${DOMAIN}`, `*.foo.${DOMAIN}`]);
  });

  it("assigns each name the first certificate that covers it; a wildcard covers one label only", () => {
    const one = assignCertificates(neededNames(DOMAIN, ["foo"]), [cert("all")]);
    expect([...one.byName.values()]).toEqual([0, 0, 0, 0]);
    const three = assignCertificates(neededNames(DOMAIN, ["foo"]), [cert("apex"), cert("wild"), cert("foo-wild")]);
    expect(Object.fromEntries(three.byName)).toEqual({ [DOMAIN]: 0, [`foo.${DOMAIN}`]: 1, [`*.${DOMAIN}`]: 1, [`*.foo.${DOMAIN}`]: 2 });
    // *.app1.example.test does not cover x.foo.app1.example.test.
    expect(() => assignCertificates(neededNames(DOMAIN, ["foo"]), [cert("apex"), cert("wild")])).toThrow(
      `tls: no certificate covers *.foo.${DOMAIN} (previews of foo.${DOMAIN}); tls.certificates name ${DOMAIN}, *.${DOMAIN}`,
    );
    expect(() => assignCertificates(neededNames(DOMAIN, []), [cert("wild")])).toThrow(`no certificate covers ${DOMAIN} (the live site)`);
  });

  it("refuses a certificate that serves none of the app's names", () => {
    expect(() => assignCertificates(neededNames(DOMAIN, []), [cert("all"), cert("other")])).toThrow(
      "tls: /etc/tls/other.crt covers none of this app's names (it names other.example.test;",
    );
    expect(() => assignCertificates(neededNames(DOMAIN, []), [cert("all"), cert("apex")])).toThrow("tls: /etc/tls/apex.crt is not needed");
  });

  it("tells the expiry in days", () => {
    expect(expiryText(new Date("2025-07-01T00:00:00Z"), NOW)).toBe("expires 2025-07-01 (in 30 days)");
    expect(expiryText(new Date("2025-05-01T00:00:00Z"), NOW)).toBe("EXPIRED on 2025-05-01 (31 days ago)");
    expect(opensslDate(new Date("2020-01-02T03:04:05.678Z"))).toBe("20200102030405Z");
  });

  it("puts certificates on a host by content, keys beside them", () => {
    const l = layout("/srv/depl", "app1");
    const plan = assignCertificates(neededNames(DOMAIN, []), [cert("all")]);
    const f = hostFiles(l, plan.certificates[0]!);
    expect(f).toEqual({ cert: `/srv/depl/app1/nginx/tls/${plan.certificates[0]!.id}.crt`, key: `/srv/depl/app1/nginx/tls/${plan.certificates[0]!.id}.key` });
    expect(siteCertificates(l, plan)).toEqual({ [DOMAIN]: f, [`*.${DOMAIN}`]: f });
  });
});

describe("HTTPS site", () => {
  const f = (n: string) => ({ cert: `/srv/t/${n}.crt`, key: `/srv/t/${n}.key` });
  const tls = { port: 443, redirect: true, http2: true, certificates: [{ cert: "/x", key: "/y" }] };
  const base: SiteConfig = { app: "app1", domain: DOMAIN, subdomains: ["foo"], root: "/srv/depl", nginx: { listen: 80, conf_dir: "/etc/nginx/conf.d" }, tls };
  const certs = { [DOMAIN]: f("apex"), [`foo.${DOMAIN}`]: f("wild"), [`*.${DOMAIN}`]: f("wild"), [`*.foo.${DOMAIN}`]: f("foo") };
  const blocks = (text: string) => text.split("\nserver {\n").slice(1).map((b) => b.slice(0, b.indexOf("\n}\n")));

  it("redirects plain HTTP, and serves every route over HTTPS with HTTP/2, a block per certificate", () => {
    const site = renderSite(base, { ipv6: true }, certs);
    const b = blocks(site);
    expect(b[0]).toContain("listen 80;\n    listen [::]:80;");
    expect(b[0]).toContain("return 308 https://$depl_app1_https_host$request_uri;");
    expect(b[0]).toContain('server_name "~(?:^|[.])app1[.]example[.]test$";');
    expect(b.slice(1).every((x) => x.includes("listen 443 ssl http2;\n    listen [::]:443 ssl http2;"))).toBe(true);
    const served = b.slice(1).map((x) => [/server_name "([^"]+)"/.exec(x)![1], /ssl_certificate (\S+);/.exec(x)![1]]);
    expect(served).toEqual([
      ["~^(?:app1[.]example[.]test)$", "/srv/t/apex.crt"],
      ["~^(?:foo[.]app1[.]example[.]test)$", "/srv/t/wild.crt"],
      [expect.stringContaining("[.](?<depl_preview_host>(?:app1[.]example[.]test))$"), "/srv/t/wild.crt"],
      [expect.stringContaining("[.](?<depl_preview_host>(?:foo[.]app1[.]example[.]test))$"), "/srv/t/foo.crt"],
      ["~[.]app1[.]example[.]test$", "/srv/t/wild.crt"],
    ]);
    expect(site).toContain('on "; Secure";');
    expect(site).toContain('on "https://app1.example.test/";');
  });

  it("without the redirect serves both; other ports keep their numbers; HTTP/2 can be off", () => {
    const site = renderSite({ ...base, tls: { ...tls, redirect: false, http2: false, port: 8443 } }, { ipv6: false }, certs);
    const b = blocks(site);
    expect(b.filter((x) => x.includes("listen 80;"))).toHaveLength(3);
    expect(b.filter((x) => x.includes("listen 8443 ssl;"))).toHaveLength(5);
    expect(site).not.toContain("return 308");
    expect(site).toContain('on "https://app1.example.test:8443/";');
  });

  it("reads a dashed timestamp preview as its version", () => {
    const site = renderSite({ ...base, tls: undefined }, { ipv6: false });
    const preview = new RegExp(/server_name "~(\^\(\?!.*depl_preview_host.*)";/.exec(site)![1]!);
    expect(preview.exec(`2026-11-21-22-56.${DOMAIN}`)?.groups).toEqual({ depl_preview_label: "2026-11-21-22-56", depl_preview_host: DOMAIN });
    expect(preview.exec(`2026-11-21-22-56-2.foo.${DOMAIN}`)?.groups?.depl_preview_label).toBe("2026-11-21-22-56-2");
    expect(site).toContain('"~^([0-9]{4})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})(-[0-9]{1,3})?$" "$1.$2.$3.$4.$5$6";');
    expect(versionLabel("2026.11.21.22.56-2")).toBe("2026-11-21-22-56-2");
    expect(versionLabel("feature-x")).toBe("feature-x");
  });

  it("prints HTTPS URLs with the one-label preview", () => {
    expect(siteUrl({ domain: DOMAIN, nginx: { listen: 80 }, tls: { port: 443 } }, "2026.11.21.22.56")).toBe(`https://2026-11-21-22-56.${DOMAIN}/`);
    expect(siteUrl({ domain: DOMAIN, nginx: { listen: 80 }, tls: { port: 8443 } })).toBe(`https://${DOMAIN}:8443/`);
    expect(siteUrl({ domain: DOMAIN, nginx: { listen: 80 } }, "2026.11.21.22.56")).toBe(`http://2026.11.21.22.56.${DOMAIN}/`);
  });

  it("refuses a site without its certificate files, and a tls.port that is nginx.listen", () => {
    expect(() => renderSite(base, { ipv6: false })).toThrow("tls is configured but no certificate files were given");
    expect(() => renderSite(base, { ipv6: false }, { ...certs, [`*.foo.${DOMAIN}`]: { cert: "/a b", key: "/k" } })).toThrow("no usable certificate files for *.foo.");
    const cfg = { app: "app1", domain: DOMAIN, hosts: ["local"], run: { wsgi: "a:b" } };
    expect(() => validateConfig({ ...cfg, tls: { certificates: [{ cert: "a", key: "b" }], port: 80 } })).toThrow("tls.port: is nginx.listen (80) too");
    expect(() => validateConfig({ ...cfg, tls: { certificates: [] } })).toThrow("tls.certificates: list at least one");
    expect(() => validateConfig({ ...cfg, tls: { certificates: [{ cert: "a" }] } })).toThrow("tls.certificates.0.key: is required");
  });
});
