import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { startLoad } from "../helpers/load.js";
import { buildinst, removeApp, sh, testApp, writeAppConfig } from "../helpers/app.js";
import { record } from "./figures.js";

// The live container killed under load: requests that cannot reach it are
// answered by the previous version (nginx's way out), and supervisord starts
// the live one again by itself.

const t = testApp("rcrash");
let v1: string;
let v2: string;

beforeAll(async () => {
  removeApp(t);
  const config = writeAppConfig(t, "depl.yml");
  expectExit(await depl(["-c", config, "setup"]));
  v1 = await buildinst(config);
  v2 = await buildinst(config);
  expectExit(await depl(["-c", config, "promote", v1]));
  expectExit(await depl(["-c", config, "promote", v2]));
});

afterAll(() => removeApp(t));

describe("the live container killed under load", () => {
  it("loses no request, and live serves again with no command typed", async () => {
    const load = startLoad({ host: t.domain, path: "/health", connections: 8, maxSeconds: 120, keepAlive: false });
    await new Promise((r) => setTimeout(r, 1000));
    sh(`docker kill depl-${t.app}-${v2}`);
    const killed = Date.now();
    let back = 0;
    while (Date.now() - killed < 60_000) {
      const r = await get(t.port, t.domain, "/health").catch(() => null);
      if (r?.status === 200 && r.headers["x-depl-version"] === v2) {
        back = (Date.now() - killed) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const res = await load.stop();
    record({ group: "restarts", case: "live container killed", outcome: `previous answered meanwhile; live back after ${back.toFixed(1)} s`, requests: res.requests, failed: res.failed, seconds: back });
    expect(back, "live serves again").toBeGreaterThan(0);
    expect(res.failed, JSON.stringify(res.failures)).toBe(0);
  });
});
