import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { startLoad } from "../helpers/load.js";
import { removeApp, testApp, writeAppConfig, deployLive } from "../helpers/app.js";
import { record } from "./figures.js";

// Releases that misbehave in each way a real one does: each is refused, never
// routed, and live traffic does not notice (0 failed requests).

const t = testApp("badrel");
let v1: string;

const BAD: { name: string; extra: string }[] = [
  { name: "exits at start", extra: 'run: { wsgi: "testapp.faults:exits_at_start", workers: 1, threads: 2 }' },
  { name: "never opens its socket", extra: 'run: { wsgi: "testapp.faults:no_socket", workers: 1, threads: 2 }' },
  { name: "500 on health", extra: 'env: { TESTAPP_FAIL_PATHS: "/health" }' },
  { name: "hangs", extra: 'run: { wsgi: "testapp.faults:hangs", workers: 1, threads: 2 }' },
  { name: "crashes under load", extra: 'run: { wsgi: "testapp.faults:crash_under_load", workers: 1, threads: 8 }' },
];

beforeAll(async () => {
  v1 = (await deployLive(t)).version;
});

afterAll(() => removeApp(t));

describe("bad releases under live traffic", () => {
  for (const bad of BAD) {
    it(`refuses a release that ${bad.name}`, async () => {
      // writeAppConfig's run: line comes first; a later run: key would be a YAML duplicate, so replace it.
      // A short health timeout keeps the suite quick; refusing must not depend on it.
      const health = "health: { timeout: 20s }\n";
      const path = writeAppConfig(t, "bad.yml", health + (bad.extra.startsWith("run:") ? "" : bad.extra));
      const config = bad.extra.startsWith("run:") ? rewriteRun(path, bad.extra) : path;
      // A connection per request: other suites reload the shared nginx meanwhile, and a reused
      // keep-alive connection can meet a retiring worker's close (restart-nginx.test.ts measures that).
      const load = startLoad({ host: t.domain, path: "/health", connections: 4, maxSeconds: 200, keepAlive: false });
      const started = Date.now();
      const version = versionName();
      const r = await depl(["-c", config, "buildinst", "--json", "--version-name", version]);
      const seconds = (Date.now() - started) / 1000;
      const res = await load.stop();
      record({ group: "bad releases", case: bad.name, outcome: r.code === 0 ? "ACCEPTED" : "refused", requests: res.requests, failed: res.failed, seconds });
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(/failed|did not stay up|not healthy/);
      expect(res.failed, JSON.stringify(res.failures)).toBe(0);
      expect((await get(t.port, `${version}.${t.domain}`)).status).toBe(404);
      const live = await get(t.port, t.domain, "/health");
      expect(live.headers["x-depl-version"]).toBe(v1);
      const list = JSON.parse((await depl(["-c", config, "list", "--json"])).stdout) as { version: string; state: string }[];
      expect(list.find((x) => x.version === version)?.state).toBe("failed");
    });
  }
});

let n = 0;
/** A fresh version name per bad release (a timestamp two builds in one minute would share). */
function versionName(): string {
  n++;
  return `2020.01.01.00.${String(n).padStart(2, "0")}`;
}

function rewriteRun(path: string, runLine: string): string {
  writeFileSync(path, readFileSync(path, "utf8").replace(/^run: .*$/m, runLine));
  return path;
}
