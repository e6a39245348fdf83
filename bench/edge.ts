// npm run bench:edge: HTTPS against plain HTTP through the same nginx, and
// requests lost while certificates are swapped (depl tls renew) under load.
// Prints figures; asserts nothing.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { startLoad } from "../test/helpers/load.js";
import { certificateNames, ensureCa, issue } from "../src/tls/self-signed.js";

const APP = "benchedge";
const DOMAIN = "benchedge.localhost";
const ROOT = "/srv/depl-benchedge";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const SWAPS = Number(process.env.BENCH_SWAPS ?? 20);
const dir = "/tmp/depl-benchedge";
const repo = new URL("..", import.meta.url).pathname;
const deplCli = (...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", `${repo}src/cli.ts`, "-c", `${dir}/depl.yml`, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

function writeConfig(cert: string) {
  // redirect: false, so plain HTTP serves the same site and the two can be compared.
  writeFileSync(
    `${dir}/depl.yml`,
    `app: ${APP}\ndomain: ${DOMAIN}\nroot: ${ROOT}\nbuild: { context: ${repo}testapp }\nrun: { wsgi: "testapp.app:application", workers: 2, threads: 8 }\n` +
      `tls:\n  redirect: false\n  certificates:\n    - { cert: ${dir}/${cert}.crt, key: ${dir}/${cert}.key }\n`,
  );
}

function wrk(url: string, close: boolean): Promise<{ rps: number; requests: number; errors: number; p99: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-H", `Host: ${DOMAIN}`, ...(close ? ["-H", "Connection: close"] : []), url]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("close", () => {
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        rps: Number(/Requests\/sec:\s+(\S+)/.exec(out)?.[1] ?? NaN),
        requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
        errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0),
        p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "?",
      });
    });
  });
}

async function main() {
  mkdirSync(dir, { recursive: true });
  const ca = ensureCa(dir, DOMAIN);
  const names = certificateNames(DOMAIN, []);
  const now = Date.now();
  for (const n of ["a", "b"]) issue(ca, { cert: `${dir}/${n}.crt`, key: `${dir}/${n}.key` }, names, new Date(now - 60_000), new Date(now + 30 * 86_400_000));
  writeConfig("a");
  deplCli("setup");
  const v = JSON.parse(deplCli("buildinst", "--json")).version as string;
  deplCli("promote", v);
  try {
    console.log(`\nnpm run bench:edge: wrk, ${CONNECTIONS} connections, ${SECONDS} s each, GET / of testapp through nginx\n`);
    console.log("| connections | scheme | requests/s | HTTPS vs HTTP | errors | p99 |");
    console.log("|---|---|---|---|---|---|");
    for (const close of [false, true]) {
      const http = await wrk("http://127.0.0.1:80/", close);
      const https = await wrk("https://127.0.0.1:443/", close);
      const kind = close ? "one per request (a TLS handshake each)" : "keep-alive";
      console.log(`| ${kind} | HTTP | ${http.rps.toFixed(0)} | - | ${http.errors} | ${http.p99} |`);
      console.log(`| ${kind} | HTTPS | ${https.rps.toFixed(0)} | ${(((https.rps - http.rps) / http.rps) * 100).toFixed(1)}% | ${https.errors} | ${https.p99} |`);
    }

    const caPem = readFileSync(ca.cert, "utf8");
    const perRequest = startLoad({ host: DOMAIN, port: 443, path: "/health", connections: 8, keepAlive: false, ca: caPem, maxSeconds: 600 });
    const keepAlive = startLoad({ host: DOMAIN, port: 443, path: "/health", connections: 8, ca: caPem, retryOnReset: true, maxSeconds: 600 });
    const took: number[] = [];
    for (let i = 0; i < SWAPS; i++) {
      writeConfig(i % 2 === 0 ? "b" : "a");
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ["--import", "tsx", `${repo}src/cli.ts`, "-c", `${dir}/depl.yml`, "tls", "renew"], { encoding: "utf8" });
      const out = r.stdout + r.stderr;
      took.push(Date.now() - t0);
      if (!/reloaded once/.test(out)) throw new Error(`swap ${i + 1} did not reload nginx:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const [a, b] = [await perRequest.stop(), await keepAlive.stop()];
    took.sort((x, y) => x - y);
    console.log(`\n${SWAPS} certificate swaps (depl tls renew, alternating two certificates) under HTTPS load; depl tls renew took ${took[took.length >> 1]} ms median, ${took[took.length - 1]} ms max\n`);
    console.log("| load | requests | failed | resent after a closed connection |");
    console.log("|---|---|---|---|");
    console.log(`| 8 loops, a connection per request | ${a.requests} | ${a.failed} ${a.failed ? JSON.stringify(a.failures) : ""} | - |`);
    console.log(`| 8 loops, keep-alive (a GET resent once, as browsers do) | ${b.requests} | ${b.failed} ${b.failed ? JSON.stringify(b.failures) : ""} | ${b.retried} |`);
  } finally {
    execFileSync("sh", ["-c", `rm -f /etc/nginx/conf.d/depl-${APP}.conf; nginx -s reload; for p in $(supervisorctl status | awk '/^${APP}-/{print $1}'); do supervisorctl stop $p; rm -f /etc/supervisor/conf.d/depl-$p.conf; done; supervisorctl reread; supervisorctl update; docker ps -aq --filter label=depl.app=${APP} | xargs -r docker rm -f; rm -rf ${ROOT}`], { stdio: "ignore" });
  }
}

await main();
