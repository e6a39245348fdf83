import { execFileSync, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, REPO, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { LocalHost } from "../../src/host/local.js";
import { loadConfig } from "../../src/config/load.js";
import { layout } from "../../src/naming/layout.js";
import { installRelease } from "../../src/release/install.js";

// Installing and running releases on real Docker Engine, nginx and supervisord,
// through the real CLI: a first install without depl setup, the preview check
// through nginx, health checks that give up early, exec's exit status, static
// files, live-only workers across promote/rollback/canary, and an install that
// throws midway. App "inst" of its own, beside every other app.

const APP = "inst";
const DOMAIN = "inst.localhost";
const ROOT = "/srv/depl-inst";
const DIR = "/tmp/depl-inst-config";
const base = `${ROOT}/${APP}`;
const env = { DEPL_STATE_DIR: mkdtempSync(join(tmpdir(), "depl-inst-state-")) };
const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });
/** Whether the program's container is running (docker's view, not supervisord's). */
const running = (program: string) => sh(`docker ps -q --filter name=^/depl-${program}$`).trim() !== "";
const status = (program: string) => /^\S+\s+(\S+)/.exec(sh(`supervisorctl status ${program} || true`))?.[1];
/** How a process whose container exits at once is reported (seen exited, or already started again by its run script). */
const CRASHED = "(its container exited with code 1( after [0-9.]+ s)?|its container was restarted|its container stopped and was replaced|supervisord reports \\S+ FATAL)";
const WORKERS = `
shared: { data: /app/data }
env: { TESTAPP_SHARED: /app/data }
processes:
  worker: ["/app/venv/bin/python", "-m", "testapp.worker"]
  beat: { command: ["/app/venv/bin/python", "-m", "testapp.worker"], every_release: true }
`;

function writeConfig(name: string, extra = WORKERS, health = "{ concurrency: 4 }"): string {
  mkdirSync(DIR, { recursive: true });
  const path = `${DIR}/${name}`;
  writeFileSync(
    path,
    `app: ${APP}
domain: ${DOMAIN}
root: ${ROOT}
hosts: [local]
build:
  context: ${REPO}/testapp
  python: { requirements: requirements.txt }
run: { wsgi: "testapp.app:application", workers: 1, threads: 4 }
health: ${health}
${extra}`,
  );
  return path;
}

function cleanup(): void {
  const quiet = (cmd: string) => {
    try {
      execFileSync("sh", ["-c", cmd], { stdio: "ignore" });
    } catch {
      // best effort
    }
  };
  quiet(`for f in /etc/supervisor/conf.d/depl-${APP}-*.conf; do [ -e "$f" ] || continue; p=$(basename "$f" .conf); p=\${p#depl-}; supervisorctl stop "$p"; rm -f "$f"; done; supervisorctl reread; supervisorctl update`);
  quiet(`docker ps -aq --filter label=depl.app=${APP} | xargs -r docker rm -f`);
  quiet(`rm -f /etc/nginx/conf.d/depl-${APP}.conf && nginx -s reload`);
  quiet(`rm -rf ${ROOT} ${DIR} /tmp/depl-inst-bin`);
  quiet(`docker images --format '{{.Repository}}:{{.Tag}}' | grep '^${APP}:' | xargs -r docker rmi -f`);
}

let config: string;
let a: string;
const tag = (v: string) => sh(`docker tag ${APP}:${a} ${APP}:${v}`);
const run = (args: string[], cfg = config) => depl(["-c", cfg, ...args], { env });
const meta = (v: string) => JSON.parse(readFileSync(`${base}/releases/${v}/release.json`, "utf8")) as { state: string; error: string | null };

beforeAll(() => cleanup());
afterAll(() => cleanup());

