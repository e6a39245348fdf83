// npm run bench:watch: what watching costs. Requests per second through
// nginx (wrk, a fresh bucket per connection, 10% canary) with nothing
// watching, then beside `depl canary --watch`, `depl stats --watch` and
// `depl dashboard`. Prints figures; asserts nothing.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const APP = "benchwatch";
const DOMAIN = "benchwatch.localhost";
const ROOT = "/srv/depl-benchwatch";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const dir = "/tmp/depl-benchwatch";
const repo = new URL("..", import.meta.url).pathname;
const cliArgs = (...args: string[]) => ["--import", "tsx", `${repo}src/cli.ts`, "-c", `${dir}/depl.yml`, ...args];
const deplCli = (...args: string[]) => execFileSync(process.execPath, cliArgs(...args), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

function wrk(seconds: number): Promise<{ rps: number; requests: number; non2xx: number; p99: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-H", `Host: ${DOMAIN}`, "-H", "Connection: close", "http://127.0.0.1/"]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("close", () =>
      resolve({
        rps: Number(/Requests\/sec:\s+(\S+)/.exec(out)?.[1] ?? NaN),
        requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
        non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
        p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "?",
      }),
    );
  });
}

interface Bg {
  p: ChildProcess;
  out: string;
  closed: Promise<number | null>;
}

function background(...args: string[]): Bg {
  const p = spawn(process.execPath, cliArgs(...args), { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
  const bg: Bg = { p, out: "", closed: new Promise((res) => p.on("close", res)) };
  p.stdout!.on("data", (d) => (bg.out = (bg.out + d).slice(-4000)));
  p.stderr!.on("data", (d) => (bg.out = (bg.out + d).slice(-4000)));
  return bg;
}

const cpuOf = (pid: number | undefined) => {
  if (pid === undefined) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(" ");
    return (Number(f[13]) + Number(f[14])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
};

async function measure(name: string, start?: () => Bg) {
  const bg = start?.();
  if (bg) await new Promise((r) => setTimeout(r, 4000)); // past its start-up (reading the logs, the first switch)
  const cpu0 = cpuOf(bg?.p.pid);
  const r = await wrk(SECONDS);
  const cpu = bg ? `${(((cpuOf(bg.p.pid) - cpu0) / SECONDS) * 100).toFixed(1)}%` : "-";
  if (bg) {
    bg.p.kill("SIGINT");
    const code = await bg.closed;
    if (code !== 130 && code !== 0) console.error(`${name}: exited ${code} before the end of the load:\n${bg.out}`);
  }
  return { name, ...r, cpu };
}

async function main() {
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/depl.yml`, `app: ${APP}\ndomain: ${DOMAIN}\nroot: ${ROOT}\nbuild: { context: ${repo}testapp }\nrun: { wsgi: "testapp.app:application", workers: 2, threads: 8 }\ncanary: { interval: 5s }\n`);
  deplCli("setup");
  const a = JSON.parse(deplCli("buildinst", "--json")).version as string;
  const b = JSON.parse(deplCli("buildinst", "--json")).version as string;
  deplCli("promote", a);
  deplCli("canary", b, "10%");
  try {
    const rows = [];
    rows.push(await measure("canary 10%, nothing watching"));
    deplCli("canary", b, "10%");
    rows.push(await measure(`depl canary --watch (check every 5 s)`, () => background("canary", b, "10%", "--watch", `${SECONDS + 30}s`)));
    deplCli("canary", b, "10%");
    rows.push(await measure("depl stats --watch (every 3 s)", () => background("stats", "--watch", "--since", "15m")));
    rows.push(await measure("depl dashboard (polls every 2 s, no browser)", () => background("dashboard", "--port", "18078")));
    rows.push(await measure("canary 10%, nothing watching (again)"));
    const base = (rows[0]!.rps + rows[4]!.rps) / 2;
    // The two "nothing watching" runs bracket the others: their spread is this machine's noise.
    console.log(`\nnpm run bench:watch (wrk, ${CONNECTIONS} connections, a connection per request, ${SECONDS} s each, 10% canary)\n`);
    console.log("| running beside the load | requests/s | vs nothing | non-2xx | p99 | its CPU |");
    console.log("|---|---|---|---|---|---|");
    for (const r of rows) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${(((r.rps - base) / base) * 100).toFixed(1)}% | ${r.non2xx} | ${r.p99} | ${r.cpu} |`);
  } finally {
    execFileSync("sh", ["-c", `rm -f /etc/nginx/conf.d/depl-${APP}.conf; nginx -s reload; for p in $(supervisorctl status | awk '/^${APP}-/{print $1}'); do supervisorctl stop $p; rm -f /etc/supervisor/conf.d/depl-$p.conf; done; supervisorctl reread; supervisorctl update; docker ps -aq --filter label=depl.app=${APP} | xargs -r docker rm -f; rm -rf ${ROOT}`], { stdio: "ignore" });
  }
}

await main();
