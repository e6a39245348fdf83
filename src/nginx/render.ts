import { readFileSync } from "node:fs";
import { posix } from "node:path";
import Handlebars from "handlebars";
import type { Config } from "../config/schema.js";
import { APP_NAME, DNS_LABEL, DOMAIN, isSafeAbsPath } from "../config/names.js";
import { UsageError } from "../errors.js";
import { layout } from "../naming/layout.js";
import { BUCKET_COUNT, bucketName } from "../switch/plan.js";
import type { SiteCertificates } from "../tls/install.js";

/** The parts of the config that the nginx site depends on. */
export type SiteConfig = Pick<Config, "app" | "domain" | "subdomains" | "root"> & {
  nginx: Pick<Config["nginx"], "listen" | "conf_dir"> & Partial<Pick<Config["nginx"], "max_body_size" | "read_timeout" | "buffering">>;
  static?: Pick<NonNullable<Config["static"]>, "url"> | undefined;
  tls?: Pick<NonNullable<Config["tls"]>, "port" | "redirect" | "http2" | "certificates"> | undefined;
};

/** What the site depends on about the host nginx runs on, not about the app. */
export interface SiteHost {
  /** Listen on [::] too: browsers try ::1 first for *.localhost and names with AAAA records. */
  ipv6: boolean;
}

/** Named defaults of the rendered site. */
export const BUCKET_COOKIE_MAX_AGE = 31_536_000; // one year, in seconds
export const PROXY_TIMEOUTS = { connect: "5s", send: "60s", read: "60s" } as const;
/** nginx.max_body_size's default: nginx's own 1MB refuses most uploads. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Static files whose names carry a content hash never change: a year (RFC 9111's customary maximum). */
export const STATIC_HASHED_MAX_AGE = 31_536_000;
/**
 * Directives that nginx allows once at http level, so one file for all depl apps:
 * each app's maps and captures add variables, and from a few apps on nginx's
 * default variables_hash_max_size (1024) warns on every -t and reload.
 */
export const HTTP_LEVEL_CONF = `# depl: http-level settings shared by every depl app. Rendered by depl: edits are overwritten.
variables_hash_max_size 4096;
variables_hash_bucket_size 128;
`;

/** Version names as nginx matches them (same shapes as src/naming/version.ts, without date checks). */
const TIMESTAMP_RE = "[0-9]{4}[.][0-9]{2}[.][0-9]{2}[.][0-9]{2}[.][0-9]{2}(?:-[0-9]{1,3})?";
/** The same with dashes (2026-11-21-22-56): one DNS label, which a wildcard certificate covers. */
const DASHED_TIMESTAMP_RE = "[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}(?:-[0-9]{1,3})?";
const BRANCH_RE = "[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?";
/** The longest version name (a branch label), for the socket path limit. */
const LONGEST_VERSION = "a".repeat(40);
/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** templates/ sits at the package root, two levels above both src/nginx and dist/nginx. */
const TEMPLATE_DIR = new URL("../../templates/nginx/", import.meta.url);

type Template = (context: object) => string;
let compiled: { site: Template; include: Template } | undefined;
const STATIC_URL = /^\/(?:[A-Za-z0-9_.-]+\/)+$/;

/** Compiled on first use (no file is read at import time). noEscape: HTML escaping means nothing to nginx. */
function templates(): { site: Template; include: Template } {
  if (compiled) return compiled;
  const read = (name: string) => readFileSync(new URL(name, TEMPLATE_DIR), "utf8");
  const hbs = Handlebars.create();
  hbs.registerPartial("proxy", read("proxy.hbs"));
  for (const name of ["live", "preview", "other"]) hbs.registerPartial(name, read(`${name}.hbs`));
  hbs.registerPartial("notfound", read("notfound.hbs"));
  hbs.registerPartial("staticHeaders", read("static.hbs"));
  const opts = { noEscape: true, strict: true };
  compiled = { site: hbs.compile(read("site.conf.hbs"), opts), include: hbs.compile(read("include.conf.hbs"), opts) };
  return compiled;
}

interface Server {
  listens: string[];
  serverName: string;
  ssl?: { cert: string; key: string };
  live?: true;
  preview?: true;
  other?: true;
  redirect?: true;
}

