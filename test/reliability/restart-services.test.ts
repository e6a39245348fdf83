import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { programName } from "../../src/naming/layout.js";
import { allProgramStates, programState, stopProgram } from "../../src/supervisor/ctl.js";
import { containerName } from "../../src/supervisor/program.js";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { startLoad } from "../helpers/load.js";
import { buildinst, removeApp, sh, testApp, writeAppConfig } from "../helpers/app.js";
import { record } from "./figures.js";

// Docker Engine and supervisord restarted under load, with no depl command
// and no hand: the app's containers outlive both (live-restore, which depl
// setup turns on; run scripts that adopt a running container), so no request
// fails and the live container is the same one afterwards.
// These services are shared: run this file only while holding the services
// lock exclusively (flock -x /tmp/depl-services.lock npx vitest run --project restarts ...).
// Every service is started again as scripts/services.sh starts it, and every
// other program is left in the state it was found in.

const t = testApp("rsvc");
const host = new LocalHost();
let v1: string;
let v2: string;
let before: Map<string, string>;

function holdsServicesLockExclusively(): boolean {
  // A shared lock taken now succeeds unless someone (this run) holds it exclusively.
  try {
    sh("flock -n -s /tmp/depl-services.lock true");
    return false;
  } catch {
    return true;
  }
}

