import { existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { buildinst, removeApp, sh, testApp, writeAppConfig, type TestApp } from "../helpers/app.js";
import { startSshd, type Sshd } from "../helpers/sshd.js";

// Issue 24: remove takes away what a release was installed with, whatever
// depl.yml says now, and doctor finds and removes what no recorded release
// owns. Once with the host as `local`, once over SSH (a private sshd on this
// machine: the same supervisord, Docker and nginx, reached as a remote host).

const WORKER = `processes: { worker: { command: ["/app/venv/bin/python", "-m", "testapp.worker"], every_release: true } }\n`;
const INCLUDE = "/etc/supervisor/conf.d";

const nothing = { supervisord: [], include: [], supervisorDir: [], containers: [], named: [], release: [] };

/** Everything of one version of the app this machine still has, by where it lives. */
function leftovers(t: TestApp, v: string): { [where in keyof typeof nothing]: string[] } {
  const program = `${t.app}-${v}`;
  const base = `${t.root}/${t.app}`;
  const of = (dir: string, prefix: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix)) : []);
  return {
    supervisord: sh("supervisorctl status || true").split("\n").filter((l) => l.startsWith(`${program} `) || l.startsWith(`${program}-`)),
    include: of(INCLUDE, `depl-${program}`),
    supervisorDir: of(`${base}/supervisor`, program),
    containers: sh(`docker ps -a --filter label=depl.app=${t.app} --filter label=depl.version=${v} --format '{{.Names}}'`).split("\n").filter(Boolean),
    named: sh(`docker ps -a --filter name=^depl-${program} --format '{{.Names}}'`).split("\n").filter(Boolean),
    release: existsSync(`${base}/releases/${v}`) ? [v] : [],
  };
}

