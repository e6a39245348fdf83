import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, REPO, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { cleanup, E2E, writeConfig } from "./helpers.js";

// Release lifecycle on real services: workers, shared data, secrets, hooks,
// locks, prune, resume, branch previews.

const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });
const base = `${E2E.root}/${E2E.app}`;
const secret = `s3cr3t-${process.pid}-${Date.now()}`;
const stateDir = mkdtempSync(join(tmpdir(), "depl-state-"));
const env = { DEPL_STATE_DIR: stateDir };
const MIGRATE = `["/app/venv/bin/python", "-c", "import sqlite3; sqlite3.connect('/app/data/notes.db').execute('CREATE TABLE IF NOT EXISTS notes (text TEXT, version TEXT)')"]`;
const lifecycle = `
shared: { data: /app/data }
processes: { worker: ["/app/venv/bin/python", "-m", "testapp.worker"] }
env: { TESTAPP_DB: /app/data/notes.db, TESTAPP_SHARED: /app/data }
secrets_file: secrets.env
hooks: { post_install: ${MIGRATE} }
`;
let config: string;
let a: string;
let b: string;
let verboseOutput = "";

const run = (args: string[], cfg = config) => depl(["-c", cfg, ...args], { env });
async function buildinst(cfg = config, extra: string[] = []): Promise<{ version: string; url: string; out: string }> {
  const r = await run(["buildinst", "--json", ...extra], cfg);
  expect(r.code, r.stderr).toBe(0);
  return { ...(JSON.parse(r.stdout) as { version: string; url: string }), out: r.stdout + r.stderr };
}
const liveVersion = async () => (await get(E2E.port, E2E.domain)).headers["x-depl-version"];
const traffic = () => JSON.parse(sh(`cat ${base}/state.json`)) as { live: string; previous: string };

beforeAll(async () => {
  cleanup();
  config = writeConfig("depl.yml", lifecycle);
  writeFileSync(`${E2E.dir}/secrets.env`, `SECRET_TOKEN=${secret}\n`, { mode: 0o600 });
  expectExit(await run(["setup"]));
  const r = await run(["-v", "buildinst"]);
  expect(r.code, r.stderr).toBe(0);
  verboseOutput = r.stdout + r.stderr;
  a = /^Version (\S+) is successfully installed/m.exec(r.stdout)![1]!;
  expectExit(await run(["promote", a]));
});

afterAll(() => cleanup());

describe("processes, shared data and secrets", () => {
  it("runs the worker as its own supervisord program, writing into shared/", async () => {
    expect(sh(`supervisorctl status ${E2E.app}-${a}-worker`)).toMatch(/RUNNING/);
    await new Promise((r) => setTimeout(r, 2500));
    expect(readFileSync(`${base}/shared/data/worker-heartbeat`, "utf8")).toMatch(new RegExp(`^${a.replace(/\./g, "\\.")} \\d+`));
  });

  it("shows each process's log", async () => {
    const worker = await run(["logs", a, "--process", "worker"]);
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stdout).toContain(`worker of version ${a} started`);
    // gunicorn writes no access log (nginx logs every request): its own lines are there.
    const web = await run(["logs", a, "-n", "500"]);
    expect(web.stdout).toMatch(/Listening at: unix:\/run\/app\/app\.sock/);
    const bad = await run(["logs", a, "--process", "nope"]);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/unknown process "nope": expected web or worker/);
  });

  it("gives the secret to the container at run time and nowhere else", async () => {
    const r = await run(["exec", a, "--", "sh", "-c", 'printf %s "$SECRET_TOKEN" | sha256sum']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split(" ")[0]).toBe(createHash("sha256").update(secret).digest("hex"));
    const image = `${E2E.app}:${a}`;
    expect(sh(`docker history --no-trunc ${image}`)).not.toContain(secret);
    expect(sh(`docker image inspect ${image}`)).not.toContain(secret);
    expect(readFileSync(`${base}/audit.log`, "utf8")).not.toContain(secret);
    expect(verboseOutput).toMatch(/Step 1\/\d+ : FROM/); // it really was verbose
    expect(verboseOutput).not.toContain(secret);
    expect(sh(`stat -c %a ${base}/releases/${a}/env`).trim()).toBe("600");
    expect(sh(`cat ${base}/log/*.log`)).not.toContain(secret);
  });

  it("keeps a shared SQLite database across promote and rollback", async () => {
    expect((await get(E2E.port, E2E.domain, "/notes/add?text=from-a")).status).toBe(200);
    b = (await buildinst()).version;
    expectExit(await run(["promote", b]));
    expect(await liveVersion()).toBe(b);
    let notes = (await get(E2E.port, E2E.domain, "/notes/add?text=from-b")).body;
    expect(notes).toContain(`from-a (written by ${a})`);
    expectExit(await run(["rollback"]));
    expect(await liveVersion()).toBe(a);
    notes = (await get(E2E.port, E2E.domain, "/notes")).body;
    expect(notes).toContain(`from-b (written by ${b})`);
    expectExit(await run(["promote", b]));
  });
});