/** The app's server blocks, maps and log format, included at nginx's http level. */
export function renderSite(config: SiteConfig, siteHost: SiteHost = { ipv6: false }, certs?: SiteCertificates): string {
  const c = checkSiteConfig(config);
  if (c.tls && !certs) throw new UsageError("nginx site: tls is configured but no certificate files were given");
  const l = layout(c.root, c.app);
  const domainRe = escapeDots(c.domain);
  const subs = c.subdomains.map(escapeDots).join("|");
  // <domain> or <sub>.<domain>: the live site's names, and what a preview name ends with.
  const hostRe = subs ? `(?:(?:${subs})[.])?${domainRe}` : domainRe;
  // A version label is never one of the app's subdomains (foo.<domain> is the live site).
  const notSub = subs ? `(?!(?:${subs})[.])` : "";
  const label = `(?<depl_preview_label>${TIMESTAMP_RE}|${DASHED_TIMESTAMP_RE}|${BRANCH_RE})`;
  const previewRegex = (hosts: string) => `~^${notSub}${label}[.](?<depl_preview_host>${hosts})$`;
  const anyOf = (names: string[]) => `(?:${names.map(escapeDots).join("|")})`;
  const listens = (port: number, extra: string) => [`${port}${extra}`, ...(siteHost.ipv6 ? [`[::]:${port}${extra}`] : [])];
  const http = listens(c.nginx.listen, "");
  const servers: Server[] = [];
  if (!c.tls || !c.tls.redirect) {
    servers.push({ listens: http, serverName: `~^${hostRe}$`, live: true });
    servers.push({ listens: http, serverName: previewRegex(hostRe), preview: true });
    servers.push({ listens: http, serverName: `~[.]${domainRe}$`, other: true });
  } else {
    servers.push({ listens: http, serverName: `~(?:^|[.])${domainRe}$`, redirect: true });
  }
  if (c.tls) {
    const https = listens(c.tls.port, c.tls.http2 ? " ssl http2" : " ssl");
    const names = [c.domain, ...c.subdomains.map((s) => `${s}.${c.domain}`)];
    const fileOf = (name: string) => {
      const f = certs![name];
      if (!f || !isSafeAbsPath(f.cert) || !isSafeAbsPath(f.key)) throw new UsageError(`nginx site: no usable certificate files for ${name}`);
      return f;
    };
    // One block per certificate: nginx picks the block, and so the certificate, by the name the client asks for (SNI).
    for (const group of groupBy(names, (n) => fileOf(n))) servers.push({ listens: https, serverName: `~^${anyOf(group.names)}$`, ssl: group.key, live: true });
    for (const group of groupBy(names, (n) => fileOf(`*.${n}`))) {
      servers.push({ listens: https, serverName: previewRegex(anyOf(group.names)), ssl: group.key, preview: true });
    }
    servers.push({ listens: https, serverName: `~[.]${domainRe}$`, ssl: fileOf(`*.${c.domain}`), other: true });
  }
  const portSuffix = (port: number, standard: number) => (port === standard ? "" : `:${port}`);
  return templates().site({
    app: c.app,
    id: c.app.replace(/-/g, "_"),
    domain: c.domain,
    servers,
    homeHttp: `http://${c.domain}${portSuffix(c.nginx.listen, 80)}/`,
    homeHttps: c.tls ? `https://${c.domain}${portSuffix(c.tls.port, 443)}/` : `https://${c.domain}/`,
    tlsPortSuffix: c.tls ? portSuffix(c.tls.port, 443) : "",
    static: c.static !== undefined,
    staticUrl: c.static ? escapeDots(c.static.url) : "",
    staticMaxAge: STATIC_HASHED_MAX_AGE,
    base: l.base,
    traffic: l.traffic,
    accessLog: l.accessLog,
    // split_clients: 1% per bucket, the last one takes what rounding leaves.
    buckets: Array.from({ length: BUCKET_COUNT - 1 }, (_, i) => bucketName(i)),
    lastBucket: bucketName(BUCKET_COUNT - 1),
    allBuckets: Array.from({ length: BUCKET_COUNT }, (_, i) => bucketName(i)),
    cookieMaxAge: BUCKET_COOKIE_MAX_AGE,
    versionMapRegex: `~^(?:${TIMESTAMP_RE}|${BRANCH_RE})$`,
    timeouts: { ...PROXY_TIMEOUTS, read: config.nginx.read_timeout === undefined ? PROXY_TIMEOUTS.read : `${config.nginx.read_timeout}ms` },
    maxBodyBytes: config.nginx.max_body_size ?? DEFAULT_MAX_BODY_BYTES,
    buffering: config.nginx.buffering === false ? "off" : "on",
  });
}

