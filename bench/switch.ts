// npm run bench:switch: sustained load through nginx while traffic moves
// between two versions, by depl's symlink renames and, for comparison, by
// rewriting the upstream and reloading nginx. Prints figures; asserts nothing.
import { execFileSync, spawn } from "node:child_process";
import { request } from "undici";
import { writeFileSync, mkdirSync, rmSync } from "node:fs";
import { loadConfig } from "../src/config/load.js";
import { LocalHost } from "../src/host/local.js";
import { layout } from "../src/naming/layout.js";
import { canary, canaryStop, promote } from "../src/release/promote.js";
import { setLive } from "../src/switch/traffic.js";

const APP = "bench";
const DOMAIN = "bench.localhost";
const ROOT = "/srv/depl-bench";
const RELOAD_PORT = 8181;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const dir = "/tmp/depl-bench";
const repo = new URL("..", import.meta.url).pathname;

const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const deplCli = (...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", `${repo}src/cli.ts`, "-c", `${dir}/depl.yml`, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

interface WrkResult { requests: number; failed: number; p50: string; p99: string; rps: string }

function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = errors ? errors.slice(1).reduce((s, x) => s + Number(x), 0) : 0;
  return {
    requests: num(/(\d+) requests in/),
    failed: socketErrors + num(/Non-2xx or 3xx responses: (\d+)/),
    p50: /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "?",
    p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "?",
    rps: /Requests\/sec:\s+(\S+)/.exec(out)?.[1] ?? "?",
  };
}

function wrk(port: number, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const p = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-H", `Host: ${DOMAIN}`, "-H", "Cookie: depl_bucket=42", `http://127.0.0.1:${port}/`]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("close", () => resolve(parseWrk(out)));
  });
}