describe("hooks", () => {
  it("a failing post_install hook leaves the version unrouted and traffic untouched", async () => {
    const failing = writeConfig("failing-hook.yml", lifecycle.replace(MIGRATE, '["sh", "-c", "echo migration exploded >&2; exit 3"]'));
    const r = await run(["buildinst"], failing);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/hook post_install failed \(exit 3\)/);
    expect(r.stderr).toContain("migration exploded");
    const v = /version (\S+) hook post_install failed/.exec(r.stderr)![1]!;
    expect((await get(E2E.port, `${v}.${E2E.domain}`)).status).toBe(404);
    expect(await liveVersion()).toBe(b);
    expect(JSON.parse(sh(`cat ${base}/releases/${v}/release.json`)).state).toBe("failed");
  });

  it("a failing pre_promote hook stops the promote before the switch", async () => {
    const hooked = writeConfig("pre-promote.yml", lifecycle.replace("hooks: {", 'hooks: { pre_promote: ["false"],'));
    const r = await run(["promote", a], hooked);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/hook pre_promote failed \(exit 1\); nothing after it was done/);
    expect(await liveVersion()).toBe(b);
  });
});

describe("locks", () => {
  it("two concurrent promotes: one wins, the other is refused with the holder shown", async () => {
    const [r1, r2] = await Promise.all([run(["promote", a]), run(["promote", a])]);
    const codes = [r1.code, r2.code].sort();
    expect(codes).toEqual([0, 1]);
    const loser = r1.code === 1 ? r1 : r2;
    expect(loser.stderr).toMatch(/is locked: held by .* since .* \(promote .*, pid \d+ on /);
    expect(traffic()).toMatchObject({ live: a, previous: b });
    expect(await liveVersion()).toBe(a);
    expect(existsSync(`${base}/lock`)).toBe(false);
  });

  it("lock status reports a stale lock; lock release --force removes it; a rerun takes a dead holder's lock over", async () => {
    const ghost = JSON.stringify({ actor: "ghost", command: "promote x", since: "2026-01-01T00:00:00Z", machine: sh("hostname").trim(), pid: 2 ** 22 + 11 });
    writeFileSync(`${base}/lock`, ghost);
    let r = await run(["lock", "status"]);
    expect(r.stdout).toMatch(/held by ghost .*STALE/);
    r = await run(["lock", "release"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/needs --force/);
    r = await run(["lock", "release", "--force"]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${base}/lock`)).toBe(false);
    // A holder that is alive (pid 1 on this machine) is never taken over.
    writeFileSync(`${base}/lock`, JSON.stringify({ ...JSON.parse(ghost), actor: "alive", pid: 1 }));
    r = await run(["promote", b]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/locked: held by alive/);
    // A holder whose process is gone (depl killed midway) is: the rerun finishes the job.
    writeFileSync(`${base}/lock`, ghost);
    r = await run(["promote", b]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/taking over the lock of a depl that died \(held by ghost/);
    expect(await liveVersion()).toBe(b);
    expect(existsSync(`${base}/lock`)).toBe(false);
  });

  it("--wait waits for the lock instead of refusing", async () => {
    writeFileSync(`${base}/lock`, JSON.stringify({ actor: "busy", command: "prune", since: new Date().toISOString(), machine: "elsewhere", pid: 1 }));
    const started = Date.now();
    setTimeout(() => rmSync(`${base}/lock`, { force: true }), 1500);
    const r = await run(["--wait", "30", "promote", a]);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(await liveVersion()).toBe(a);
  });
});

describe("promote --resume", () => {
  it("finishes a promote that its pre_promote hook stopped", async () => {
    const hooked = writeConfig("pre-promote-2.yml", lifecycle.replace("hooks: {", 'hooks: { pre_promote: ["false"],'));
    expectExit(await run(["promote", b], hooked), 1);
    expect(await liveVersion()).toBe(a);
    const r = await run(["promote", "--resume"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Version ${b} is live`);
    expect(await liveVersion()).toBe(b);
    expect((await run(["promote", "--resume"])).stderr).toMatch(/no failed or interrupted promote of e2e to resume/);
    expectExit(await run(["promote", a])); // back to live a, previous b for what follows
  });
});

describe("resume", () => {
  it("an interrupted buildinst resumes without rebuilding", async () => {
    rmSync(join(stateDir, `${E2E.app}.buildinst.json`), { force: true });
    const child = spawn(process.execPath, ["--import", "tsx", `${REPO}/src/cli.ts`, "-c", config, "buildinst"], { env: { ...process.env, ...env } });
    const journal = join(stateDir, `${E2E.app}.buildinst.json`);
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        try {
          if ((JSON.parse(readFileSync(journal, "utf8")) as { done: string[] }).done.includes("build")) {
            clearInterval(t);
            child.kill("SIGKILL");
            resolve();
          }
        } catch {
          // not written yet
        }
      }, 50);
      child.on("exit", () => {
        clearInterval(t);
        reject(new Error("buildinst ended before it could be interrupted"));
      });
    });
    const version = (JSON.parse(readFileSync(journal, "utf8")) as { facts: { version: string } }).facts.version;
    const r = await run(["buildinst", "--resume"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`reusing the image built before: ${E2E.app}:${version}`);
    expect(r.stderr).not.toMatch(/step \d+\/\d+/);
    expect(r.stdout).toContain(`Version ${version} is successfully installed`);
    expect((await run(["buildinst", "--resume"])).stderr).toMatch(/no failed or interrupted buildinst/);
  });
});

