import { readFileSync, existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { startLoad } from "../helpers/load.js";
import { deployLive, removeApp, sh, testApp, writeAppConfig } from "../helpers/app.js";

// The release phase (config `release`): database migrations run once per
// version in its own image, at promote (or a canary's start), never at
// install; a failure or a timeout stops the promote with nothing switched.

const t = testApp("relph");
const base = `${t.root}/${t.app}`;
const LOG = `${base}/shared/data/migrations`;
const shared = `shared: { data: /app/data }\n`;
const migrate = `release: ["sh", "-c", "echo migrated $DEPL_VERSION >> /app/data/migrations; echo schema ready"]\n`;
let config: string;
let v1: string;

const run = (args: string[], cfg = config) => depl(["-c", cfg, ...args]);
const live = async () => (await get(t.port, t.domain, "/health")).headers["x-depl-version"];
const migrations = () => (existsSync(LOG) ? readFileSync(LOG, "utf8").trim().split("\n").filter(Boolean) : []);
const releaseJson = (v: string) => JSON.parse(readFileSync(`${base}/releases/${v}/release.json`, "utf8")) as { release_phase?: { result: string; host: string } | null };
const lastAudit = () => readFileSync(`${base}/audit.log`, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { action: string; version?: string; result: string; detail?: string });
/** Another version of the same image, installed (not live). */
async function installTagged(v: string, cfg = config): Promise<void> {
  sh(`docker tag ${t.app}:${v1} ${t.app}:${v}`);
  expectExit(await run(["install", v], cfg));
}

beforeAll(async () => {
  ({ config, version: v1 } = await deployLive(t, shared + migrate));
});

afterAll(() => removeApp(t));

describe("the release phase", () => {
  it("ran for the first version at its promote, recorded in release.json and the audit log", () => {
    expect(migrations()).toEqual([`migrated ${v1}`]);
    expect(releaseJson(v1).release_phase).toMatchObject({ result: "ok", host: "local" });
    expect(lastAudit().some((e) => e.action === "release" && e.version === v1 && e.result === "ok")).toBe(true);
  });

  it("does not run at install, runs once at promote while live keeps serving, and never again for that version", async () => {
    const v2 = "2001.01.01.00.02";
    await installTagged(v2);
    expect(migrations()).toEqual([`migrated ${v1}`]); // install alone changes no schema
    // Resent once when a keep-alive connection closes under it, as browsers do (other suites reload the machine's nginx).
    const load = startLoad({ host: t.domain, path: "/health", connections: 4, maxSeconds: 120, retryOnReset: true });
    const p = expectExit(await run(["promote", v2]));
    const res = await load.stop();
    expect(p.stderr).toContain(`release phase of ${v2}: sh -c`);
    expect(p.stderr).toMatch(/release phase of 2001\.01\.01\.00\.02 passed in [0-9.]+ s/);
    expect(res.failed, JSON.stringify(res.failures)).toBe(0);
    expect(await live()).toBe(v2);
    expect(migrations()).toEqual([`migrated ${v1}`, `migrated ${v2}`]);
    // Rollback never runs it; promoting v2 again does not run it twice.
    expectExit(await run(["rollback"]));
    expectExit(await run(["promote", v2]));
    expect(migrations()).toEqual([`migrated ${v1}`, `migrated ${v2}`]);
  });

  it("a failing release phase stops the promote with nothing switched, and says why with its output", async () => {
    const v3 = "2001.01.01.00.03";
    const failing = writeAppConfig(t, "failing.yml", shared + `release: ["sh", "-c", "echo cannot migrate: column exists >&2; exit 3"]\n`);
    await installTagged(v3, failing);
    const before = await live();
    const p = await run(["promote", v3], failing);
    expect(p.code, p.stderr).toBe(1);
    expect(p.stderr).toContain(`the release phase of ${v3} failed (exit 3); the promote did not start and nothing was switched`);
    expect(p.stderr).toContain("cannot migrate: column exists");
    expect(await live()).toBe(before);
    expect(releaseJson(v3).release_phase ?? null).toBeNull();
    const audit = lastAudit();
    expect(audit.at(-2)).toMatchObject({ action: "release", version: v3, result: "failed" });
    expect(audit.at(-1)).toMatchObject({ action: "promote", version: v3, result: "failed" });
  });

  it("a release phase past release_timeout is stopped, and the promote with it", async () => {
    const v4 = "2001.01.01.00.04";
    const slow = writeAppConfig(t, "slow.yml", shared + `release: ["sleep", "60"]\nrelease_timeout: 2s\n`);
    await installTagged(v4, slow);
    const before = await live();
    const p = await run(["promote", v4], slow);
    expect(p.code, p.stderr).toBe(1);
    expect(p.stderr).toContain(`the release phase of ${v4} timed out after 2 s (release_timeout) and was stopped`);
    expect(await live()).toBe(before);
    expect(sh(`docker ps -q --filter name=^depl-${t.app}-${v4}-release`).trim()).toBe("");
  });

  it("--skip-release promotes without it and records the skip; a canary runs the phase before its first request", async () => {
    const v5 = "2001.01.01.00.05";
    const failing = writeAppConfig(t, "failing.yml", shared + `release: ["sh", "-c", "exit 3"]\n`);
    await installTagged(v5, failing);
    expectExit(await run(["promote", "--skip-release", v5], failing));
    expect(await live()).toBe(v5);
    expect(releaseJson(v5).release_phase).toMatchObject({ result: "skipped" });
    expect(lastAudit().some((e) => e.action === "release" && e.version === v5 && e.detail === "skipped (--skip-release)")).toBe(true);

    const v6 = "2001.01.01.00.06";
    await installTagged(v6);
    expectExit(await run(["canary", v6, "10%"]));
    expect(migrations().at(-1)).toBe(`migrated ${v6}`);
    expectExit(await run(["canary", "--stop"]));
  });

  it("refuses a release command that is not a list of words, in one line", async () => {
    const bad = writeAppConfig(t, "bad.yml", `release: "python manage.py migrate"\n`);
    const r = await run(["list"], bad);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/release/);
  });
});
