import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { processSummary } from "../../src/release/inventory.js";
import { layout } from "../../src/naming/layout.js";
import { linksLeadingOut } from "../../src/release/static.js";
import { processConf, processSpecs, releaseProcesses, workerRuns } from "../../src/release/workers.js";

const config = configSchema.parse({
  app: "inst",
  domain: "inst.localhost",
  run: { wsgi: "a:b" },
  processes: { worker: ["python", "-m", "w"], beat: { command: ["python", "-m", "b"], every_release: true } },
});

describe("workers", () => {
  it("records each process's every_release in release.json; a bare argv list is live-only", () => {
    expect(processSpecs(config)).toEqual({ worker: { every_release: false }, beat: { every_release: true } });
  });

  it("runs live-only workers in the live release alone, every_release ones everywhere", () => {
    expect(workerRuns({ every_release: false }, true)).toBe(true);
    expect(workerRuns({ every_release: false }, false)).toBe(false);
    expect(workerRuns({ every_release: true }, false)).toBe(true);
  });

  it("uses what the release was installed with, else the config", () => {
    expect(releaseProcesses(null, config)).toEqual(processSpecs(config));
    const meta = { processes: { old: { every_release: false } } } as never;
    expect(releaseProcesses(meta, config)).toEqual({ old: { every_release: false } });
  });

  it("keeps the program's autostart in step with whether it runs (a supervisord restart starts the same set)", () => {
    const l = layout("/srv/depl-inst", "inst");
    const on = processConf(l, "inst", "2026.01.01.00.00", "worker", true);
    expect(on).toContain("[program:inst-2026.01.01.00.00-worker]");
    expect(on).toContain("command=/srv/depl-inst/inst/releases/2026.01.01.00.00/run-worker.sh");
    expect(on).toContain("autostart=true");
    expect(processConf(l, "inst", "2026.01.01.00.00", "worker", false)).toContain("autostart=false");
  });

  it("summarizes processes and their states for depl list", () => {
    expect(
      processSummary([
        { name: "web", state: "RUNNING", every_release: true },
        { name: "worker", state: "STOPPED", every_release: false },
        { name: "beat", state: "ABSENT", every_release: true },
      ]),
    ).toBe("web:running worker:stopped beat:-");
  });
});

describe("linksLeadingOut", () => {
  it("keeps links that resolve inside the static directory, drops the others", () => {
    const root = "/srv/depl-inst/inst/releases/v/static.new";
    const links = [`${root}/a`, `${root}/b`, `${root}/c`, `${root}/d`, `${root}/e`];
    const resolved = [`${root}/css/x.css`, "/etc/passwd", root, "/srv/depl-inst/inst/releases/v/static.newer/x", "/"];
    expect(linksLeadingOut(root, links, resolved)).toEqual([`${root}/b`, `${root}/d`, `${root}/e`]);
  });
});