/** The per-app file in nginx's conf.d that pulls the site in. */
export function renderInclude(config: SiteConfig): string {
  const c = checkSiteConfig(config);
  return templates().include({ app: c.app, domain: c.domain, siteConf: layout(c.root, c.app).siteConf });
}

/** Where HTTP_LEVEL_CONF goes: <nginx.conf_dir>/depl.conf (no app is named "", so no app's include has that name). */
export function httpLevelPath(config: SiteConfig): string {
  return posix.join(checkSiteConfig(config).nginx.conf_dir, "depl.conf");
}

/** Where renderInclude's text goes: <nginx.conf_dir>/depl-<app>.conf. */
export function includePath(config: SiteConfig): string {
  const c = checkSiteConfig(config);
  return posix.join(c.nginx.conf_dir, `depl-${c.app}.conf`);
}

/**
 * Validates again every value that reaches the config: handlebars escapes HTML,
 * not nginx syntax, and a caller may not have gone through the config schema.
 */
export function checkSiteConfig(config: SiteConfig): SiteConfig {
  const { app, domain, subdomains, root, nginx } = config;
  const bad = (what: string, value: unknown, expected: string) =>
    new UsageError(`nginx site: invalid ${what} ${JSON.stringify(value)}: expected ${expected}`);
  if (typeof app !== "string" || !APP_NAME.test(app)) throw bad("app", app, "2-32 lower-case letters, digits or hyphens");
  if (typeof domain !== "string" || !DOMAIN.test(domain)) throw bad("domain", domain, "a lower-case domain such as app1.example.com");
  if (!Array.isArray(subdomains)) throw bad("subdomains", subdomains, "a list of DNS labels");
  for (const s of subdomains) {
    if (typeof s !== "string" || !DNS_LABEL.test(s)) throw bad("subdomain", s, "a DNS label (a-z, 0-9, inner hyphens)");
  }
  if (new Set(subdomains).size !== subdomains.length) throw bad("subdomains", subdomains, "no name twice");
  if (typeof root !== "string" || !isSafeAbsPath(root)) throw bad("root", root, "an absolute path of letters, digits and ._@+-");
  if (!Number.isInteger(nginx?.listen) || nginx.listen < 1 || nginx.listen > 65535) {
    throw bad("nginx.listen", nginx?.listen, "a port number 1-65535");
  }
  for (const k of ["max_body_size", "read_timeout"] as const) {
    const v = nginx[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw bad(`nginx.${k}`, v, "a positive whole number");
  }
  if (nginx.buffering !== undefined && typeof nginx.buffering !== "boolean") throw bad("nginx.buffering", nginx.buffering, "true or false");
  const tls = config.tls;
  if (tls !== undefined) {
    if (!Number.isInteger(tls.port) || tls.port < 1 || tls.port > 65535 || tls.port === nginx.listen) {
      throw bad("tls.port", tls.port, "a port number 1-65535 other than nginx.listen");
    }
    if (typeof tls.redirect !== "boolean") throw bad("tls.redirect", tls.redirect, "true or false");
    if (typeof tls.http2 !== "boolean") throw bad("tls.http2", tls.http2, "true or false");
  }
  if (typeof nginx.conf_dir !== "string" || !isSafeAbsPath(nginx.conf_dir)) {
    throw bad("nginx.conf_dir", nginx.conf_dir, "an absolute path of letters, digits and ._@+-");
  }
  if (config.static !== undefined && (typeof config.static?.url !== "string" || !STATIC_URL.test(config.static.url))) {
    throw bad("static.url", config.static?.url, "a URL path that starts and ends with /, such as /static/");
  }
  const longest = layout(root, app).versionLink(LONGEST_VERSION);
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new UsageError(
      `nginx site: root ${JSON.stringify(root)} is too long: socket paths such as ${longest} must stay within ${MAX_SOCKET_PATH} bytes`,
    );
  }
  return config;
}

/** Names grouped by the certificate files that serve them, in first-seen order. Pure. */
function groupBy(names: string[], files: (name: string) => { cert: string; key: string }): { key: { cert: string; key: string }; names: string[] }[] {
  const groups = new Map<string, { key: { cert: string; key: string }; names: string[] }>();
  for (const n of names) {
    const f = files(n);
    const k = `${f.cert}\0${f.key}`;
    if (!groups.has(k)) groups.set(k, { key: f, names: [] });
    groups.get(k)!.names.push(n);
  }
  return [...groups.values()];
}

/** [.] rather than \\. : nginx's quoted strings treat some backslash pairs as escapes. */
function escapeDots(name: string): string {
  return name.replace(/\./g, "[.]");
}