describe("a first install without depl setup", () => {
  it("writes the app's nginx site itself and says installed only once the preview answers through nginx", async () => {
    config = writeConfig("depl.yml");
    expect(existsSync(`/etc/nginx/conf.d/depl-${APP}.conf`)).toBe(false);
    const r = await run(["buildinst"]);
    expect(r.code, r.stderr).toBe(0);
    a = /^Version (\S+) is successfully installed: http:\/\/(\S+)\.inst\.localhost\/$/m.exec(r.stdout)![1]!;
    expect(r.stderr).toContain(`nginx site for ${DOMAIN} written and loaded`);
    expect(existsSync(`/etc/nginx/conf.d/depl-${APP}.conf`)).toBe(true);
    const p = await get(80, `${a}.${DOMAIN}`);
    expect(p.status).toBe(200);
    expect(p.headers["x-depl-version"]).toBe(a);
    expect(p.body).toContain("Hello from base domain");
  });

  it("a version without a static section gets no static directory", () => {
    expect(existsSync(`${base}/releases/${a}/static`)).toBe(false);
  });

  it("fails a version whose preview does not answer from it through nginx, with nginx's status and answer", async () => {
    // TESTAPP_FAIL_PROXIED: requests through nginx answer 500, the health check over the socket passes.
    const bad = writeConfig("proxied.yml", WORKERS.replace("env: { TESTAPP_SHARED: /app/data }", 'env: { TESTAPP_SHARED: /app/data, TESTAPP_FAIL_PROXIED: "1" }'));
    const v = "2001.01.01.00.01";
    tag(v);
    const r = await run(["install", v], bad);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).not.toContain("successfully installed");
    expect(r.stderr).toContain(`version ${v} is not served at its preview URL`);
    expect(r.stderr).toContain(`GET http://${v}.${DOMAIN}/health through nginx answered 500 from version ${v}:`);
    expect(r.stderr).toContain(`injected failure in version ${v}`);
    expect(meta(v).state).toBe("failed");
    // Undone: its program, conf and container are gone; its log stays for depl logs.
    expect(status(`${APP}-${v}`)).toBe("ERROR");
    expect(existsSync(`${base}/supervisor/${APP}-${v}.conf`)).toBe(false);
    expect(sh(`docker ps -aq --filter name=^depl-${APP}-${v}$`).trim()).toBe("");
    expect(existsSync(`${base}/log/${v}.log`)).toBe(true);
    expect((await get(80, `${v}.${DOMAIN}`)).status).toBe(404);
  });
});

describe("depl exec", () => {
  it("exits with the command's exit status", async () => {
    expectExit(await run(["exec", a, "--", "sh", "-c", "exit 3"]), 3);
    expectExit(await run(["exec", a, "--", "true"]));
    const missing = await run(["exec", a, "--", "no-such-command"]);
    expect(missing.code, missing.stderr).toBe(127);
    const out = await run(["exec", a, "--", "sh", "-c", "echo hi; exit 0"]);
    expect(out.stdout).toBe("hi\n");
  });
});

describe("a health path that answers 500 every time", () => {
  it("gives up after a few seconds with the status, the answer and the log, not after the 60 s timeout", async () => {
    const bad = writeConfig("error-health.yml", WORKERS, "{ path: /error, concurrency: 4 }");
    const v = "2001.01.01.00.02";
    tag(v);
    const t0 = Date.now();
    const r = await run(["install", v], bad);
    const secs = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(1);
    expect(secs).toBeLessThan(30);
    expect(r.stderr).toMatch(/failed its health check: answered the same failure \d+ times in [5-9]s: GET \/error answered 500:/);
    expect(r.stderr).toContain(`error from version ${v}`);
    expect(r.stderr).toContain(`--- last lines of ${base}/log/${v}.log ---`);
    expect(meta(v).state).toBe("failed");
    console.log(`health 500 gave up after ${secs.toFixed(1)} s (whole install command)`);
  });
});

describe("static files", () => {
  it("are copied out of the image into releases/<v>/static: readable by nginx, nothing executable, no links leading out", async () => {
    const v = "2001.01.01.00.03";
    // An image with files, an executable one, and links in and out of its static directory.
    sh(`printf '%s\\n' 'FROM ${APP}:${a}' 'USER root' \
      'RUN mkdir -p /app/static/css && echo "body{}" > /app/static/css/site.css && echo x > /app/static/run.sh && chmod 0777 /app/static/run.sh /app/static/css \
        && ln -s /etc/passwd /app/static/passwd && ln -s css/site.css /app/static/site.css && ln -s ../../../../../etc /app/static/css/up' \
      'USER 10001' | docker build -q -t ${APP}:${v} -`);
    const cfg = writeConfig("static.yml", `${WORKERS}static: { url: /static/, path: /app/static }\n`);
    const r = await run(["install", v], cfg);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`2 static files copied from /app/static to ${base}/releases/${v}/static`);
    const dir = `${base}/releases/${v}/static`;
    expect(readFileSync(`${dir}/css/site.css`, "utf8")).toBe("body{}\n");
    expect(readFileSync(`${dir}/site.css`, "utf8")).toBe("body{}\n"); // a link inside stays
    expect(lstatSync(`${dir}/site.css`).isSymbolicLink()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["css", "run.sh", "site.css"]);
    expect(readdirSync(`${dir}/css`)).toEqual(["site.css"]);
    expect(statSync(`${dir}/run.sh`).mode & 0o7777).toBe(0o644);
    expect(statSync(`${dir}/css`).mode & 0o7777).toBe(0o755);
    expect(statSync(`${dir}/css/site.css`).uid).toBe(0);
    // www-data can read them (nginx's workers).
    expect(sh(`su -s /bin/sh www-data -c 'cat ${dir}/css/site.css'`)).toBe("body{}\n");
    // removing the release removes them
    expectExit(await run(["remove", v], cfg));
    expect(existsSync(dir)).toBe(false);
  });
});

