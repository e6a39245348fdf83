import { readFileSync } from "node:fs";
import { posix } from "node:path";
import Handlebars from "handlebars";
import type { Config } from "../config/schema.js";
import { APP_NAME, DNS_LABEL, DOMAIN, isSafeAbsPath } from "../config/names.js";
import { UsageError } from "../errors.js";
import { layout } from "../release/layout.js";
import { BUCKET_COUNT, bucketName } from "../switch/plan.js";

/** The parts of the config that the nginx site depends on. */
export type SiteConfig = Pick<Config, "app" | "domain" | "subdomains" | "root"> & {
  nginx: Pick<Config["nginx"], "listen" | "conf_dir">;
};

/** Named defaults of the rendered site. */
export const BUCKET_COOKIE_MAX_AGE = 31_536_000; // one year, in seconds
export const PROXY_TIMEOUTS = { connect: "5s", send: "60s", read: "60s" } as const;

/** Version names as nginx matches them (same shapes as src/release/version.ts, without date checks). */
const TIMESTAMP_RE = "[0-9]{4}[.][0-9]{2}[.][0-9]{2}[.][0-9]{2}[.][0-9]{2}(?:-[0-9]{1,3})?";
const BRANCH_RE = "[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?";
/** The longest version name (a branch label), for the socket path limit. */
const LONGEST_VERSION = "a".repeat(40);
/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** templates/ sits at the package root, two levels above both src/nginx and dist/nginx. */
const TEMPLATE_DIR = new URL("../../templates/nginx/", import.meta.url);

type Template = (context: object) => string;
let compiled: { site: Template; include: Template } | undefined;

/** Compiled on first use (no file is read at import time). noEscape: HTML escaping means nothing to nginx. */
function templates(): { site: Template; include: Template } {
  if (compiled) return compiled;
  const read = (name: string) => readFileSync(new URL(name, TEMPLATE_DIR), "utf8");
  const hbs = Handlebars.create();
  hbs.registerPartial("proxy", read("proxy.hbs"));
  const opts = { noEscape: true, strict: true };
  compiled = { site: hbs.compile(read("site.conf.hbs"), opts), include: hbs.compile(read("include.conf.hbs"), opts) };
  return compiled;
}

/** The app's server blocks, maps and log format, included at nginx's http level. */
export function renderSite(config: SiteConfig): string {
  const c = checkSiteConfig(config);
  const l = layout(c.root, c.app);
  const domainRe = escapeDots(c.domain);
  const subs = c.subdomains.map(escapeDots).join("|");
  // <domain> or <sub>.<domain>: the live site's names, and what a preview name ends with.
  const hostRe = subs ? `(?:(?:${subs})[.])?${domainRe}` : domainRe;
  // A version label is never one of the app's subdomains (foo.<domain> is the live site).
  const notSub = subs ? `(?!(?:${subs})[.])` : "";
  return templates().site({
    app: c.app,
    id: c.app.replace(/-/g, "_"),
    domain: c.domain,
    listen: c.nginx.listen,
    liveRegex: `~^${hostRe}$`,
    traffic: l.traffic,
    accessLog: l.accessLog,
    // split_clients: 1% per bucket, the last one takes what rounding leaves.
    buckets: Array.from({ length: BUCKET_COUNT - 1 }, (_, i) => bucketName(i)),
    lastBucket: bucketName(BUCKET_COUNT - 1),
    cookieMaxAge: BUCKET_COOKIE_MAX_AGE,
    versionMapRegex: `~^(?:${TIMESTAMP_RE}|${BRANCH_RE})$`,
    previewRegex: `~^${notSub}(?<depl_preview_version>${TIMESTAMP_RE}|${BRANCH_RE})[.](?<depl_preview_host>${hostRe})$`,
    otherRegex: `~[.]${domainRe}$`,
    timeouts: PROXY_TIMEOUTS,
  });
}

/** The per-app file in nginx's conf.d that pulls the site in. */
export function renderInclude(config: SiteConfig): string {
  const c = checkSiteConfig(config);
  return templates().include({ app: c.app, domain: c.domain, siteConf: layout(c.root, c.app).siteConf });
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
  if (typeof nginx.conf_dir !== "string" || !isSafeAbsPath(nginx.conf_dir)) {
    throw bad("nginx.conf_dir", nginx.conf_dir, "an absolute path of letters, digits and ._@+-");
  }
  const longest = layout(root, app).versionLink(LONGEST_VERSION);
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new UsageError(
      `nginx site: root ${JSON.stringify(root)} is too long: socket paths such as ${longest} must stay within ${MAX_SOCKET_PATH} bytes`,
    );
  }
  return config;
}

/** [.] rather than \\. : nginx's quoted strings treat some backslash pairs as escapes. */
function escapeDots(name: string): string {
  return name.replace(/\./g, "[.]");
}
