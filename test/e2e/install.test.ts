import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { cleanup, E2E, writeConfig } from "./helpers.js";
import { LocalHost } from "../../src/host/local.js";
import { stopProgram } from "../../src/supervisor/ctl.js";

// depl's first job end to end on real Docker Engine, nginx and supervisord:
// setup, buildinst, preview URLs, health failure, bad input.

const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });
let config: string;
let version: string;

beforeAll(async () => {
  cleanup();
  config = writeConfig("depl.yml");
  const s = await depl(["-c", config, "setup"]);
  expect(s.stderr + s.stdout).not.toMatch(/error/i);
  expect(s.code, s.stderr).toBe(0);
});

afterAll(() => cleanup());

describe("depl buildinst", () => {
  it("builds, installs and prints the version and its preview URL", async () => {
    const r = await depl(["-c", config, "buildinst"]);
    expect(r.stderr).toMatch(/step \d+\/\d+/);
    const m = /^Version (\S+) is successfully installed: http:\/\/(\S+)\.e2e\.localhost\/$/m.exec(r.stdout);
    expect(r.code, r.stderr).toBe(0);
    expect(m).not.toBeNull();
    version = m![1]!;
    expect(m![2]).toBe(version);
  });

  it("serves the version at <version>.<domain> as the base domain", async () => {
    const r = await get(E2E.port, `${version}.${E2E.domain}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain("Hello from base domain");
    expect(r.body).toContain(version);
    expect(r.headers["x-app-version"]).toBe(version);
  });

  it("serves <version>.foo.<domain> as foo.<domain>", async () => {
    const r = await get(E2E.port, `${version}.foo.${E2E.domain}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain("Hello from foo");
  });

  it("answers 404 for an unknown version and for hostile Host headers", async () => {
    for (const host of [
      `2020.01.01.00.00.${E2E.domain}`,
      `nosuch.${E2E.domain}`,
      `../x.${E2E.domain}`,
      `%2e%2e.${E2E.domain}`,
      `..${E2E.domain}`,
      `a.b.c.${E2E.domain}`,
    ]) {
      const r = await get(E2E.port, host);
      expect([400, 404], host).toContain(r.status);
      expect(r.body).not.toContain("Hello");
    }
  });

  it("--json prints the version alone", async () => {
    const r = await depl(["-c", config, "buildinst", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { version: string };
    expect(out.version).toMatch(/^\d{4}\.\d\d\.\d\d\.\d\d\.\d\d(-\d+)?$/);
    expect(out.version).not.toBe(version);
    expect((await get(E2E.port, `${out.version}.${E2E.domain}`)).status).toBe(200);
  });
});

describe("the running version", () => {
  it("runs a slim image: no compiler, the C extension imports", () => {
    const image = `${E2E.app}:${version}`;
    expect(() => sh(`docker run --rm ${image} sh -c 'command -v gcc || command -v cc'`)).toThrow();
    expect(sh(`docker run --rm ${image} /app/venv/bin/python -c 'import testapp._speedups as s; print(s.fnv1a(b"depl"))'`).trim()).toBe(
      String(0xb005858e),
    );
    const labels = JSON.parse(sh(`docker image inspect --format '{{json .Config.Labels}}' ${image}`)) as Record<string, string>;
    expect(labels["depl.version"]).toBe(version);
    expect(labels["depl.built_at"]).toMatch(/^\d{4}-/);
    expect(labels).toHaveProperty("depl.git.commit");
  });

  it("installing a running, healthy version again leaves it serving", async () => {
    const before = statSync(`${E2E.root}/${E2E.app}/releases/${version}/sock/app.sock`).ino;
    const r = await depl(["-c", config, "install", version]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${version} is already installed and healthy`);
    expect(statSync(`${E2E.root}/${E2E.app}/releases/${version}/sock/app.sock`).ino).toBe(before);
    expect((await get(E2E.port, `${version}.${E2E.domain}`)).status).toBe(200);
  });

  it("shares the socket with nginx's group only", () => {
    const dir = `${E2E.root}/${E2E.app}/releases/${version}/sock`;
    const gid = Number(sh("getent group www-data").split(":")[2]);
    const d = statSync(dir);
    expect(d.mode & 0o7777).toBe(0o2750);
    expect(d.gid).toBe(gid);
    const s = statSync(`${dir}/app.sock`);
    expect(s.isSocket()).toBe(true);
    expect(s.mode & 0o007).toBe(0);
    expect(s.gid).toBe(gid);
  });

  it("outlives its run script: supervisorctl stop leaves the container serving, start adopts it; depl's stop stops it", async () => {
    const program = `${E2E.app}-${version}`;
    const name = `depl-${program}`;
    const id = sh(`docker ps -q --no-trunc --filter name=^/${name}$`).trim();
    expect(id).not.toBe("");
    sh(`supervisorctl stop ${program}`);
    expect(sh(`docker ps -q --no-trunc --filter name=^/${name}$`).trim()).toBe(id);
    expect((await get(E2E.port, `${version}.${E2E.domain}`, "/health")).status).toBe(200);
    sh(`supervisorctl start ${program}`);
    expect(sh(`docker ps -q --no-trunc --filter name=^/${name}$`).trim()).toBe(id);
    expect(readFileSync(`${E2E.root}/${E2E.app}/log/${version}.log`, "utf8")).toContain(`depl: ${name} is running: following it`);
    // depl stops the program and then its container (as remove, prune and a worker's move do).
    await stopProgram(new LocalHost(), program);
    expect(sh(`docker ps -q --filter name=^/${name}$`).trim()).toBe("");
    expect((await get(E2E.port, `${version}.${E2E.domain}`, "/health")).status).not.toBe(200);
    sh(`supervisorctl start ${program}`);
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      status = (await get(E2E.port, `${version}.${E2E.domain}`, "/health")).status;
    }
    expect(status).toBe(200);
    const again = sh(`docker ps -q --no-trunc --filter name=^/${name}$`).trim();
    expect(again).not.toBe("");
    expect(again).not.toBe(id);
  });

});

describe("a version that fails its health check", () => {
  it("is stopped and its processes taken away, left unrouted, marked failed and reported with its log", async () => {
    const bad = writeConfig("bad-health.yml", "health: { path: /error, timeout: 8s }\n");
    const v = "2001.01.01.00.00";
    sh(`docker tag ${E2E.app}:${version} ${E2E.app}:${v}`);
    const r = await depl(["-c", bad, "install", v]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`version ${v.replace(/\./g, "\\.")} failed its health check: .*answered 500`));
    expect(r.stderr).toContain("--- last lines of");
    // Its processes are taken away (program and container); its log stays for depl logs.
    expect(sh(`supervisorctl status ${E2E.app}-${v} || true`)).toMatch(/no such process/);
    expect(sh(`docker ps -aq --filter name=^/depl-${E2E.app}-${v}$`).trim()).toBe("");
    expect(sh(`cat ${E2E.root}/${E2E.app}/log/${v}.log`)).not.toBe("");
    expect((await get(E2E.port, `${v}.${E2E.domain}`)).status).toBe(404);
    const meta = JSON.parse(sh(`cat ${E2E.root}/${E2E.app}/releases/${v}/release.json`)) as { state: string };
    expect(meta.state).toBe("failed");
    // the healthy version is untouched
    expect((await get(E2E.port, `${version}.${E2E.domain}`)).status).toBe(200);
  });
});

describe("bad input", () => {
  it("refuses an invalid version name with exit 2 and one line", async () => {
    for (const v of ["../x", "2026.13.01.00.00", "a b", "foo"]) {
      const r = await depl(["-c", config, "install", v]);
      expect(r.code, v).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^depl: invalid version/);
    }
  });

  it("refuses a config with an unknown key or a bad domain before touching anything", async () => {
    const unknown = writeConfig("unknown.yml", "colour: red\n");
    let r = await depl(["-c", unknown, "setup"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`depl: ${unknown}: unknown key colour`);
    const braces = writeConfig("braces.yml");
    sh(`sed -i 's/^domain: .*/domain: "e2e.localhost { }"/' ${braces}`);
    const before = sh(`cat ${E2E.root}/${E2E.app}/nginx/site.conf`);
    r = await depl(["-c", braces, "setup"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/domain: expected a lower-case domain/);
    expect(sh(`cat ${E2E.root}/${E2E.app}/nginx/site.conf`)).toBe(before);
  });
});