async function until(ok: () => Promise<boolean>, seconds: number, what: string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    if (await ok().catch(() => false)) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

const serving = async () => {
  const r = await get(t.port, t.domain, "/health");
  return r.status === 200 && r.headers["x-depl-version"] === v1;
};
const engineUp = async () => {
  try {
    sh("docker info >/dev/null 2>&1");
    return true;
  } catch {
    return false;
  }
};
const supervisordUp = async () => {
  try {
    sh("supervisorctl pid >/dev/null 2>&1 && test -S /var/run/supervisor.sock");
    return /^\d+$/.test(sh("supervisorctl pid").trim());
  } catch {
    return false;
  }
};
const pidOf = (file: string) => readFileSync(file, "utf8").trim();
/** The id of the container running a version's web process, or "" when none runs. */
const runningId = (v: string) => sh(`docker ps -q --no-trunc --filter name=^/${containerName(t.app, v)}$`).trim();
const gone = (pid: string) => async () => {
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch {
    return true;
  }
};

/** Puts every other program back in the state it had before this file ran (those whose run script predates the engine wait may be FATAL). */
async function restoreOthers(): Promise<void> {
  const now = await allProgramStates(host);
  for (const [name, state] of before) {
    if (name.startsWith(`${t.app}-`)) continue;
    const cur = now.get(name);
    if (state === "RUNNING" && cur !== "RUNNING" && cur !== "STARTING") sh(`supervisorctl start ${name} || true`);
    if (state !== "RUNNING" && state !== "STARTING" && (cur === "RUNNING" || cur === "STARTING" || cur === "BACKOFF")) sh(`supervisorctl stop ${name} || true`);
  }
}

beforeAll(async () => {
  if (!holdsServicesLockExclusively()) throw new Error("restarting shared services: run this under flock -x /tmp/depl-services.lock");
  removeApp(t);
  const config = writeAppConfig(t, "depl.yml");
  expectExit(await depl(["-c", config, "setup"]));
  v1 = await buildinst(config);
  expectExit(await depl(["-c", config, "promote", v1]));
  v2 = await buildinst(config);
  // v2 stopped by depl (as a failed install or a retired release leaves it): it must stay stopped.
  await stopProgram(host, programName(t.app, v2));
  before = new Map(await allProgramStates(host));
});

afterAll(async () => {
  // Whatever happened, the services run again as scripts/services.sh starts them.
  if (!(await engineUp())) sh("nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null & sleep 0");
  await until(engineUp, 60, "Docker Engine").catch(() => 0);
  if (!(await supervisordUp())) sh("supervisord -c /etc/supervisor/supervisord.conf");
  await until(supervisordUp, 30, "supervisord").catch(() => 0);
  if (before) await restoreOthers();
  removeApp(t);
});

describe("service restarts, no hand", () => {
  it("loses no request across a Docker Engine restart: the live container keeps running and is adopted again", async () => {
    const cmdline = readFileSync(`/proc/${pidOf("/var/run/docker.pid")}/cmdline`, "utf8").split("\0").filter(Boolean);
    expect(cmdline).toEqual(["dockerd"]); // as scripts/services.sh starts it; restarted the same way below
    expect(sh("docker info --format '{{.LiveRestoreEnabled}}'").trim()).toBe("true"); // depl setup turned it on
    expect(await serving()).toBe(true);
    const id = runningId(v1);
    expect(id).not.toBe("");
    const load = startLoad({ host: t.domain, path: "/health", connections: 4, maxSeconds: 300 });
    await new Promise((r) => setTimeout(r, 1000));
    const pid = pidOf("/var/run/docker.pid");
    const killed = Date.now();
    sh(`kill ${pid}`);
    await until(gone(pid), 60, "dockerd exit");
    const stopSeconds = (Date.now() - killed) / 1000;
    sh("nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null & sleep 0");
    const engineSeconds = await until(engineUp, 60, "Docker Engine");
    // supervisord runs the run script again once its `docker logs` ends: it waits for the engine and adopts the container.
    const adopted = await until(async () => (await programState(host, programName(t.app, v1))) === "RUNNING" && runningId(v1) === id, 60, "run script adopting the container");
    await new Promise((r) => setTimeout(r, 2000));
    const res = await load.stop();
    record({
      group: "restarts",
      case: "Docker Engine killed and started again (live-restore)",
      outcome: `engine stopped in ${stopSeconds.toFixed(1)} s, answered ${engineSeconds.toFixed(1)} s after start; container ${id.slice(0, 12)} kept (adopted ${adopted.toFixed(1)} s later); longest request ${res.maxMs} ms; failures ${JSON.stringify(res.failures)}`,
      requests: res.requests,
      failed: res.failed,
      seconds: stopSeconds + engineSeconds,
    });
    expect(res.failed, JSON.stringify(res.failures)).toBe(0);
    expect(runningId(v1)).toBe(id);
    const states = await allProgramStates(host);
    expect(states.get(programName(t.app, v1))).toBe("RUNNING");
    expect(states.get(programName(t.app, v2))).toBe("STOPPED");
    expect(runningId(v2)).toBe(""); // depl stopped it: it stays stopped
  });

  it("loses no request across a supervisord restart; the same container serves, and a version depl stopped stays stopped", async () => {
    const id = runningId(v1);
    expect(id).not.toBe("");
    const load = startLoad({ host: t.domain, path: "/health", connections: 4, maxSeconds: 300 });
    await new Promise((r) => setTimeout(r, 1000));
    const pid = pidOf("/var/run/supervisord.pid");
    const killed = Date.now();
    sh(`kill ${pid}`);
    await until(gone(pid), 60, "supervisord exit");
    const stopSeconds = (Date.now() - killed) / 1000;
    sh("supervisord -c /etc/supervisor/supervisord.conf");
    const upSeconds = await until(supervisordUp, 30, "supervisord");
    const adopted = await until(async () => (await programState(host, programName(t.app, v1))) === "RUNNING", 60, "program running again");
    await new Promise((r) => setTimeout(r, 2000));
    const res = await load.stop();
    record({
      group: "restarts",
      case: "supervisord killed and started again",
      outcome: `supervisord stopped in ${stopSeconds.toFixed(1)} s, answered ${upSeconds.toFixed(1)} s after start; container ${id.slice(0, 12)} kept (program RUNNING ${adopted.toFixed(1)} s later); longest request ${res.maxMs} ms; failures ${JSON.stringify(res.failures)}`,
      requests: res.requests,
      failed: res.failed,
      seconds: stopSeconds + upSeconds,
    });
    expect(res.failed, JSON.stringify(res.failures)).toBe(0);
    expect(runningId(v1)).toBe(id);
    expect(await programState(host, programName(t.app, v2))).toBe("STOPPED");
    expect(runningId(v2)).toBe("");
  });

  it("a container of the same name that is not the release's (another spec) is replaced, not adopted", async () => {
    const program = programName(t.app, v1);
    await stopProgram(host, program); // as depl stops it: the program, then its container
    expect(runningId(v1)).toBe("");
    sh(`docker rm -f ${containerName(t.app, v1)} && docker run -d --name ${containerName(t.app, v1)} depl-base:bookworm sleep 600`);
    sh(`supervisorctl start ${program}`);
    const back = await until(serving, 60, "site with a stale container in the way");
    record({ group: "restarts", case: "stale container of the same name", outcome: `served ${back.toFixed(1)} s after start`, seconds: back });
    expect(sh(`docker ps --filter name=^/${containerName(t.app, v1)}$ --no-trunc --format '{{.Command}}'`)).toContain("gunicorn");
  });
});