async function servedOn(port: number): Promise<string | null> {
  try {
    const r = await request(`http://127.0.0.1:${port}/`, { headers: { host: DOMAIN, cookie: "depl_bucket=42" }, reset: true });
    await r.body.dump();
    const v = r.headers["x-depl-version"];
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
}

async function timeUntilServed(port: number, version: string, start: number): Promise<number> {
  for (;;) {
    if ((await servedOn(port)) === version) return performance.now() - start;
    if (performance.now() - start > 10_000) return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? NaN;

async function main() {
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/depl.yml`, `app: ${APP}\ndomain: ${DOMAIN}\nroot: ${ROOT}\nbuild: { context: ${repo}testapp }\nrun: { wsgi: "testapp.app:application", workers: 2, threads: 8 }\n`);
  deplCli("setup");
  const a = JSON.parse(deplCli("buildinst", "--json")).version as string;
  const b = JSON.parse(deplCli("buildinst", "--json")).version as string;
  deplCli("promote", a);
  const { config } = loadConfig(`${dir}/depl.yml`);
  const host = new LocalHost();
  const l = layout(ROOT, APP);
  const args = { config, layout: l, host, actor: "bench", say: () => {} };

  console.log(`load: wrk, ${CONNECTIONS} connections, ${SECONDS} s per run, through nginx on 127.0.0.1`);
  const quiet = await wrk(80, 10);

  // depl: promote / canary / rollback by renaming symlinks; no nginx reload.
  const deplLoad = wrk(80, SECONDS);
  const deplSwitch: number[] = [];
  let changes = 0;
  const until = Date.now() + (SECONDS - 2) * 1000;
  let target = b;
  while (Date.now() < until) {
    const start = performance.now();
    await promote([args], () => target);
    deplSwitch.push(await timeUntilServed(80, target, start));
    await canary([args], target === a ? b : a, 10);
    await canaryStop([args]);
    changes += 3;
    target = target === a ? b : a;
  }
  const deplResult = await deplLoad;

  // The switch alone: one rename of live.sock, without promote's health checks.
  const renameLoad = wrk(80, SECONDS);
  const renameSwitch: number[] = [];
  let renames = 0;
  const until3 = Date.now() + (SECONDS - 2) * 1000;
  while (Date.now() < until3) {
    const start = performance.now();
    await setLive(host, l, target);
    renameSwitch.push(await timeUntilServed(80, target, start));
    renames++;
    target = target === a ? b : a;
    await new Promise((r) => setTimeout(r, 50));
  }
  const renameResult = await renameLoad;
  await promote([args], () => a);

  // nginx reload: the upstream socket path rewritten in the config, then `nginx -s reload`.
  const conf = "/etc/nginx/conf.d/depl-bench-reload.conf";
  const site = (v: string) => `server {\n  listen ${RELOAD_PORT};\n  location / {\n    proxy_pass http://unix:${l.socket(v)}:;\n    proxy_set_header Host ${DOMAIN};\n  }\n}\n`;
  writeFileSync(conf, site(a));
  sh("nginx -s reload");
  await new Promise((r) => setTimeout(r, 1000));
  const reloadQuiet = await wrk(RELOAD_PORT, 10);
  const reloadLoad = wrk(RELOAD_PORT, SECONDS);
  const reloadSwitch: number[] = [];
  let reloads = 0;
  target = b;
  const until2 = Date.now() + (SECONDS - 2) * 1000;
  while (Date.now() < until2) {
    const start = performance.now();
    writeFileSync(conf, site(target));
    sh("nginx -s reload");
    reloadSwitch.push(await timeUntilServed(RELOAD_PORT, target, start));
    reloads++;
    target = target === a ? b : a;
    await new Promise((r) => setTimeout(r, 100));
  }
  const reloadResult = await reloadLoad;
  rmSync(conf);
  sh("nginx -s reload");

  const row = (name: string, changesN: number, q: WrkResult, r: WrkResult, sw: number[]) =>
    `${name.padEnd(28)} ${String(changesN).padStart(7)} ${String(r.requests).padStart(9)} ${String(r.failed).padStart(7)}  ` +
    `${q.p50.padStart(8)} ${q.p99.padStart(8)}  ${r.p50.padStart(8)} ${r.p99.padStart(8)}  ${median(sw).toFixed(1).padStart(7)} ${p99(sw).toFixed(1).padStart(7)}`;
  console.log("");
  console.log(`${"method".padEnd(28)} ${"changes".padStart(7)} ${"requests".padStart(9)} ${"failed".padStart(7)}  ${"p50 idle".padStart(8)} ${"p99 idle".padStart(8)}  ${"p50 sw".padStart(8)} ${"p99 sw".padStart(8)}  ${"ms med".padStart(7)} ${"ms p99".padStart(7)}`);
  console.log(row("depl promote/canary/stop", changes, quiet, deplResult, deplSwitch));
  console.log(row("depl rename only (setLive)", renames, quiet, renameResult, renameSwitch));
  console.log(row("nginx config + reload", reloads, reloadQuiet, reloadResult, reloadSwitch));
  console.log("");
  console.log("changes: traffic changes made during the run (depl: the real promote, canary 10%, canary --stop operations in turn,");
  console.log("  each with its health check of the target over its socket and promote's check through nginx).");
  console.log("failed: socket errors + non-2xx answers seen by wrk.");
  console.log("ms med / p99: from the start of the promote (or rename, or config rewrite + reload) to the new version");
  console.log("  answering a new connection through nginx; promote's figure includes its health checks under load.");
  console.log(`req/s under switching: depl ${deplResult.rps}, rename only ${renameResult.rps}, reload ${reloadResult.rps}.`);

  await host.run(["sh", "-c", `rm -f /etc/nginx/conf.d/depl-${APP}.conf; nginx -s reload; for p in $(supervisorctl status | awk '/^${APP}-/{print $1}'); do supervisorctl stop $p; rm -f /etc/supervisor/conf.d/depl-$p.conf; done; supervisorctl reread; supervisorctl update; rm -rf ${ROOT}`], { allowFailure: true });
}

await main();
