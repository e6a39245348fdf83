import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteConfig } from "../../src/nginx/render.js";
import { applySite, type NginxControl } from "../../src/nginx/apply.js";
import { LocalHost } from "../../src/host/local.js";
import { layout, type Layout } from "../../src/naming/layout.js";
import {
  ensureTrafficDirs,
  readTraffic,
  routeVersion,
  setCanary,
  setLive,
  stopCanary,
  unrouteVersion,
} from "../../src/switch/traffic.js";

// A private nginx (its own prefix, port and pid file; the system's nginx is
// never touched) in front of two tiny apps on unix sockets, as depl lays them out.
// Its main config has a catch-all server on both address families, as Debian's
// default site has, which must never answer for a depl name.

const V1 = "2024.01.01.00.00";
const V2 = "feature-x";
const DOMAIN = "app1.localhost";
const host = new LocalHost();

let tmp: string;
let port: number;
let nginx: ChildProcess;
let ctl: Partial<NginxControl>;
let config: SiteConfig;
let l: Layout;
const apps: Server[] = [];
/** Requests each app has received. */
const hits = new Map<string, number>();

interface Res {
  status: number;
  headers: Record<string, string>;
  setCookie: string[];
  body: string;
  json: () => { version: string; host: string; requestId: string; versionHeader: string | null; forwardedFor: string };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "depl-nginx-routing-"));
  await chmod(tmp, 0o755); // nginx's workers run as nobody here
  port = await freePort();
  config = {
    app: "app1",
    domain: DOMAIN,
    subdomains: ["foo"],
    root: join(tmp, "srv"),
    nginx: { listen: port, conf_dir: join(tmp, "conf.d") },
    static: { url: "/static/" },
  };
  l = layout(config.root, config.app);
  await mkdir(config.nginx.conf_dir, { recursive: true });
  const conf = join(tmp, "nginx.conf");
  await writeFile(conf, mainConf(tmp, port));
  ctl = { instanceArgs: ["-p", `${tmp}/`, "-c", conf], pidFile: join(tmp, "nginx.pid"), reload: "signal" };
  nginx = await startNginx(tmp, conf, port);
  for (const v of [V1, V2]) apps.push(await startApp(l, v));
});

afterAll(async () => {
  nginx?.kill("SIGTERM");
  await Promise.all(apps.map((s) => new Promise((r) => s.close(r))));
  if (nginx && nginx.exitCode === null) await new Promise((r) => nginx.once("exit", r));
  // DEPL_KEEP_TMP=1 keeps the prefix (configs, error.log, access.log) for a look after a failure.
  if (!process.env.DEPL_KEEP_TMP) await rm(tmp, { recursive: true, force: true });
});

