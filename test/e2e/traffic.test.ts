import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { cleanup, E2E, writeConfig } from "./helpers.js";

// promote, rollback, canary and stats on real nginx, supervisord and Docker.

const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });
let config: string;
let v1: string;
let v2: string;

async function buildinst(cfg: string, extra: string[] = []): Promise<string> {
  const r = await depl(["-c", cfg, "buildinst", "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { version: string }).version;
}

const live = async (headers: Record<string, string> = {}) => {
  const r = await get(E2E.port, E2E.domain, "/", headers);
  return { status: r.status, version: r.headers["x-depl-version"] as string | undefined, cookie: r.headers["set-cookie"] };
};

const traffic = () => JSON.parse(sh(`cat ${E2E.root}/${E2E.app}/state.json`)) as { live: string; previous: string; canary: unknown };

beforeAll(async () => {
  cleanup();
  config = writeConfig("depl.yml");
  expectExit(await depl(["-c", config, "setup"]));
  v1 = await buildinst(config);
  // v2 answers 500 on /checkout: the canary whose stats must show it.
  v2 = await buildinst(writeConfig("v2.yml", 'env: { TESTAPP_FAIL_PATHS: "/checkout" }\n'));
});

afterAll(() => cleanup());

describe("promote and rollback", () => {
  it("serves nothing on the base domain before the first promote", async () => {
    expect((await live()).status).toBe(503);
  });

  it("promote moves the base domain and its subdomains", async () => {
    const r = await depl(["-c", config, "promote", v1]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Version ${v1} is live`);
    expect((await live()).version).toBe(v1);
    const foo = await get(E2E.port, `foo.${E2E.domain}`);
    expect(foo.body).toContain("Hello from foo");
    expect(foo.headers["x-depl-version"]).toBe(v1);
  });

  it("promote of a second version keeps the first warm as previous; rollback moves back", async () => {
    expectExit(await depl(["-c", config, "promote", v2]));
    expect((await live()).version).toBe(v2);
    expect(traffic()).toMatchObject({ live: v2, previous: v1 });
    expect(sh(`supervisorctl status ${E2E.app}-${v1}`)).toMatch(/RUNNING/);
    const r = await depl(["-c", config, "rollback"]);
    expect(r.code, r.stderr).toBe(0);
    expect((await live()).version).toBe(v1);
    expect(traffic()).toMatchObject({ live: v1, previous: v2 });
  });

  it("records every traffic change in the history", async () => {
    const r = await depl(["-c", config, "history", "--json"]);
    const actions = (JSON.parse(r.stdout) as { action: string; result: string }[]).map((e) => `${e.action}:${e.result}`);
    expect(actions).toEqual(expect.arrayContaining(["promote:ok", "rollback:ok"]));
  });
});

describe("canary", () => {
  it("sends a sticky ~5% of fresh clients to the canary", async () => {
    const r = await depl(["-c", config, "canary", v2, "5%"]);
    expect(r.code, r.stderr).toBe(0);
    let canary = 0;
    const n = 2000;
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => live()));
      canary += batch.filter((b) => b.version === v2).length;
    }
    const share = canary / n;
    expect(share).toBeGreaterThanOrEqual(0.035);
    expect(share).toBeLessThanOrEqual(0.065);
  });

  it("keeps a client with its cookie on its version for 100 requests", async () => {
    for (const want of [v1, v2]) {
      let cookie = "";
      for (let i = 0; i < 500 && !cookie; i++) {
        const r = await live();
        if (r.version === want) cookie = String(r.cookie).split(";")[0]!;
      }
      expect(cookie).toMatch(/^depl_bucket=\d\d$/);
      for (let i = 0; i < 100; i++) expect((await live({ cookie })).version).toBe(want);
    }
  });

  it("lets a client force a version by cookie or header", async () => {
    expect((await live({ cookie: `depl_version=${v2}` })).version).toBe(v2);
    expect((await live({ "x-depl-version": v2 })).version).toBe(v2);
    expect((await live({ "x-depl-version": "2001.01.01.00.00" })).status).toBe(404);
  });

  it("stats compares the canary's 5xx rate and latency with live's", async () => {
    // A sample of clients, each with its own bucket, hits /checkout.
    for (let i = 0; i < 40; i++) {
      await get(E2E.port, E2E.domain, "/checkout", { cookie: `depl_bucket=${String(i).padStart(2, "0")}` });
    }
    const r = await depl(["-c", config, "stats", "--since", "10m", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { versions: { version: string; role: string; s5xx: number; errorRate: number; p50: number }[] }).versions;
    const can = rows.find((x) => x.version === v2)!;
    const liv = rows.find((x) => x.version === v1)!;
    expect(can.role).toBe("canary 5%");
    expect(liv.role).toBe("live");
    expect(can.s5xx).toBeGreaterThanOrEqual(5);
    expect(liv.s5xx).toBe(0);
    const text = await depl(["-c", config, "stats", "--since", "10m"]);
    expect(text.stdout).toMatch(/canary vs live: 5xx rate \+/);
  });

  it("--stop sends everyone back to live", async () => {
    expectExit(await depl(["-c", config, "canary", "--stop"]));
    for (let i = 0; i < 100; i++) expect((await live({ cookie: "depl_bucket=00" })).version).toBe(v1);
  });
});

describe("promoting the canary version", () => {
  it("ends the canary and makes it live; rollback goes back", async () => {
    expectExit(await depl(["-c", config, "canary", v2, "10%"]));
    expectExit(await depl(["-c", config, "promote", v2]));
    expect(traffic()).toMatchObject({ live: v2, previous: v1, canary: null });
    for (const bucket of ["00", "05", "42"]) expect((await live({ cookie: `depl_bucket=${bucket}` })).version).toBe(v2);
    expectExit(await depl(["-c", config, "rollback"]));
    expect((await live()).version).toBe(v1);
  });
});

describe("bad input leaves traffic untouched", () => {
  it.each(["0%", "105%", "5", "abc%", "-1%"])("canary %s is a usage error (exit 2)", async (pct) => {
    const before = traffic();
    const r = await depl(["-c", config, "canary", v2, pct]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(traffic()).toEqual(before);
  });

  it("refuses a version that is not installed", async () => {
    const r = await depl(["-c", config, "promote", "2001.01.01.00.00"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/version 2001\.01\.01\.00\.00 is not installed/);
    expect((await live()).version).toBe(v1);
  });

  it("refuses a failed version", async () => {
    const failed = "2001.01.01.00.01";
    sh(`docker tag ${E2E.app}:${v1} ${E2E.app}:${failed}`);
    const bad = writeConfig("bad.yml", "health: { path: /error, timeout: 5s }\n");
    expectExit(await depl(["-c", bad, "install", failed]), 1);
    const r = await depl(["-c", config, "canary", failed, "5%"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is failed, not installed/);
    expect((await live()).version).toBe(v1);
  });
});

describe("a failed post-switch check", () => {
  it("restores the exact routing it found (live AND previous) and says so", async () => {
    // Healthy over its own socket and at its preview URL, broken on the base domain.
    const broken = await buildinst(writeConfig("broken.yml", `env: { TESTAPP_FAIL_HOSTS: "${E2E.domain}" }\n`));
    const links = () => sh(`cd ${E2E.root}/${E2E.app}/traffic && for f in *.sock *.static buckets/*; do printf '%s %s\\n' "$f" "$(readlink "$f")"; done`);
    const before = { state: traffic(), links: links() };
    expect(before.state.previous).toBeTruthy();
    const r = await depl(["-c", config, "promote", broken]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`after switching to ${broken.replace(/\./g, "\\.")}, nginx served .*; switched back to the links it had; ${v1.replace(/\./g, "\\.")} stays live`));
    expect((await live()).version).toBe(v1);
    expect(traffic()).toMatchObject({ live: v1, previous: before.state.previous });
    expect(links()).toBe(before.links);
    // The next rollback goes where it would have gone, never to the broken version.
    expect(before.state.previous).not.toBe(broken);
  });
});
