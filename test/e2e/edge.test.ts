import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { buildinst, removeApp, testApp, writeAppConfig } from "../helpers/app.js";
import { openWs } from "../helpers/ws.js";

// What users expect of the proxy in front of their app: WebSockets that keep
// their version across a switch, and request limits from depl.yml.

const t = testApp("wsock");
let config = "";
let v1 = "";
let v2 = "";

beforeAll(async () => {
  removeApp(t);
  config = writeAppConfig(t, "depl.yml");
  writeFileSync(config, readFileSync(config, "utf8").replace(/^nginx: .*$/m, `nginx: { listen: ${t.port}, max_body_size: 2MB }`));
  expectExit(await depl(["-c", config, "setup"]));
  v1 = await buildinst(config);
  expectExit(await depl(["-c", config, "promote", v1]));
  v2 = await buildinst(config);
});

afterAll(() => removeApp(t));

describe("WebSockets", () => {
  it("an open socket stays on its version across a promote; new sockets and requests go to the new one", async () => {
    const ws = await openWs(80, t.domain);
    expect(ws.headers["x-depl-version"]).toBe(v1);
    expect(await ws.ask("hello")).toBe(`${v1}: hello`);
    expectExit(await depl(["-c", config, "promote", v2]));
    expect((await get(80, t.domain, "/health")).headers["x-depl-version"]).toBe(v2);
    expect(await ws.ask("still there?")).toBe(`${v1}: still there?`);
    const fresh = await openWs(80, t.domain);
    expect(await fresh.ask("new")).toBe(`${v2}: new`);
    // A preview's socket reaches that version.
    const preview = await openWs(80, `${v1}.${t.domain}`);
    expect(await preview.ask("p")).toBe(`${v1}: p`);
    await Promise.all([ws.close(), fresh.close(), preview.close()]);
  });

  it("any other Upgrade is not passed on: the request is answered like a plain one", () => {
    const out = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", `Host: ${t.domain}`, "-H", "Connection: Upgrade", "-H", "Upgrade: h2c", "http://127.0.0.1:80/health"], { encoding: "utf8" });
    expect(out).toBe("200");
  });
});

describe("request limits", () => {
  it("refuses a body over nginx.max_body_size with 413 and passes one under it", async () => {
    const post = async (bytes: number) =>
      (await request(`http://127.0.0.1:80/`, { method: "POST", headers: { host: t.domain, "content-type": "application/octet-stream" }, body: Buffer.alloc(bytes) })).statusCode;
    expect(await post(1024 * 1024)).toBe(200);
    expect(await post(3 * 1024 * 1024)).toBe(413);
  });
});
