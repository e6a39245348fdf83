import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { depl, REPO, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { buildinst, removeApp, sh, testApp, writeAppConfig } from "../helpers/app.js";
import { record } from "./figures.js";

// depl killed with SIGKILL at every step boundary of every mutating operation
// (DEPL_FAULT_AT, read in src/release/fault.ts). After each kill: nginx serves
// the base domain from a healthy version, `depl list` works, no state file is
// half-written; then rerunning the command (or --resume) completes it.

const t = testApp("faults");
const base = `${t.root}/${t.app}`;
const stateDir = `/tmp/depl-${t.app}-state`;
const env = { DEPL_STATE_DIR: stateDir };
let config: string;
let v1: string;
let v2: string;

const run = (args: string[], extra: Record<string, string> = {}) => depl(["-c", config, ...args], { env: { ...env, ...extra } });

/** The fault points an operation passes, in order, from a run with DEPL_FAULT_LIST=1. */
async function pointsOf(args: string[]): Promise<string[]> {
  const r = await run(args, { DEPL_FAULT_LIST: "1" });
  expect(r.code, r.stderr).toBe(0);
  return [...r.stderr.matchAll(/^depl-fault-point: (\S+)$/gm)].map((m) => m[1]!);
}

/** What must hold after any kill. */
async function invariants(): Promise<void> {
  const live = await get(t.port, t.domain, "/health");
  expect(live.status, "base domain").toBe(200);
  expect([v1, v2]).toContain(live.headers["x-depl-version"]);
  const list = await run(["list", "--json"]);
  expect(list.code, list.stderr).toBe(0);
  JSON.parse(list.stdout);
  JSON.parse(readFileSync(`${base}/state.json`, "utf8"));
  for (const v of readdirSync(`${base}/releases`)) {
    const meta = `${base}/releases/${v}/release.json`;
    if (existsSync(meta)) JSON.parse(readFileSync(meta, "utf8"));
  }
  for (const f of existsSync(stateDir) ? readdirSync(stateDir).filter((f) => f.endsWith(".json")) : []) JSON.parse(readFileSync(`${stateDir}/${f}`, "utf8"));
}

const liveVersion = async () => (await get(t.port, t.domain, "/health")).headers["x-depl-version"];
const state = () => JSON.parse(readFileSync(`${base}/state.json`, "utf8")) as { live: string; previous: string | null; canary: { version: string; percent: number } | null };

/**
 * For every point of `args`: reset(), kill there, check the invariants,
 * rerun with `rerun` (the same command unless given), check(); recorded as figures.
 */
async function killAtEveryPoint(
  name: string,
  argsOf: () => string[],
  o: {
    reset: () => Promise<void>;
    rerun?: (killedAt: string) => string[];
    /** A rerun after the last step may find the work done: this refusal then counts as done. */
    doneSays?: RegExp;
    check: () => Promise<void>;
  },
) {
  await o.reset();
  const points = await pointsOf(argsOf());
  expect(points.length, `${name} has fault points`).toBeGreaterThan(0);
  let survived = 0;
  for (const point of points) {
    await o.reset();
    const args = argsOf();
    const killed = await run(args, { DEPL_FAULT_AT: point });
    expect(killed.signal, `${point}: ${killed.stderr}`).toBe("SIGKILL");
    await invariants();
    const again = await run(o.rerun?.(point) ?? args);
    const done = again.code === 1 && o.doneSays?.test(again.stderr) === true;
    if (!done) expect(again.code, `rerun after a kill at ${point}: ${again.stderr}`).toBe(0);
    await o.check();
    survived++;
  }
  record({ group: "fault points", case: name, outcome: `${survived} of ${points.length} kills survived: ${points.join(", ")}` });
}

beforeAll(async () => {
  removeApp(t);
  sh(`rm -rf ${stateDir}`);
  config = writeAppConfig(t, "depl.yml", "retention: { keep: 3 }\n");
  expectExit(await run(["setup"]));
  v1 = await buildinst(config);
  v2 = await buildinst(config);
  expectExit(await run(["promote", v1]));
});

afterAll(() => removeApp(t));

describe("depl killed at every step boundary", () => {
  it("promote", async () => {
    await killAtEveryPoint("promote", () => ["promote", v2], {
      reset: async () => {
        if ((await liveVersion()) !== v1) expectExit(await run(["rollback", v1]));
      },
      check: async () => expect(state()).toMatchObject({ live: v2, previous: v1 }),
    });
  });

  it("rollback", async () => {
    await killAtEveryPoint("rollback", () => ["rollback", v1], {
      reset: async () => {
        if ((await liveVersion()) !== v2) expectExit(await run(["promote", v2]));
      },
      check: async () => expect(state()).toMatchObject({ live: v1 }),
    });
  });

  it("canary", async () => {
    await killAtEveryPoint("canary", () => ["canary", v2, "30%"], {
      reset: async () => {
        if ((await liveVersion()) !== v1) expectExit(await run(["rollback", v1]));
        expectExit(await run(["canary", "--stop"]));
      },
      check: async () => expect(state()).toMatchObject({ live: v1, canary: { version: v2, percent: 30 } }),
    });
    expectExit(await run(["canary", "--stop"]));
  });

  it("buildinst (build, install, prune), finished by --resume", async () => {
    await killAtEveryPoint("buildinst", () => ["buildinst"], {
      reset: async () => {},
      rerun: () => ["buildinst", "--resume"],
      check: async () => {
        const list = JSON.parse((await run(["list", "--json"])).stdout) as { version: string; state: string }[];
        expect(list.filter((r) => r.state === "installing")).toEqual([]);
      },
    });
  });

  it("remove", async () => {
    let victim = "";
    await killAtEveryPoint("remove", () => ["remove", victim], {
      doneSays: /is not installed/,
      reset: async () => {
        victim = await buildinst(config);
      },
      check: async () => {
        expect(existsSync(`${base}/releases/${victim}`)).toBe(false);
        expect(sh(`supervisorctl status ${t.app}-${victim} 2>&1 || true`)).toMatch(/no such process/i);
      },
    });
  });

  it("prune", async () => {
    let victim = "";
    await killAtEveryPoint("prune", () => ["prune", "--keep", "1"], {
      // Two new releases: prune --keep 1 keeps the newest, the older one goes.
      reset: async () => {
        victim = await buildinst(config);
        await buildinst(config);
      },
      check: async () => expect(existsSync(`${base}/releases/${victim}`)).toBe(false),
    });
  });

  it("Ctrl-C during an install finishes the running step, undoes the install and says so", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", `${REPO}/src/cli.ts`, "-c", config, "buildinst"], {
      cwd: REPO,
      env: { ...process.env, ...env, DEPL_FAULT_LIST: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
      if (stderr.includes("depl-fault-point: install:started") && !child.killed) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGINT: finishing the current step of install/);
    expect(stderr).toMatch(/install interrupted by SIGINT/);
    const version = /depl-fault-point: buildinst:build[\s\S]*?version (\d{4}\.\S+)/.exec(stderr)?.[1] ?? /releases\/(\d{4}[^/]+)\/sock/.exec(stderr)?.[1];
    expect(version, stderr).toBeDefined();
    const meta = JSON.parse(readFileSync(`${base}/releases/${version}/release.json`, "utf8")) as { state: string };
    expect(meta.state).toBe("failed");
    expect(sh(`supervisorctl status ${t.app}-${version} || true`)).toMatch(/no such process/);
    expect((await get(t.port, `${version}.${t.domain}`)).status).toBe(404);
    await invariants();
    record({ group: "fault points", case: "SIGINT during install", outcome: "install undone: release failed, its programs removed, unrouted; exit 130" });
  });
});
