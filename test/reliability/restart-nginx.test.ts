import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get } from "../helpers/http.js";
import { startLoad } from "../helpers/load.js";
import { removeApp, sh, testApp, deployLive } from "../helpers/app.js";
import { record } from "./figures.js";

// nginx reloaded and restarted under load. Nothing of depl's runs in nginx:
// the routes are files and links, so nginx serves again as soon as it is up.
// (This file stops the machine's nginx: run it alone, as make test does.)

const t = testApp("rnginx");
let v1: string;

async function until(ok: () => Promise<boolean>, seconds: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    if (await ok().catch(() => false)) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not serving within ${seconds} s`);
}

const serving = async () => (await get(t.port, t.domain, "/health")).headers["x-depl-version"] === v1;

beforeAll(async () => {
  v1 = (await deployLive(t)).version;
});

afterAll(() => {
  sh("[ -s /run/nginx.pid ] && kill -0 $(cat /run/nginx.pid) 2>/dev/null || nginx");
  removeApp(t);
});

describe("nginx under load", () => {
  it("loses no request over 10 reloads (a client reusing a keep-alive connection may meet its close)", async () => {
    for (const keepAlive of [false, true]) {
      const load = startLoad({ host: t.domain, path: "/health", connections: 8, maxSeconds: 120, keepAlive });
      for (let i = 0; i < 10; i++) {
        sh("nginx -s reload");
        await new Promise((r) => setTimeout(r, 500));
      }
      const res = await load.stop();
      const how = keepAlive ? "keep-alive clients" : "a connection per request";
      record({ group: "restarts", case: `nginx reload x10, ${how}`, outcome: res.failed ? `failures: ${JSON.stringify(res.failures)}` : "served throughout", requests: res.requests, failed: res.failed, seconds: res.seconds });
      // Retiring workers close idle keep-alive connections; a request sent on one at that
      // instant fails at the client (browsers retry those). Nothing else may fail.
      if (keepAlive) expect(Object.keys(res.failures).filter((k) => k !== "ECONNRESET" && k !== "UND_ERR_SOCKET")).toEqual([]);
      else expect(res.failed, JSON.stringify(res.failures)).toBe(0);
    }
  });

  it("serves again as soon as a stopped nginx is started, with no depl command", async () => {
    const load = startLoad({ host: t.domain, path: "/health", connections: 8, maxSeconds: 120 });
    await new Promise((r) => setTimeout(r, 1000));
    sh("nginx -s stop; while [ -e /run/nginx.pid ]; do sleep 0.05; done");
    const stopped = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    sh("nginx");
    const back = await until(serving, 30);
    await new Promise((r) => setTimeout(r, 1000));
    const res = await load.stop();
    const down = (Date.now() - stopped) / 1000 - 1 - back;
    record({ group: "restarts", case: "nginx stopped 2 s, started", outcome: `serving ${back.toFixed(2)} s after start (down ${down.toFixed(1)} s)`, requests: res.requests, failed: res.failed, seconds: back });
    expect(back).toBeLessThan(5);
    // Requests during the 2 s with no nginx fail (connection refused): nothing else does.
    expect(Object.keys(res.failures).filter((k) => k !== "ECONNREFUSED" && k !== "ECONNRESET" && k !== "UND_ERR_SOCKET")).toEqual([]);
  });
});
