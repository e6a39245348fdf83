import { posix } from "node:path";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import { isSafeAbsPath } from "../config/names.js";
import { layout } from "../naming/layout.js";
import { HTTP_LEVEL_CONF, httpLevelPath, includePath, renderInclude, renderSite, type SiteConfig, type SiteHost } from "./render.js";
import { loadTls, type TlsPlan } from "../tls/certificates.js";
import { installCertificates, pruneCertificates, siteCertificates, type SiteCertificates } from "../tls/install.js";
import { NGINX_RELOAD_MS } from "../timeouts.js";

/** How depl reaches the nginx that serves the site. The defaults mean the system's nginx. */
export interface NginxControl {
  bin: string;
  /** Global options that name the running instance, e.g. ["-p", prefix, "-c", conf]; [] for the system's. */
  instanceArgs: readonly string[];
  /** The running master's pid file, as that instance's config names it. */
  pidFile: string;
  /** "auto": `systemctl reload nginx` when systemd runs and the system's nginx is meant, else `nginx -s reload`. */
  reload: "auto" | "systemd" | "signal";
  /** How long the master may take to start workers with the new config. */
  reloadTimeoutMs: number;
}

export const DEFAULT_NGINX_CONTROL: NginxControl = {
  bin: "nginx",
  instanceArgs: [],
  pidFile: "/run/nginx.pid",
  reload: "auto",
  reloadTimeoutMs: NGINX_RELOAD_MS,
};

export interface NginxFile {
  path: string;
  text: string;
}

/**
 * site: included at http level, so it can be tested alone; include: the file in nginx's conf.d;
 * http: the http-level settings that all depl apps share (the same text from every app).
 */
export interface SiteFiles {
  site: NginxFile;
  include: NginxFile;
  http: NginxFile;
}

export interface ApplyResult {
  /** false when both files already had this text (nothing was tested or reloaded). */
  changed: boolean;
  /** false when nginx was not running: the tested files stay and take effect when it starts. */
  reloaded: boolean;
}

export function siteFiles(config: SiteConfig, siteHost?: SiteHost, certs?: SiteCertificates): SiteFiles {
  const l = layout(config.root, config.app);
  return {
    site: { path: l.siteConf, text: renderSite(config, siteHost, certs) },
    include: { path: includePath(config), text: renderInclude(config) },
    http: { path: httpLevelPath(config), text: HTTP_LEVEL_CONF },
  };
}

/** IPv6 is up when the kernel lists an address (::1 on lo at least); no file or an empty one: IPv4 only. */
export async function detectSiteHost(host: Host): Promise<SiteHost> {
  const inet6 = await host.readFile("/proc/net/if_inet6").catch(() => null);
  return { ipv6: inet6 !== null && inet6.trim() !== "" };
}

/** Renders the app's site and puts it into nginx: see applySiteFiles. */
export async function applySite(host: Host, config: SiteConfig, opts: Partial<NginxControl> = {}): Promise<ApplyResult> {
  const l = layout(config.root, config.app);
  // Certificates are read and checked before anything is written on any host.
  const { plan, files } = await planSite(host, config);
  if (!(await host.exists(config.nginx.conf_dir))) {
    throw new DeplError(`${host.name}: ${config.nginx.conf_dir} (nginx.conf_dir) does not exist: is nginx installed? (depl setup installs it)`);
  }
  await host.mkdirp(l.nginxDir);
  await host.mkdirp(l.logDir);
  if (plan) await installCertificates(host, l, plan);
  const r = await applySiteFiles(host, files, opts);
  // Only what the loaded site names stays (nothing once tls: is gone from depl.yml).
  if (r.changed) await pruneCertificates(host, l, plan?.certificates ?? []);
  return r;
}

/** The site with its certificate files (read on this machine), as applySite would write it: for comparing. */
export async function expectedSiteFiles(host: Host, config: SiteConfig): Promise<SiteFiles> {
  return (await planSite(host, config)).files;
}

async function planSite(host: Host, config: SiteConfig): Promise<{ plan: TlsPlan | undefined; files: SiteFiles }> {
  const plan = config.tls ? loadTls(config.tls, config.domain, config.subdomains) : undefined;
  return { plan, files: siteFiles(config, await detectSiteHost(host), plan && siteCertificates(layout(config.root, config.app), plan)) };
}

/**
 * Tests the site alone, puts both files in place (atomic writes), tests the
 * whole config and reloads. On any failure the previous files come back and
 * the running config is untouched; the DeplError carries nginx's message.
 */
export async function applySiteFiles(host: Host, files: SiteFiles, opts: Partial<NginxControl> = {}): Promise<ApplyResult> {
  const ctl = { ...DEFAULT_NGINX_CONTROL, ...opts };
  const oldSite = await host.readFile(files.site.path);
  const oldInclude = await host.readFile(files.include.path);
  const oldHttp = await host.readFile(files.http.path);
  if (oldSite === files.site.text && oldInclude === files.include.text && oldHttp === files.http.text) {
    return { changed: false, reloaded: false };
  }

  await testAlone(host, files, ctl);

  const restore = async () => {
    await putBack(host, files.include.path, oldInclude);
    await putBack(host, files.site.path, oldSite);
    await putBack(host, files.http.path, oldHttp);
  };
  try {
    await host.writeFile(files.http.path, files.http.text, { mode: 0o644 });
    await host.writeFile(files.site.path, files.site.text, { mode: 0o644 });
    await host.writeFile(files.include.path, files.include.text, { mode: 0o644 });
    const test = await host.run([ctl.bin, ...ctl.instanceArgs, "-t"], { allowFailure: true });
    if (test.code !== 0) {
      throw new DeplError(`${host.name}: nginx -t failed with the new site ${files.site.path}: ${nginxMessage(test.stderr)}`);
    }
    return { changed: true, reloaded: await reload(host, ctl) };
  } catch (err) {
    await restore();
    throw err;
  }
}