for (const variant of ["local", "ssh"] as const) {
  describe(`on a ${variant === "local" ? "local" : "SSH"} host`, () => {
    const t = testApp(variant === "local" ? "leftl" : "lefts");
    const base = `${t.root}/${t.app}`;
    let sshd: Sshd | undefined;
    let withWorker: string;
    let without: string;
    let v1: string;
    const run = (cfg: string, args: string[]) => depl(["-c", cfg, ...args]);
    // Another version of the same image: what depl installs is what matters here, not a rebuild.
    const tag = (v: string) => sh(`docker tag ${t.app}:${v1} ${t.app}:${v}`);

    beforeAll(async () => {
      removeApp(t);
      let hosts = "";
      if (variant === "ssh") {
        sshd = await startSshd("ssh1");
        const h = sshd.hc;
        hosts = `hosts: [{ name: ssh1, address: "127.0.0.1", port: ${h.port}, user: ${h.user}, key: "${h.key}", known_hosts: "${h.known_hosts}" }]\n`;
      }
      const config = (name: string, extra: string) => {
        const path = writeAppConfig(t, name, extra);
        if (hosts) writeFileSync(path, readFileSync(path, "utf8").replace("hosts: [local]\n", hosts));
        return path;
      };
      withWorker = config("depl.yml", WORKER);
      without = config("no-worker.yml", "");
      expect((await run(withWorker, ["setup"])).code).toBe(0);
      v1 = await buildinst(withWorker);
      expect((await run(withWorker, ["promote", v1])).code).toBe(0);
    });

    afterAll(async () => {
      removeApp(t);
      // removeApp skips dangling links: the one this file plants, should doctor have left it.
      sh(`rm -f ${INCLUDE}/depl-${t.app}-*.conf`);
      await sshd?.stop();
    });

    it("remove takes away a release's worker after depl.yml dropped it: program, conf, include link, container", async () => {
      const v = "2001.01.01.00.01";
      tag(v);
      const i = await run(withWorker, ["install", v]);
      expect(i.code, i.stderr).toBe(0);
      const before = leftovers(t, v);
      expect(before.supervisord.join("\n")).toMatch(new RegExp(`${t.app}-${v.replace(/\./g, "\\.")}-worker\\s+RUNNING`));
      expect(before.containers.sort()).toEqual([`depl-${t.app}-${v}`, `depl-${t.app}-${v}-worker`]);

      const r = await run(without, ["remove", v]);
      expect(r.code, r.stderr).toBe(0);
      expect(leftovers(t, v)).toEqual(nothing);
      // The live release and its worker are untouched.
      expect(sh(`supervisorctl status ${t.app}-${v1} ${t.app}-${v1}-worker || true`).match(/RUNNING/g)).toHaveLength(2);
      expect((await get(t.port, t.domain, "/health")).headers["x-depl-version"]).toBe(v1);
    });

    it("doctor reports each orphan with --dry-run, changing nothing, then removes them all", async () => {
      // A release whose directory went by hand: its programs, confs, links, containers and preview route stay.
      const gone = "2001.01.01.00.02";
      tag(gone);
      expect((await run(withWorker, ["install", gone])).code).toBe(0);
      sh(`rm -rf ${base}/releases/${gone}`);
      // A dangling include link, a container of no release, a previous link naming a missing release.
      const dangling = `${INCLUDE}/depl-${t.app}-2001.01.01.00.03.conf`;
      sh(`ln -sfn ${base}/supervisor/${t.app}-2001.01.01.00.03.conf ${dangling}`);
      const stray = `depl-${t.app}-2001.01.01.00.04`;
      sh(`docker create --name ${stray} --label depl.app=${t.app} --label depl.version=2001.01.01.00.04 --label depl.process=web ${t.app}:${v1} true`);
      sh(`ln -sfn ../releases/2001.01.01.00.05/sock/app.sock ${base}/traffic/previous.sock`);
      // A container of the live release for a process its release.json does not record.
      const unrecorded = `depl-${t.app}-${v1}-beat`;
      sh(`docker create --name ${unrecorded} --label depl.app=${t.app} --label depl.version=${v1} --label depl.process=beat ${t.app}:${v1} true`);
      const expected = [
        `orphan program ${t.app}-${gone}`,
        `orphan program ${t.app}-${gone}-worker`,
        `orphan conf ${base}/supervisor/${t.app}-${gone}.conf`,
        `orphan conf ${base}/supervisor/${t.app}-${gone}-worker.conf`,
        `orphan link ${INCLUDE}/depl-${t.app}-${gone}.conf`,
        `orphan link ${INCLUDE}/depl-${t.app}-${gone}-worker.conf`,
        `orphan link ${dangling}`,
        `orphan container depl-${t.app}-${gone}`,
        `orphan container depl-${t.app}-${gone}-worker`,
        `orphan container ${stray}`,
        `orphan container ${unrecorded}`,
        `orphan route ${base}/traffic/versions/${gone}.sock`,
        "orphan traffic link previous.sock",
      ];

      const dry = await run(without, ["doctor", "--dry-run", "--json"]);
      expect(dry.code).toBe(1);
      const found = JSON.parse(dry.stdout) as { check: string; status: string; detail: string }[];
      expect(found.filter((f) => f.check.startsWith("orphan")).map((f) => f.check).sort()).toEqual([...expected].sort());
      expect(found.filter((f) => f.check.startsWith("orphan")).every((f) => f.status === "broken")).toBe(true);
      expect(found.find((f) => f.check === `orphan link ${dangling}`)!.detail).toContain("does not exist");
      expect(dry.stderr).toContain(`orphan program ${t.app}-${gone}-worker`);
      // --dry-run changed nothing.
      expect(leftovers(t, gone).supervisord).toHaveLength(2);
      expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
      expect(sh(`docker ps -a --filter name=^${stray}$ --format '{{.Names}}'`).trim()).toBe(stray);

      const fix = await run(without, ["doctor", "--json"]);
      expect(fix.code, fix.stderr).toBe(0);
      const fixed = JSON.parse(fix.stdout) as { check: string; status: string }[];
      expect(fixed.filter((f) => f.check.startsWith("orphan")).map((f) => `${f.check}: ${f.status}`).sort()).toEqual(expected.map((c) => `${c}: fixed`).sort());
      expect(leftovers(t, gone)).toEqual(nothing);
      expect(() => lstatSync(dangling)).toThrow();
      expect(sh(`docker ps -a --filter name=^${stray}$ --filter name=^${unrecorded}$ --format '{{.Names}}'`).trim()).toBe("");
      expect(existsSync(`${base}/traffic/versions/${gone}.sock`)).toBe(false);
      expect(() => lstatSync(`${base}/traffic/previous.sock`)).toThrow();
      // What releases own stays, and serves.
      expect(sh(`supervisorctl status ${t.app}-${v1} ${t.app}-${v1}-worker || true`).match(/RUNNING/g)).toHaveLength(2);
      expect((await get(t.port, t.domain, "/health")).headers["x-depl-version"]).toBe(v1);

      const again = await run(without, ["doctor", "--dry-run", "--json"]);
      expect(again.code, again.stderr).toBe(0);
      expect((JSON.parse(again.stdout) as { check: string; status: string }[]).filter((f) => f.status !== "ok")).toEqual([]);
    });
  });
}