describe("workers run in the live release only", () => {
  let b: string;
  it("an installed, not live release runs web and every_release processes, not live-only workers", () => {
    expect(status(`${APP}-${a}`)).toBe("RUNNING");
    expect(status(`${APP}-${a}-beat`)).toBe("RUNNING");
    expect(status(`${APP}-${a}-worker`)).toBe("STOPPED");
  });

  it("promote starts the new live's workers", async () => {
    const r = await run(["promote", a]);
    expect(r.code, r.stderr).toBe(0);
    expect(status(`${APP}-${a}-worker`)).toBe("RUNNING");
  });

  it("promote to another version stops the old live's workers and starts the new one's; rollback the reverse", async () => {
    b = "2001.01.01.00.04";
    tag(b);
    const i = await run(["install", b]);
    expect(i.code, i.stderr).toBe(0);
    expect(status(`${APP}-${b}-worker`)).toBe("STOPPED");
    expect(status(`${APP}-${b}-beat`)).toBe("RUNNING");
    const p = await run(["promote", b]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toMatch(new RegExp(`stopped ${a}'s worker[\\s\\S]*started ${b}'s worker`));
    expect(status(`${APP}-${a}-worker`)).toBe("STOPPED");
    expect(status(`${APP}-${b}-worker`)).toBe("RUNNING");
    expect(status(`${APP}-${a}-beat`)).toBe("RUNNING");
    // The containers too: they outlive their run scripts, so depl stops them itself.
    expect(running(`${APP}-${a}-worker`)).toBe(false);
    expect(running(`${APP}-${b}-worker`)).toBe(true);
    const rb = await run(["rollback"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(status(`${APP}-${a}-worker`)).toBe("RUNNING");
    expect(status(`${APP}-${b}-worker`)).toBe("STOPPED");
  });

  it("a canary runs no live-only workers", async () => {
    const c = await run(["canary", b, "10%"]);
    expect(c.code, c.stderr).toBe(0);
    expect(status(`${APP}-${b}-worker`)).toBe("STOPPED");
    expectExit(await run(["canary", "--stop"]));
  });

  it("depl list shows each release's processes and their state", async () => {
    const r = await run(["list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { version: string; processes: { name: string; state: string; every_release: boolean }[] }[];
    const of = (v: string) => rows.find((x) => x.version === v)!.processes;
    expect(of(a)).toEqual([
      { name: "web", state: "RUNNING", every_release: true },
      { name: "worker", state: "RUNNING", every_release: false },
      { name: "beat", state: "RUNNING", every_release: true },
    ]);
    expect(of(b).find((p) => p.name === "worker")!.state).toBe("STOPPED");
    const t = await run(["list"]);
    expect(t.stdout).toMatch(/PROCESSES/);
    expect(t.stdout).toContain("web:running worker:stopped beat:running");
  });

  it("installing the live version again starts all its processes", async () => {
    sh(`supervisorctl stop ${APP}-${a}-worker`);
    const r = await run(["install", a]);
    expect(r.code, r.stderr).toBe(0);
    expect(status(`${APP}-${a}-worker`)).toBe("RUNNING");
  });

  it("a promote whose new worker does not stay up fails and leaves the old live with its workers", async () => {
    const v = "2001.01.01.00.05";
    tag(v);
    const crashing = writeConfig("crashing.yml", WORKERS.replace('worker: ["/app/venv/bin/python", "-m", "testapp.worker"]', 'worker: ["sh", "-c", "echo crashing; exit 1"]'));
    const i = await run(["install", v], crashing);
    expect(i.code, i.stderr).toBe(0);
    const p = await run(["promote", v], crashing);
    expect(p.code, p.stderr).toBe(1);
    expect(p.stderr).toMatch(new RegExp(`worker worker of ${v.replace(/\./g, "\\.")} did not stay up: ${CRASHED}`));
    expect(p.stderr).toContain(`${a} stays live with its workers`);
    expect((await get(80, DOMAIN)).headers["x-depl-version"]).toBe(a);
    expect(status(`${APP}-${a}-worker`)).toBe("RUNNING");
    expect(status(`${APP}-${v}-worker`)).not.toBe("RUNNING");
    expect(readFileSync(`${base}/audit.log`, "utf8").trim().split("\n").pop()).toMatch(/"action":"promote".*"result":"failed"/);
  });

  it("on a busy machine (both cores in a busy loop) an install whose worker exits at once fails too, and says how it exited", async () => {
    // supervisord's RUNNING counts the run script's life, which load stretches past startsecs before the
    // container has even started: "up" is judged from the container's own state.
    const v = "2001.01.01.00.08";
    tag(v);
    const crashing = writeConfig("crashing-live.yml", WORKERS.replace('beat: { command: ["/app/venv/bin/python", "-m", "testapp.worker"], every_release: true }', 'beat: { command: ["sh", "-c", "echo crashing; exit 1"], every_release: true }'));
    const busy = [0, 1].map(() => spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
    try {
      const i = await run(["install", v], crashing);
      expect(i.code, i.stderr).toBe(1);
      expect(i.stderr).toMatch(new RegExp(`worker beat did not stay up: ${CRASHED}`));
      expect(i.stderr).toContain("crashing");
    } finally {
      for (const b of busy) b.kill("SIGKILL");
    }
    expect(meta(v).state).toBe("failed");
    expect(status(`${APP}-${v}-beat`)).not.toBe("RUNNING");
    expect(sh(`docker ps -q --filter name=^depl-${APP}-${v}-beat$`).trim()).toBe("");
  });
});

describe("a host without the tools depl setup installs", () => {
  it("is refused at once, saying to run depl setup, before anything is written", async () => {
    const v = "2001.01.01.00.07";
    const { config: cfg } = loadConfig(config);
    const l = layout(cfg.root, cfg.app);
    // The tool probe runs with a PATH where only sh is found (the probe adds /usr/sbin and /sbin: nginx stays found).
    mkdirSync("/tmp/depl-inst-bin", { recursive: true });
    sh("ln -sf /bin/sh /tmp/depl-inst-bin/sh");
    const real = new LocalHost();
    const host = Object.create(real) as LocalHost;
    host.run = (argv, opts) => real.run(argv, argv[0] === "sh" && argv[2]?.includes("command -v") ? { ...opts, env: { ...opts?.env, PATH: "/tmp/depl-inst-bin" } } : opts);
    const err = await installRelease({ config: cfg, layout: l, host, version: v, actor: "test", say: () => {} }).catch((e: Error) => e);
    expect((err as Error).message).toBe("local: docker, supervisorctl, curl not found: run depl setup first (it installs and starts docker, nginx and supervisord)");
    expect(existsSync(l.release(v))).toBe(false);
  });
});

describe("an install that throws midway", () => {
  it("takes the release's programs away, unroutes it, marks it failed, audits it, and rethrows", async () => {
    const v = "2001.01.01.00.06";
    tag(v);
    const { config: cfg } = loadConfig(config);
    const l = layout(cfg.root, cfg.app);
    // A host whose preview-route link fails, as an SSH connection dropping after the program started would.
    const real = new LocalHost();
    const host = Object.create(real) as LocalHost;
    host.symlinkAtomic = async (target: string, linkPath: string) => {
      if (linkPath === l.versionLink(v)) throw new Error("connection lost (injected)");
      return real.symlinkAtomic(target, linkPath);
    };
    const said: string[] = [];
    const err = await installRelease({ config: cfg, layout: l, host, version: v, actor: "test", say: (m) => said.push(m) }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe("connection lost (injected)");
    expect(said.join("\n")).toContain(`install stopped by an error: connection lost (injected); stopping ${v} and marking it failed`);
    expect(meta(v)).toMatchObject({ state: "failed", error: "install stopped by an error: connection lost (injected)" });
    expect(status(`${APP}-${v}`)).toBe("ERROR"); // no such process
    expect(status(`${APP}-${v}-beat`)).toBe("ERROR");
    expect(existsSync(`/etc/supervisor/conf.d/depl-${APP}-${v}-beat.conf`)).toBe(false);
    expect(existsSync(l.versionLink(v))).toBe(false);
    expect(existsSync(l.socket(v))).toBe(false);
    const last = JSON.parse(readFileSync(`${base}/audit.log`, "utf8").trim().split("\n").pop()!) as { action: string; version: string; result: string };
    expect(last).toMatchObject({ action: "install", version: v, result: "failed" });
    expect(sh(`docker ps -q --filter name=^depl-${APP}-${v}$`).trim()).toBe("");
  });
});