/** `nginx -t` of a main config that holds nothing but the candidate site (and depl's http-level file). */
async function testAlone(host: Host, files: SiteFiles, ctl: NginxControl): Promise<void> {
  const dir = (await host.run(["mktemp", "-d", "/tmp/depl-nginx-XXXXXXXX"])).stdout.trim();
  if (!isSafeAbsPath(dir)) throw new DeplError(`${host.name}: mktemp gave an unusable directory name ${JSON.stringify(dir)}`);
  try {
    const conf = posix.join(dir, "nginx.conf");
    await host.writeFile(posix.join(dir, "http.conf"), files.http.text);
    await host.writeFile(posix.join(dir, "site.conf"), files.site.text);
    await host.writeFile(conf, testConf(dir));
    const test = await host.run([ctl.bin, "-t", "-p", `${dir}/`, "-c", conf], { allowFailure: true });
    if (test.code !== 0) throw new DeplError(`${host.name}: nginx rejects the new site: ${nginxMessage(test.stderr)}`);
  } finally {
    await host.remove(dir);
  }
}

function testConf(dir: string): string {
  return [
    `pid ${dir}/nginx.pid;`,
    `error_log stderr;`,
    `events {}`,
    `http {`,
    `    include ${dir}/http.conf;`,
    `    include ${dir}/site.conf;`,
    `}`,
    ``,
  ].join("\n");
}

/**
 * `nginx -s reload` (and systemctl's reload, which runs it) only sends a signal:
 * a config the master cannot load (a port in use, say) is reported in its error
 * log alone. So success is a new worker process under the same master.
 * Returns false when no nginx runs (the reload command finds no master).
 */
async function reload(host: Host, ctl: NginxControl): Promise<boolean> {
  const master = await masterPid(host, ctl.pidFile);
  const before = master === null ? null : await workers(host, master);
  const systemd =
    ctl.reload === "systemd" ||
    (ctl.reload === "auto" && ctl.instanceArgs.length === 0 && (await host.exists("/run/systemd/system")));
  const argv = systemd ? ["systemctl", "reload", "nginx"] : [ctl.bin, ...ctl.instanceArgs, "-s", "reload"];
  const res = await host.run(argv, { allowFailure: true });
  if (res.code !== 0) {
    if (master === null) return false;
    throw new DeplError(`${host.name}: \`${argv.join(" ")}\` failed: ${nginxMessage(res.stderr || res.stdout)}`);
  }
  // Without the master's pid or a kernel that lists children, the signal is all we can check.
  if (master === null || before === null) return true;
  const deadline = Date.now() + ctl.reloadTimeoutMs;
  for (;;) {
    const now = await workers(host, master);
    if (now === null) throw new DeplError(`${host.name}: nginx's master process (pid ${master}) went away during the reload`);
    const loaded = now.some((pid) => !before.includes(pid));
    // Old workers take new connections until they close their listeners, which is when they retitle themselves.
    if (loaded && (await allShuttingDown(host, before.filter((pid) => now.includes(pid))))) return true;
    if (Date.now() > deadline) {
      if (loaded) return true;
      throw new DeplError(
        `${host.name}: nginx did not load the new config within ${ctl.reloadTimeoutMs} ms and keeps running the old one; ` +
          `its error log says why (often a listen port that another process holds)`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function allShuttingDown(host: Host, pids: number[]): Promise<boolean> {
  for (const pid of pids) {
    const title = await readProc(host, `/proc/${pid}/cmdline`);
    if (title !== null && !title.includes("shutting down")) return false;
  }
  return true;
}

async function masterPid(host: Host, pidFile: string): Promise<number | null> {
  const text = await host.readFile(pidFile);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return (await host.exists(`/proc/${pid}`)) ? pid : null;
}

/** The master's child processes, or null when /proc does not list them. */
async function workers(host: Host, master: number): Promise<number[] | null> {
  const text = await readProc(host, `/proc/${master}/task/${master}/children`);
  return text === null ? null : text.trim().split(/\s+/).filter(Boolean).map(Number);
}

/**
 * A /proc file, or null once its process is gone: a worker can exit between
 * being listed and being read, and then the read fails (ESRCH), not the open.
 */
async function readProc(host: Host, path: string): Promise<string | null> {
  try {
    return await host.readFile(path);
  } catch {
    return null;
  }
}

async function putBack(host: Host, path: string, old: string | null): Promise<void> {
  if (old === null) await host.remove(path);
  else await host.writeFile(path, old, { mode: 0o644 });
}

/** nginx's own complaint: its [emerg]/[alert]/[crit] lines, else its last lines. */
export function nginxMessage(stderr: string): string {
  const lines = stderr.split("\n").map((s) => s.trim()).filter(Boolean);
  const bad = lines.filter((s) => /\[(emerg|alert|crit|error)\]/.test(s));
  const picked = bad.length ? bad : lines.slice(-3);
  return picked.map((s) => s.replace(/^nginx: /, "").replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "")).join(" | ") || "(no message)";
}
