import { describe, expect, it } from "vitest";
import { expectedRunning, serviceProbe } from "../../src/release/doctor.js";
import { summaryLine } from "../../src/commands/doctor.js";

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