describe("nginx routing with traffic links", () => {
  it("tests and loads the rendered site, and leaves an unchanged one alone", async () => {
    expect(await applySite(host, config, ctl)).toEqual({ changed: true, reloaded: true });
    expect(await applySite(host, config, ctl)).toEqual({ changed: false, reloaded: false });
    await ensureTrafficDirs(host, l);
    await routeVersion(host, l, V1);
    await routeVersion(host, l, V2);
  });

  it("answers 503 while no version is live, not 502", async () => {
    const r = await get(DOMAIN);
    expect(r.status).toBe(503);
    expect(r.headers["x-depl-version"]).toBeUndefined();
  });

  it("serves the live version on the base domain and on subdomains, with Host kept", async () => {
    await setLive(host, l, V1);
    const base = await get(DOMAIN);
    expect(base.status).toBe(200);
    expect(base.headers["x-depl-version"]).toBe(V1);
    expect(base.json()).toMatchObject({ version: V1, host: DOMAIN, forwardedFor: "127.0.0.1" });
    expect(base.json().requestId).toMatch(/^[0-9a-f]{32}$/);
    const foo = await get(`foo.${DOMAIN}`);
    expect(foo.json()).toMatchObject({ version: V1, host: `foo.${DOMAIN}` });
    expect((await get(`FOO.${DOMAIN.toUpperCase()}:${port}`)).json()).toMatchObject({ version: V1, host: `foo.${DOMAIN}` });
  });

  it("answers on ::1 as on 127.0.0.1, never with the catch-all server (Chromium tries ::1 first)", async () => {
    const v6 = { address: "::1" };
    expect((await get(DOMAIN, {}, v6)).json()).toMatchObject({ version: V1, host: DOMAIN, forwardedFor: "::1" });
    expect((await get(`foo.${DOMAIN}`, {}, v6)).json()).toMatchObject({ version: V1, host: `foo.${DOMAIN}` });
    expect((await get(`${V2}.${DOMAIN}`, {}, v6)).json()).toMatchObject({ version: V2, host: DOMAIN });
    const unknown = await get(`nope.${DOMAIN}`, {}, v6);
    expect(unknown.status).toBe(404);
    expectNoSuchVersionPage(unknown, "nope over ::1");
    // The catch-all is there and answers other names on both families.
    expect((await get("example.localhost", {}, v6)).body).toBe("Welcome to nginx!");
    expect((await get("example.localhost")).body).toBe("Welcome to nginx!");
  });

  it("serves previews with the version label taken off the Host the app sees", async () => {
    expect((await get(`${V1}.${DOMAIN}`)).json()).toMatchObject({ version: V1, host: DOMAIN });
    expect((await get(`${V2}.${DOMAIN}`)).json()).toMatchObject({ version: V2, host: DOMAIN });
    expect((await get(`${V2}.foo.${DOMAIN}`)).json()).toMatchObject({ version: V2, host: `foo.${DOMAIN}` });
    expect((await get(`${V1}.foo.${DOMAIN}`)).json()).toMatchObject({ version: V1, host: `foo.${DOMAIN}` });
  });

  it("answers 404 for unknown versions and hostile names without reaching an app", async () => {
    await routeVersion(host, l, "gone"); // routed, but no socket behind the link
    const before = total();
    const cases: [string, number[]][] = [
      [`2030.01.01.00.00.${DOMAIN}`, [404]],
      [`nope.${DOMAIN}`, [404]],
      [`gone.${DOMAIN}`, [404]],
      [`gone.foo.${DOMAIN}`, [404]],
      [`${V1}.bar.${DOMAIN}`, [404]], // bar is not a declared subdomain
      [`foo.foo.${DOMAIN}`, [404]],
      [`a.b.c.${DOMAIN}`, [404]],
      [`%2e%2e.${DOMAIN}`, [404]],
      [`x_y.${DOMAIN}`, [404]],
      [`${"a".repeat(41)}.${DOMAIN}`, [404]],
      // nginx refuses these Host headers itself (400) before any server is chosen.
      [`../x.${DOMAIN}`, [400]],
      [`${V1}..${DOMAIN}`, [400]],
      [`a/b.${DOMAIN}`, [400]],
    ];
    for (const [name, statuses] of cases) {
      const r = await get(name);
      expect(statuses, `${name} -> ${r.status}`).toContain(r.status);
      expect(r.headers["x-depl-version"], name).toBeUndefined();
      if (r.status === 404) expectNoSuchVersionPage(r, name);
    }
    expect(total()).toBe(before);
    await unrouteVersion(host, l, "gone");
    await unrouteVersion(host, l, V2);
    expect((await get(`${V2}.${DOMAIN}`)).status).toBe(404);
    await routeVersion(host, l, V2);
    expect((await get(`${V2}.${DOMAIN}`)).status).toBe(200);
  });

  it("lets a client force a version by header or cookie; a malformed one is ignored", async () => {
    const byCookie = await get(DOMAIN, { cookie: `depl_version=${V2}` });
    expect(byCookie.json()).toMatchObject({ version: V2, host: DOMAIN });
    const byHeader = await get(`foo.${DOMAIN}`, { "x-depl-version": V2 });
    expect(byHeader.json()).toMatchObject({ version: V2, host: `foo.${DOMAIN}`, versionHeader: null });
    expect((await get(DOMAIN, { "x-depl-version": V1, cookie: `depl_version=${V2}` })).json().version).toBe(V1);
    const before = total();
    const unknown = await get(DOMAIN, { "x-depl-version": "nope" });
    expect(unknown.status).toBe(404);
    expectNoSuchVersionPage(unknown, "X-Depl-Version: nope");
    expect(total()).toBe(before);
    // A cookie outlives its version: the client goes to live, and the cookie goes.
    const stale = await get(DOMAIN, { cookie: "depl_version=2030.01.01.00.00; depl_bucket=50" });
    expect(stale.status).toBe(200);
    expect(stale.json().version).toBe(V1);
    expect(stale.setCookie).toEqual(["depl_version=; Path=/; Max-Age=0", `depl_version=; Domain=${DOMAIN}; Path=/; Max-Age=0`]);
    expect((await get(DOMAIN, { cookie: `depl_version=${V2}; depl_bucket=50` })).setCookie).toEqual([]);
    expect((await get(DOMAIN, { "x-depl-version": "../../releases/x" })).json().version).toBe(V1);
    expect((await get(DOMAIN, { cookie: "depl_version=Feature_X" })).json().version).toBe(V1);
  });

  it("deals a bucket to a client without a valid cookie, and only then sets the cookie", async () => {
    const fresh = await get(DOMAIN);
    expect(fresh.setCookie).toHaveLength(1);
    expect(fresh.setCookie[0]).toMatch(/^depl_bucket=\d\d; Domain=app1\.localhost; Path=\/; Max-Age=\d{7,}; HttpOnly; SameSite=Lax$/);
    expect((await get(DOMAIN, { cookie: "depl_bucket=42" })).setCookie).toEqual([]);
    for (const bad of ["7", "100", "4a", "-1", "../99", ""]) {
      const r = await get(DOMAIN, { cookie: `depl_bucket=${bad}` });
      expect(r.setCookie, bad).toHaveLength(2);
      expect(r.setCookie[0], bad).toMatch(/^depl_bucket=\d\d; Domain=/);
      expect(r.setCookie[1], bad).toBe("depl_bucket=; Path=/; Max-Age=0");
    }
    expect((await get(DOMAIN, { cookie: "xdepl_bucket=42" })).setCookie).toHaveLength(1);
  });

  it("sends a 5% canary share of 2000 new clients to the canary, exactly the buckets 00-04", async () => {
    await setCanary(host, l, V2, 5);
    expect(await readTraffic(host, l)).toEqual({ live: V1, previous: null, canary: { version: V2, percent: 5 } });
    const results = await many(2000, 20, () => get(DOMAIN));
    let canary = 0;
    for (const r of results) {
      expect(r.status).toBe(200);
      const bucket = Number(/^depl_bucket=(\d\d);/.exec(r.setCookie[0] ?? "")?.[1]);
      expect(r.headers["x-depl-version"]).toBe(bucket < 5 ? V2 : V1);
      if (r.headers["x-depl-version"] === V2) canary++;
    }
    console.log(`canary 5%: ${canary} of 2000 new clients (${((canary / 2000) * 100).toFixed(2)}%)`);
    expect(canary).toBeGreaterThanOrEqual(70);
    expect(canary).toBeLessThanOrEqual(130);
  });

  it("keeps a client with its cookie on its side for 100 requests", async () => {
    for (const [bucket, version] of [["03", V2], ["50", V1], ["99", V1]] as const) {
      const seen = await many(100, 10, () => get(DOMAIN, { cookie: `depl_bucket=${bucket}` }));
      expect(new Set(seen.map((r) => r.headers["x-depl-version"]))).toEqual(new Set([version]));
      expect(seen.every((r) => r.setCookie.length === 0)).toBe(true);
    }
    // A browser sends a malformed host-only cookie and the domain one, in either order:
    // the well-formed one counts, and the malformed one is expired, not re-dealt.
    for (const cookie of ["depl_bucket=zz; depl_bucket=03", "a=1; depl_bucket=03; depl_bucket=7", "depl_bucket=; depl_bucket=03"]) {
      const seen = await many(50, 10, () => get(DOMAIN, { cookie }));
      expect(new Set(seen.map((r) => r.headers["x-depl-version"])), cookie).toEqual(new Set([V2]));
      expect(new Set(seen.flatMap((r) => r.setCookie)), cookie).toEqual(new Set(["depl_bucket=; Path=/; Max-Age=0"]));
    }
  });

  it("moves only the buckets whose side changes, and stops the canary", async () => {
    await setCanary(host, l, V2, 10);
    expect((await get(DOMAIN, { cookie: "depl_bucket=07" })).json().version).toBe(V2);
    await setCanary(host, l, V2, 3);
    expect((await get(DOMAIN, { cookie: "depl_bucket=02" })).json().version).toBe(V2);
    expect((await get(DOMAIN, { cookie: "depl_bucket=03" })).json().version).toBe(V1);
    await stopCanary(host, l);
    expect(await readTraffic(host, l)).toEqual({ live: V1, previous: null, canary: null });
    expect((await get(DOMAIN, { cookie: "depl_bucket=00" })).json().version).toBe(V1);
  });

  it("moves new requests at once when live changes, with no reload", async () => {
    await setLive(host, l, V2);
    expect(await readTraffic(host, l)).toEqual({ live: V2, previous: V1, canary: null });
    expect((await get(DOMAIN)).json().version).toBe(V2);
    expect((await get(`foo.${DOMAIN}`)).json().version).toBe(V2);
    await setLive(host, l, V1);
    expect((await get(DOMAIN)).json().version).toBe(V1);
  });

  it("drops no request while live flips 40 times under load, and logs who served each", async () => {
    let stop = false;
    const served: { id: string; version: string }[] = [];
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        const r = await get(DOMAIN).catch((e: Error) => ({ status: 0, error: e.message }) as const);
        if ("error" in r || r.status !== 200) failures.push("error" in r ? r.error : String(r.status));
        else served.push({ id: r.json().requestId, version: r.headers["x-depl-version"]! });
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await setLive(host, l, i % 2 === 0 ? V2 : V1);
    }
    stop = true;
    await Promise.all(workers);
    const seconds = (Date.now() - started) / 1000;
    console.log(`40 switches in ${seconds.toFixed(1)} s: ${served.length} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(new Set(served.map((s) => s.version))).toEqual(new Set([V1, V2]));

    // Every one of those requests is in the access log, attributed to the version that answered it.
    const log = new Map<string, Record<string, unknown>>();
    for (const line of (await readFile(l.accessLog, "utf8")).trim().split("\n")) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      log.set(entry.request_id as string, entry);
    }
    for (const s of served) {
      expect(log.get(s.id), s.id).toMatchObject({ version: s.version, status: 200, route: "live", host: DOMAIN });
    }
    const sample = log.get(served[0]!.id)!;
    expect(typeof sample.time).toBe("number");
    expect(typeof sample.request_time).toBe("number");
    expect(sample.bucket).toMatch(/^\d\d$/);
  });
});

describe("a crash of the live version", () => {
  const V3 = "2024.02.02.00.00";
  let crashy: ChildProcess;

  it("loses no request that never reached it: the previous version answers, POSTs included", async () => {
    await setLive(host, l, V1);
    await mkdir(l.sockDir(V3), { recursive: true, mode: 0o755 });
    // Its own process, so that SIGKILL leaves the socket file behind as a crashed container does.
    const script = `require("http").createServer((q, s) => { s.writeHead(200, { "x-depl-version": "${V3}" }); s.end("{}"); })` +
      `.listen({ path: process.argv[1], backlog: 1024 }, () => { require("fs").chmodSync(process.argv[1], 0o777); console.log("up"); });`;
    crashy = spawn(process.execPath, ["-e", script, l.socket(V3)], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((r) => crashy.stdout!.once("data", r));
    await routeVersion(host, l, V3);
    await setLive(host, l, V3);
    expect((await get(DOMAIN)).headers["x-depl-version"]).toBe(V3);

    let stop = false;
    const seen = new Map<string, number>();
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        const r = await get(DOMAIN).catch((e: Error) => ({ status: 0, error: e.message }) as const);
        if ("error" in r || r.status !== 200) failures.push("error" in r ? r.error : String(r.status));
        else seen.set(r.headers["x-depl-version"]!, (seen.get(r.headers["x-depl-version"]!) ?? 0) + 1);
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await new Promise((r) => setTimeout(r, 300));
    crashy.kill("SIGKILL");
    await new Promise((r) => crashy.once("exit", r));
    await new Promise((r) => setTimeout(r, 700));
    stop = true;
    await Promise.all(workers);
    console.log(`live killed under load: ${JSON.stringify(Object.fromEntries(seen))}, ${failures.length} failed`);
    expect(await host.exists(l.socket(V3))).toBe(true); // the stale socket is still there
    // Even the GETs that were inside V3 when it died are answered: nginx resends an idempotent request.
    expect(failures).toEqual([]);
    expect(seen.get(V1)).toBeGreaterThan(100);
    const after = await many(200, 10, () => get(DOMAIN, { cookie: "depl_bucket=50" }));
    expect(after.every((r) => r.status === 200 && r.headers["x-depl-version"] === V1)).toBe(true);
    const post = await post1(DOMAIN);
    expect([post.status, post.headers["x-depl-version"]]).toEqual([200, V1]);
    // A forced or preview request for the dead version is not redirected to another version.
    expect((await get(DOMAIN, { "x-depl-version": V3 })).status).toBe(502);
    expect((await get(`${V3}.${DOMAIN}`)).status).toBe(502);
    await setLive(host, l, V1);
    await unrouteVersion(host, l, V3);
  });

  it("answers from the previous version while live's socket file is missing (an app making its socket anew), never 503", async () => {
    await setLive(host, l, V1);
    await setLive(host, l, V2);
    const sock = l.socket(V2);
    await rename(sock, `${sock}.away`);
    try {
      const rs = await many(50, 10, () => get(DOMAIN, { cookie: "depl_bucket=50" }));
      expect(rs.map((r) => `${r.status} ${r.headers["x-depl-version"]}`)).toEqual(Array(50).fill(`200 ${V1}`));
      expect((await get(DOMAIN, { "x-depl-version": V2 })).status).toBe(404); // asked for by name: it is not there
    } finally {
      await rename(`${sock}.away`, sock);
    }
    expect((await get(DOMAIN, { cookie: "depl_bucket=50" })).headers["x-depl-version"]).toBe(V2);
  });
});

describe("static files served by nginx from the release directories", () => {
  const file = async (v: string, name: string, text: string) => {
    await mkdir(l.staticDir(v), { recursive: true, mode: 0o755 });
    await writeFile(join(l.staticDir(v), name), text, { mode: 0o644 });
  };
  const asset = (name: string, headers: Record<string, string> = {}, hostName = DOMAIN) => get(hostName, headers, { path: `/static/${name}` });

  beforeAll(async () => {
    await file(V1, "app.css", "v1 css");
    await file(V1, "only-v1.css", "old page's css");
    await file(V2, "app.css", "v2 css");
    await file(V2, "app.0123abcd.css", "hashed");
    await file("third", "only-third.js", "canary js");
  });

  it("serves live's files, then previous's, with cache headers by name, never reaching an app", async () => {
    await setLive(host, l, V1);
    await setLive(host, l, V2);
    expect(await readTraffic(host, l)).toMatchObject({ live: V2, previous: V1 });
    const before = total();
    const css = await asset("app.css");
    expect([css.status, css.body]).toEqual([200, "v2 css"]);
    expect(css.headers["cache-control"]).toBe("no-cache");
    expect(css.headers["content-type"]).toBe("text/css");
    // A page of V1 still open after the switch keeps its stylesheet.
    expect((await asset("only-v1.css")).body).toBe("old page's css");
    const hashed = await asset("app.0123abcd.css");
    expect(hashed.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    const missing = await asset("missing.css");
    expect([missing.status, missing.body, missing.headers["cache-control"]]).toEqual([404, "Not found\n", "no-store"]);
    expect((await asset("app.css", {}, `foo.${DOMAIN}`)).body).toBe("v2 css");
    expect((await asset("app.css", {}, `foo.${DOMAIN}`)).body).toBe("v2 css");
    expect((await get(DOMAIN, {}, { path: "/static/../static/app.css" })).body).toBe("v2 css");
    expect(total()).toBe(before);
    // The same file over IPv6.
    expect((await get(DOMAIN, {}, { path: "/static/app.css", address: "::1" })).body).toBe("v2 css");
    // Outside the static URL, the app answers.
    expect((await get(DOMAIN, {}, { path: "/staticx/app.css" })).json().version).toBe(V2);
    expect(total()).toBe(before + 1);
  });

  it("serves a preview's and a forced version's own files", async () => {
    const before = total();
    expect((await asset("app.css", {}, `${V1}.${DOMAIN}`)).body).toBe("v1 css");
    expect((await asset("app.0123abcd.css", {}, `${V1}.${DOMAIN}`)).status).toBe(404);
    expect((await asset("app.css", {}, `${V2}.foo.${DOMAIN}`)).body).toBe("v2 css");
    expect((await asset("app.css", { cookie: `depl_version=${V1}` })).body).toBe("v1 css");
    expect((await asset("app.css", { "x-depl-version": V1 })).body).toBe("v1 css");
    expect((await asset("only-v1.css", { "x-depl-version": V2 })).status).toBe(404);
    const unrouted = await asset("only-third.js", {}, `third.${DOMAIN}`);
    expect(unrouted.status).toBe(404);
    expect(unrouted.body).toContain("No such version");
    expect(total()).toBe(before);
  });

  it("adds the canary's files after live's and previous's while a canary runs", async () => {
    expect((await asset("only-third.js")).status).toBe(404);
    await setCanary(host, l, "third", 5);
    expect((await asset("only-third.js")).body).toBe("canary js");
    expect((await asset("app.css")).body).toBe("v2 css");
    await stopCanary(host, l);
    expect((await asset("only-third.js")).status).toBe(404);
    await setLive(host, l, V1);
  });
});

// --- helpers ----------------------------------------------------------------

/** nginx's own small page: says so, links to the base domain (with the port), names no version. */
function expectNoSuchVersionPage(r: Res, what: string): void {
  expect(r.headers["content-type"], what).toBe("text/html");
  expect(r.body, what).toContain("No such version");
  expect(r.body, what).toContain(`<a href="http://${DOMAIN}:${port}/">`);
  for (const v of [V1, V2, "gone", "nope"]) expect(r.body, what).not.toContain(v);
}

function total(): number {
  return [...hits.values()].reduce((a, b) => a + b, 0);
}

function mainConf(dir: string, listen: number): string {
  return `pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
worker_processes 2;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    # Temp files in the prefix: nginx chowns its temp directories to its worker user (nobody here), and Debian's
    # /var/lib/nginx/body would then be unwritable for the system nginx's www-data workers until its next reload.
    client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
    include ${dir}/conf.d/*.conf;
    server { listen ${listen} default_server; listen [::]:${listen} default_server; return 200 "Welcome to nginx!"; }
}
`;
}

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port: p } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return p;
}

async function startNginx(dir: string, conf: string, listen: number): Promise<ChildProcess> {
  const child = spawn("/usr/sbin/nginx", ["-p", `${dir}/`, "-c", conf, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await new Promise<boolean>((r) => {
      const s = connect(listen, "127.0.0.1", () => (s.destroy(), r(true))).on("error", () => r(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error(`nginx did not start: ${stderr}`);
}

/** One app version: answers with its version in X-Depl-Version (as depl's runtime images do) and echoes what it got. */
async function startApp(layoutOf: Layout, version: string): Promise<Server> {
  await mkdir(layoutOf.sockDir(version), { recursive: true, mode: 0o755 });
  const server = createHttpServer((req, res) => {
    hits.set(version, (hits.get(version) ?? 0) + 1);
    const body = JSON.stringify({
      version,
      host: req.headers.host,
      requestId: req.headers["x-request-id"],
      versionHeader: req.headers["x-depl-version"] ?? null,
      forwardedFor: req.headers["x-forwarded-for"],
    });
    res.writeHead(200, { "content-type": "application/json", "x-depl-version": version });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen({ path: layoutOf.socket(version), backlog: 1024 }, r));
  // Workers run as nobody here: others need write (connect) and, as with any socket made
  // under a usual umask, the owner-execute bit that the site's -x check relies on.
  await chmod(layoutOf.socket(version), 0o777);
  return server;
}

/**
 * A raw HTTP/1.1 GET to 127.0.0.1 (or ::1, as Chromium tries first) with any Host header
 * (Node cannot resolve *.localhost, and must not fix up hostile names).
 */
function get(hostHeader: string, headers: Record<string, string> = {}, opts: { address?: string; path?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, opts.address ?? "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("timed out")));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks).toString("latin1")));
      } catch (e) {
        reject(e as Error);
      }
    });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.write(`GET ${opts.path ?? "/"} HTTP/1.1\r\nHost: ${hostHeader}\r\n${extra}Connection: close\r\n\r\n`);
  });
}

/** A POST with a body through 127.0.0.1. */
function post1(hostHeader: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => resolve(parseResponse(Buffer.concat(chunks).toString("latin1"))));
    socket.write(`POST / HTTP/1.1\r\nHost: ${hostHeader}\r\nCookie: depl_bucket=50\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
  });
}

function parseResponse(raw: string): Res {
  const split = raw.indexOf("\r\n\r\n");
  if (split < 0) throw new Error(`incomplete response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine, ...lines] = raw.slice(0, split).split("\r\n");
  const headers: Record<string, string> = {};
  const setCookie: string[] = [];
  for (const line of lines) {
    const i = line.indexOf(":");
    const name = line.slice(0, i).toLowerCase();
    const value = line.slice(i + 1).trim();
    if (name === "set-cookie") setCookie.push(value);
    else headers[name] = value;
  }
  let body = raw.slice(split + 4);
  if (headers["transfer-encoding"] === "chunked") body = unchunk(body);
  return { status: Number(statusLine!.split(" ")[1]), headers, setCookie, body, json: () => JSON.parse(body) };
}

function unchunk(s: string): string {
  let out = "";
  for (let i = 0; ; ) {
    const eol = s.indexOf("\r\n", i);
    const size = parseInt(s.slice(i, eol), 16);
    if (!size) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

async function many<T>(n: number, concurrency: number, task: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        out.push(await task());
      }
    }),
  );
  return out;
}