describe("branch previews", () => {
  it("answers at <branch>.<domain> and is replaced by its rebuild", async () => {
    const first = await buildinst(config, ["--branch", "Feature/X"]);
    expect(first.url).toBe(`http://feature-x.${E2E.domain}/`);
    let r = await get(E2E.port, `feature-x.${E2E.domain}`);
    expect(r.status).toBe(200);
    expect(r.headers["x-depl-version"]).toBe(first.version);
    const second = await buildinst(config, ["--branch", "Feature/X"]);
    r = await get(E2E.port, `feature-x.${E2E.domain}`);
    expect(r.headers["x-depl-version"]).toBe(second.version);
    expect(existsSync(`${base}/releases/${first.version}`)).toBe(false);
    expect((await get(E2E.port, `${first.version}.${E2E.domain}`)).status).toBe(404);
  });
});

describe("list, remove, prune", () => {
  it("remove refuses live and previous", async () => {
    for (const v of [a, b]) {
      const r = await run(["remove", v]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/refusing to remove .*: it is the (live|previous) version/);
    }
  });

  it("prune keeps live, previous, canary, kept and the newest N; never shared/", async () => {
    const versions = ["2001.01.01.00.01", "2001.01.01.00.02", "2001.01.01.00.03", "2001.01.01.00.04"];
    for (const v of versions) sh(`docker tag ${E2E.app}:${a} ${E2E.app}:${v}`);
    // Tagged images carry a's build time: install order is what separates them.
    for (const v of versions) expectExit(await run(["install", v]));
    expectExit(await run(["canary", versions[0]!, "5%"]));
    const kept = (await buildinst(config, ["--keep-days", "10"])).version;
    // a failed release, after buildinst's own prune
    const failedV = "2001.01.01.00.05";
    sh(`docker tag ${E2E.app}:${a} ${E2E.app}:${failedV}`);
    const failing = writeConfig("failing-hook2.yml", lifecycle.replace(MIGRATE, '["false"]'));
    expectExit(await run(["install", failedV], failing), 1);
    const list = JSON.parse((await run(["list", "--json"])).stdout) as { version: string; state: string; meta: { keep_until: string | null } }[];
    expect(list.find((x) => x.version === a)!.state).toBe("live");
    expect(list.find((x) => x.version === b)!.state).toBe("previous");
    expect(list.find((x) => x.version === versions[0])!.state).toBe("canary 5%");
    expect(list.find((x) => x.version === kept)!.meta.keep_until).not.toBeNull();
    expect(list.some((x) => x.state === "failed")).toBe(true);

    const r = await run(["prune", "--keep", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const after = (JSON.parse((await run(["list", "--json"])).stdout) as { version: string; state: string }[]).map((x) => x.version);
    expect(after).toEqual(expect.arrayContaining([a, b, versions[0]!, kept]));
    expect(after.some((v) => list.find((x) => x.version === v)!.state === "failed")).toBe(false);
    expect(existsSync(`${base}/shared/data/notes.db`)).toBe(true);
    const text = (await run(["list"])).stdout;
    expect(text).toMatch(/^VERSION\s+STATE\s+HEALTH/);
    const history = (await run(["history", "-n", "200"])).stdout;
    expect(history).toMatch(/prune \S+\s+ok/);
    expect(history).toMatch(/canary \S+ - -> \S+@5%\s+ok/);
  });
});
