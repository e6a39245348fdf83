import { describe, expect, it } from "vitest";
import { layout } from "../../src/naming/layout.js";
import {
  confCommand,
  ownedProgram,
  owns,
  parseContainerRows,
  processOfProgram,
  programOfConfFile,
  runScriptOwner,
} from "../../src/release/owners.js";
import { containerGone, containerRetireArgv, retireContainer } from "../../src/release/retire-process.js";
import type { Host } from "../../src/host/host.js";
import { docker } from "../../src/images/docker-argv.js";
import { processConf } from "../../src/release/workers.js";

const l = layout("/srv/depl", "app1");
const v = "2026.12.01.10.00";

describe("whose a program is", () => {
  it("reads the release and process from the run script a program runs, and only this app's", () => {
    expect(runScriptOwner(l, `/srv/depl/app1/releases/${v}/run-web.sh`)).toEqual({ version: v, process: "web" });
    expect(runScriptOwner(l, `/srv/depl/app1/releases/${v}/run-worker.sh`)).toEqual({ version: v, process: "worker" });
    expect(runScriptOwner(l, "/srv/depl/app1/releases/feature-x/run-beat.sh")).toEqual({ version: "feature-x", process: "beat" });
    // Another app, another root, not a run script, a name that is no version.
    expect(runScriptOwner(l, `/srv/depl/app1-admin/releases/${v}/run-web.sh`)).toBeNull();
    expect(runScriptOwner(l, `/srv/other/app1/releases/${v}/run-web.sh`)).toBeNull();
    expect(runScriptOwner(l, `/srv/depl/app1/releases/${v}/env`)).toBeNull();
    expect(runScriptOwner(l, "/srv/depl/app1/releases/Not_A_Version/run-web.sh")).toBeNull();
    expect(runScriptOwner(l, `/srv/depl/app1/releases/${v}/sub/run-web.sh`)).toBeNull();
  });

  it("reads the command of a conf depl writes", () => {
    expect(confCommand(processConf(l, "app1", v, "worker", false))).toBe(`/srv/depl/app1/releases/${v}/run-worker.sh`);
    expect(confCommand("[program:x]\nautostart=true\n")).toBeNull();
  });

  it("maps a program name to a process of a version; a longer installed version keeps its own name", () => {
    expect(processOfProgram("app1", v, `app1-${v}`, [])).toBe("web");
    expect(processOfProgram("app1", v, `app1-${v}-worker`, [])).toBe("worker");
    expect(processOfProgram("app1", v, `app1-${v}-2`, [`${v}-2`])).toBeNull(); // the web of v-2
    expect(processOfProgram("app1", "feature", "app1-feature-x", ["feature-x"])).toBeNull();
    expect(processOfProgram("app1", "feature", "app1-feature-x", [])).toBe("x");
    expect(processOfProgram("app1", v, `app1-${v}-static-copy`, [])).toBeNull();
    expect(processOfProgram("app1", v, `app2-${v}`, [])).toBeNull();
  });

  it("names the program of a conf file or an include link", () => {
    expect(programOfConfFile(`/srv/depl/app1/supervisor/app1-${v}-worker.conf`)).toBe(`app1-${v}-worker`);
    expect(programOfConfFile(`depl-app1-${v}.conf`, "depl-")).toBe(`app1-${v}`);
    expect(programOfConfFile(`other-app1-${v}.conf`, "depl-")).toBeNull();
    expect(programOfConfFile("notes.txt")).toBeNull();
  });

  it("counts a process as owned only by a recorded release that recorded it (or recorded none: a release from before)", () => {
    const recorded = [{ version: v, processes: { worker: { every_release: false } } }, { version: "2026.01.01.00.00" }];
    expect(owns(recorded, { version: v, process: "web" })).toBe(true);
    expect(owns(recorded, { version: v, process: "worker" })).toBe(true);
    expect(owns(recorded, { version: v, process: "beat" })).toBe(false);
    expect(owns(recorded, { version: "2026.01.01.00.00", process: "beat" })).toBe(true);
    expect(owns(recorded, { version: "2026.02.02.00.00", process: "web" })).toBe(false);
    expect(ownedProgram("app1", recorded, `app1-${v}-worker`)).toBe(true);
    expect(ownedProgram("app1", recorded, `app1-${v}-beat`)).toBe(false);
    expect(ownedProgram("app1", recorded, "app1-2026.02.02.00.00")).toBe(false);
  });

  it("parses docker ps rows of name, version and process", () => {
    expect(parseContainerRows(`depl-app1-${v}\t${v}\tweb\ndepl-app1-x-static-copy\t\t\n\n`)).toEqual([
      { name: `depl-app1-${v}`, version: v, process: "web" },
      { name: "depl-app1-x-static-copy", version: "", process: "" },
    ]);
  });
});

describe("retiring a container", () => {
  it("stops it with a grace period, then removes it, as argv", () => {
    expect(containerRetireArgv("depl-app1-v-worker", 30)).toEqual([
      ["docker", "stop", "--time", "30", "depl-app1-v-worker"],
      ["docker", "rm", "-f", "depl-app1-v-worker"],
    ]);
    expect(() => containerRetireArgv("x", -1)).toThrow(/bad grace period/);
    expect(docker.listContainers("app1")).toEqual(["docker", "ps", "-a", "--no-trunc", "--filter", "label=depl.app=app1", "--format", '{{.Names}}\t{{.Label "depl.version"}}\t{{.Label "depl.process"}}']);
  });

  it("takes Docker's 'No such container' as done", () => {
    expect(containerGone("Error: No such container: depl-app1-v\n")).toBe(true);
    expect(containerGone("Error response from daemon: No such container: depl-app1-v")).toBe(true);
    expect(containerGone("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")).toBe(false);
  });
});

describe("retireContainer", () => {
  /** A host that answers each docker command from a script and records the argv it ran. */
  const scripted = (answers: Record<string, { code: number; stdout?: string; stderr?: string }[]>) => {
    const ran: string[] = [];
    const host = {
      name: "h1",
      run: async (argv: readonly string[]) => {
        const key = argv.slice(0, 3).join(" ");
        ran.push(argv.join(" "));
        const next = answers[key]?.shift() ?? { code: 0 };
        return { stdout: "", stderr: "", ...next };
      },
    } as unknown as Host;
    return { host, ran };
  };
  const gone = { code: 1, stderr: "Error response from daemon: No such container: depl-a-v\n" };

  it("stops, removes, and returns once Docker no longer knows the container", async () => {
    const { host, ran } = scripted({ "docker container inspect": [gone] });
    await retireContainer(host, "depl-a-v", 7);
    expect(ran).toEqual(["docker stop --time 7 depl-a-v", "docker rm -f depl-a-v", "docker container inspect --format {{.State.Status}} depl-a-v"]);
  });

  it("takes a container that is not there, or being removed by the engine, as no error", async () => {
    const { host, ran } = scripted({
      "docker stop --time": [gone],
      "docker rm -f": [{ code: 1, stderr: "Error response from daemon: removal of container depl-a-v is already in progress\n" }],
      "docker container inspect": [{ code: 0, stdout: "removing\n" }, gone],
    });
    await retireContainer(host, "depl-a-v", 30);
    expect(ran.filter((c) => c.startsWith("docker container inspect"))).toHaveLength(2);
  });

  it("fails with one line naming the host and the command when Docker refuses otherwise", async () => {
    const { host } = scripted({ "docker rm -f": [{ code: 1, stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\nmore\n" }] });
    await expect(retireContainer(host, "depl-a-v", 30)).rejects.toThrow(/^h1: docker rm -f depl-a-v failed: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?$/);
  });
});
