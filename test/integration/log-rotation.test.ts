import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { rotateLogs } from "../../src/logs/rotate.js";
import { layout } from "../../src/naming/layout.js";
import { StatsAccumulator } from "../../src/stats/compute.js";
import { streamAccessLogs } from "../../src/stats/read.js";
import { startLoad } from "../helpers/load.js";

// A real nginx of its own (own prefix, pid file and port), writing depl's
// access log under load while rotateLogs renames it and signals a reopen:
// every request served must be in exactly one file, and nginx is never reloaded.

const dir = mkdtempSync(join(tmpdir(), "depl-logrot-"));
const l = layout(dir, "app");
const port = 18000 + (process.pid % 1000);
const pidFile = join(dir, "nginx.pid");
const nginx = (...args: string[]) => execFileSync("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), ...args], { encoding: "utf8" });
const workers = () => execFileSync("sh", ["-c", `pgrep -P ${readFileSync(pidFile, "utf8").trim()} | sort`], { encoding: "utf8" });

beforeAll(() => {
  // As install makes them: workers (not root) reopen the file, so they must reach the directory.
  chmodSync(dir, 0o755);
  mkdirSync(l.logDir, { recursive: true, mode: 0o755 });
  mkdirSync(l.releases, { recursive: true });
  writeFileSync(
    join(dir, "nginx.conf"),
    `pid ${pidFile};
error_log ${dir}/error.log;
worker_processes 2;
events {}
http {
  log_format depl escape=json '{"msec":"$msec","status":"$status","request_time":"$request_time","version":"v1"}';
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    access_log ${l.accessLog} depl;
    location / { return 200 "ok\\n"; }
  }
}
`,
  );
  mkdirSync(join(dir, "tmp"));
  nginx();
});

afterAll(() => {
  try {
    nginx("-s", "quit");
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("access log rotation under load", () => {
  it("loses no request line over 20 rotations, and never reloads nginx", async () => {
    const before = workers();
    const load = startLoad({ host: "rot.localhost", port, connections: 8, maxSeconds: 60 });
    const rotated: string[] = [];
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const plan = await rotateLogs(new LocalHost(), l, { maxBytes: 1, keep: 1000, maxAgeMs: 86_400_000 }, { pidFile });
      if (plan.rotateTo) rotated.push(plan.rotateTo);
    }
    const res = await load.stop();
    await new Promise((r) => setTimeout(r, 500)); // workers flush nothing late (no buffer), but let them finish
    expect(res.failed).toBe(0);
    expect(rotated.length).toBeGreaterThanOrEqual(19);
    const files = readdirSync(l.logDir).filter((f) => f.startsWith("access.log"));
    expect(files.length).toBe(rotated.length + 1);
    const lines = files.reduce((n, f) => n + readFileSync(join(l.logDir, f), "utf8").split("\n").filter(Boolean).length, 0);
    expect(lines).toBe(res.requests);
    // stats reads them all back, streamed.
    const acc = new StatsAccumulator(0);
    await streamAccessLogs(new LocalHost(), l, 0, (r) => acc.add(r), 64 * 1024);
    expect(acc.result()[0]!.requests).toBe(res.requests);
    expect(workers()).toBe(before);
    console.log(`log rotation: ${res.requests} requests over ${rotated.length} rotations in ${res.seconds.toFixed(1)} s, ${lines} lines logged`);
  });
});
