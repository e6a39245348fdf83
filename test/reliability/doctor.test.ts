import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { removeApp, sh, testApp, deployLive } from "../helpers/app.js";

// depl doctor on real services: break what depl recorded, then let doctor find and repair it.

const t = testApp("doc");
const base = `${t.root}/${t.app}`;
let config: string;
let v1: string;

const served = async (host: string) => {
  const r = await get(t.port, host, "/health");
  return { status: r.status, version: r.headers["x-depl-version"] };
};

beforeAll(async () => {
  ({ config, version: v1 } = await deployLive(t));
});

afterAll(() => removeApp(t));

describe("depl doctor", () => {
  it("finds nothing to do on a healthy host", async () => {
    const r = await depl(["-c", config, "doctor", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const findings = JSON.parse(r.stdout) as { check: string; status: string }[];
    expect(findings.filter((f) => f.status !== "ok")).toEqual([]);
    expect(findings.map((f) => f.check)).toEqual(expect.arrayContaining(["services", "nginx site", `program ${t.app}-${v1}`, "traffic"]));
  });

  it("reports a stopped program, a lost route, a lost live link and an edited site, changes nothing with --dry-run, then repairs them all", async () => {
    sh(`supervisorctl stop ${t.app}-${v1}`);
    sh(`rm ${base}/traffic/versions/${v1}.sock ${base}/traffic/live.sock`);
    writeFileSync(`${base}/nginx/site.conf`, readFileSync(`${base}/nginx/site.conf`, "utf8") + "# edited by hand\n");
    expect((await served(t.domain)).status).not.toBe(200);

    const dry = await depl(["-c", config, "doctor", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.stderr).toMatch(/problems? left/);
    const found = JSON.parse(dry.stdout) as { check: string; status: string }[];
    const broken = found.filter((f) => f.status === "broken").map((f) => f.check);
    expect(broken).toEqual(expect.arrayContaining(["nginx site", `program ${t.app}-${v1}`, `route ${v1}`, "traffic"]));
    expect(sh(`supervisorctl status ${t.app}-${v1} || true`)).toMatch(/STOPPED/);

    const fix = await depl(["-c", config, "doctor"]);
    expect(fix.code, fix.stderr).toBe(0);
    expect(fix.stdout).toMatch(/local: \d+ ok, [1-9]\d* fixed, \d+ warnings, 0 broken/);
    expect(await served(t.domain)).toEqual({ status: 200, version: v1 });
    expect(await served(`${v1}.${t.domain}`)).toEqual({ status: 200, version: v1 });
    expect(readFileSync(`${base}/nginx/site.conf`, "utf8")).not.toContain("edited by hand");

    const again = await depl(["-c", config, "doctor", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { status: string }[]).filter((f) => f.status !== "ok")).toEqual([]);
  });
});
