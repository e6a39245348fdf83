import { describe, expect, it } from "vitest";
import { expectedRunning, serviceProbe } from "../../src/release/doctor.js";
import { summaryLine } from "../../src/commands/doctor.js";
import { describeOrphan } from "../../src/release/orphans.js";

const v = "2026.12.01.10.00";

describe("doctor", () => {
  it("expects web always, live-only workers only in the live release, every_release workers everywhere", () => {
    const processes = { worker: { every_release: false }, beat: { every_release: true } };
    expect(expectedRunning(processes, "live")).toEqual(["web", "worker", "beat"]);
    expect(expectedRunning(processes, "previous")).toEqual(["web", "beat"]);
    expect(expectedRunning(processes, "canary")).toEqual(["web", "beat"]);
    expect(expectedRunning(processes, null)).toEqual(["web", "beat"]);
  });

  it("probes each service with a command whose exit code is the answer", () => {
    expect(serviceProbe("docker")).toEqual(["docker", "info", "--format", "{{.ServerVersion}}"]);
    expect(serviceProbe("nginx").join(" ")).toContain("/run/nginx.pid");
    // supervisorctl's exit 3 (a program is stopped) still means the daemon answered.
    expect(serviceProbe("supervisor").join(" ")).toContain("$rc -eq 3");
  });

  it("sums up each host in one line", () => {
    const f = (status: "ok" | "fixed" | "broken" | "warning") => ({ host: "h", check: "c", status, detail: "" });
    expect(summaryLine("h", [f("ok"), f("ok"), f("fixed"), f("broken")])).toBe("h: 2 ok, 1 fixed, 0 warnings, 1 broken");
  });
});

describe("docker argv builders", () => {
  it("build the commands depl runs, as argv", async () => {
    const { docker } = await import("../../src/images/docker-argv.js");
    expect(docker.removeContainer("depl-a-1")).toEqual(["docker", "rm", "-f", "depl-a-1"]);
    expect(docker.pruneImages("app1")).toEqual(["docker", "image", "prune", "-f", "--filter", "label=depl.app=app1"]);
    expect(docker.copyOutTar("c", "/app/static", "/x.tar")).toEqual(["sh", "-c", 'docker cp "$1:$2" - > "$3"', "sh", "c", "/app/static", "/x.tar"]);
  });
});

describe("doctor's orphan findings", () => {
  it("name each thing and say why it is an orphan", () => {
    const said = [
      describeOrphan({ kind: "program", name: `app1-${v}-worker`, ref: { version: v, process: "worker" }, installed: true }),
      describeOrphan({ kind: "program", name: `app1-${v}`, ref: { version: v, process: "web" }, installed: false }),
      describeOrphan({ kind: "conf", path: `/srv/depl/app1/supervisor/app1-${v}.conf`, program: `app1-${v}` }),
      describeOrphan({ kind: "link", path: `/etc/supervisor/conf.d/depl-app1-${v}.conf`, target: `/srv/depl/app1/supervisor/app1-${v}.conf`, dangling: true }),
      describeOrphan({ kind: "container", name: `depl-app1-${v}`, version: v, installed: false }),
      describeOrphan({ kind: "route", path: `/srv/depl/app1/traffic/versions/${v}.sock`, version: v }),
      describeOrphan({ kind: "traffic", link: "previous", version: v }),
    ];
    expect(said.map((s) => s.check)).toEqual([
      `orphan program app1-${v}-worker`,
      `orphan program app1-${v}`,
      `orphan conf /srv/depl/app1/supervisor/app1-${v}.conf`,
      `orphan link /etc/supervisor/conf.d/depl-app1-${v}.conf`,
      `orphan container depl-app1-${v}`,
      `orphan route /srv/depl/app1/traffic/versions/${v}.sock`,
      "orphan traffic link previous.sock",
    ]);
    expect(said[0]!.detail).toContain("which release.json does not record");
    expect(said[1]!.detail).toContain("which is not installed");
    expect(said[3]!.detail).toContain("which does not exist");
    expect(describeOrphan({ kind: "container", name: `depl-app1-${v}-beat`, version: v, installed: true }).detail).toBe(`labelled with version ${v}, whose release.json does not record its process`);
    expect(describeOrphan({ kind: "container", name: `depl-app1-${v}-static-copy`, version: "", installed: false }).detail).toBe("labelled with the app but with no version");
  });
});
