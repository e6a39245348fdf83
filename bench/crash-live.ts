// Kills the live version's container under wrk load and counts the requests that failed.
// A private nginx on a free port (the system's is never touched), two containers of a depl
// runtime image on unix sockets laid out as depl does, live = B, previous = A.
// Usage: npx tsx bench/crash-live.ts <image> [seconds=10] [kill-at=3]
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { LocalHost } from "../src/host/local.js";
import { applySite } from "../src/nginx/apply.js";
import type { SiteConfig } from "../src/nginx/render.js";
import { layout } from "../src/naming/layout.js";
import { ensureTrafficDirs, routeVersion, setLive } from "../src/switch/traffic.js";

const [image, seconds = "10", killAt = "3"] = process.argv.slice(2);
if (!image) throw new Error("usage: crash-live.ts <image> [seconds] [kill-at]");
const A = "2001.01.01.00.01";
const B = "2001.01.01.00.02";
const root = "/srv/depl-crashbench";
const dir = `${root}/nginx-instance`;
const host = new LocalHost();

const port = await new Promise<number>((r) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => r(p));
  });
});
const config: SiteConfig = { app: "crash", domain: "crash.localhost", subdomains: [], root, nginx: { listen: port, conf_dir: `${dir}/conf.d` } };
const l = layout(root, "crash");
await rm(root, { recursive: true, force: true });
await mkdir(`${dir}/conf.d`, { recursive: true });
await chmod(root, 0o755);
const conf = `${dir}/nginx.conf`;
await writeFile(conf, `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nworker_processes 2;\nevents { worker_connections 4096; }\nhttp {\n    access_log off;\n    client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;\n    include ${dir}/conf.d/*.conf;\n}\n`);
const ctl = { instanceArgs: ["-p", `${dir}/`, "-c", conf], pidFile: `${dir}/nginx.pid`, reload: "signal" as const };
await applySite(host, config, ctl);
const nginx = spawn("/usr/sbin/nginx", ["-p", `${dir}/`, "-c", conf, "-g", "daemon off;"], { stdio: "inherit" });
const names = [A, B].map((v) => `crashbench-${v.replace(/\./g, "-")}`);
try {
  for (const [i, v] of [A, B].entries()) {
    await mkdir(l.sockDir(v), { recursive: true });
    await chmod(l.sockDir(v), 0o777);
    spawnSync("docker", ["rm", "-f", names[i]!]);
    const run = spawnSync("docker", ["run", "-d", "--init", "--name", names[i]!, "--user", "65534:65534", "-v", `${l.sockDir(v)}:/run/app`,
      "-e", `DEPL_VERSION=${v}`, image, "/app/venv/bin/python", "-m", "gunicorn", "--bind", "unix:/run/app/app.sock", "--backlog", "2048",
      "--workers", "2", "--threads", "8", "--worker-class", "gthread", "--umask", "0", "depl_wsgi:application"], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(run.stderr);
  }
  for (let i = 0; i < 100 && !(await host.exists(l.socket(A)) && await host.exists(l.socket(B))); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1000));
  await ensureTrafficDirs(host, l);
  for (const v of [A, B]) await routeVersion(host, l, v);
  await setLive(host, l, A);
  await setLive(host, l, B);
  const wrk = spawn("wrk", ["-t2", "-c20", `-d${seconds}s`, "-H", "Host: crash.localhost", "-H", "Cookie: depl_bucket=50", `http://127.0.0.1:${port}/`], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((r) => wrk.once("exit", r));
  let out = "";
  wrk.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  await new Promise((r) => setTimeout(r, Number(killAt) * 1000));
  spawnSync("docker", ["kill", names[1]!]);
  console.log(`killed ${names[1]} (live ${B}) at ${killAt} s`);
  await exited;
  console.log(out.trim());
  const after = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %header{x-depl-version}", "-H", "Host: crash.localhost", `http://127.0.0.1:${port}/`], { encoding: "utf8" });
  console.log(`after the kill: ${after.stdout}`);
} finally {
  nginx.kill("SIGTERM");
  for (const n of names) spawnSync("docker", ["rm", "-f", n]);
  await rm(root, { recursive: true, force: true });
}
