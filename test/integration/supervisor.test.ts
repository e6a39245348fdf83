import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { allProgramStates, installProgram, linkPath, waitRunning, programState, removeProgram, startProgram, stopProgram } from "../../src/supervisor/ctl.js";
import { renderProgramConf } from "../../src/supervisor/program.js";

// The system's real supervisord (started by scripts/services.sh): one program
// is added, stopped, started again, retried after a stop, and removed.

const host = new LocalHost();
const dir = mkdtempSync(join(tmpdir(), "depl-supervisor-"));
const program = `depltest-${process.pid}`;
const conf = join(dir, `${program}.conf`);

afterAll(async () => {
  await removeProgram(host, program, conf).catch(() => {});
});

describe("supervisord programs", () => {
  it("installs and starts a program, stops it, starts it again and removes it", async () => {
    const script = join(dir, "run.sh");
    await host.writeFile(script, `#!/bin/sh\nexec sleep 300\n`, { mode: 0o755 });
    await installProgram(host, program, conf, renderProgramConf({ program, command: script, logFile: join(dir, "log"), autostart: true }));
    expect(await host.readlink(linkPath(program))).toBe(conf);
    await waitFor("RUNNING");

    await stopProgram(host, program);
    expect(await programState(host, program)).toBe("STOPPED");
    // Stopped by depl: supervisord does not start it again when it restarts.
    expect(await host.readFile(conf)).toContain("autostart=false");
    await startProgram(host, program);
    expect(await host.readFile(conf)).toContain("autostart=true");
    await stopProgram(host, program);

    // A retried install of an unchanged, stopped program starts it.
    await installProgram(host, program, conf, renderProgramConf({ program, command: script, logFile: join(dir, "log"), autostart: true }));
    expect(["STARTING", "RUNNING"]).toContain(await programState(host, program));
    await waitFor("RUNNING");
    await startProgram(host, program); // already started: not an error
    expect((await allProgramStates(host)).get(program)).toBe("RUNNING");

    // A worker leaving the live release: autostart off, stopped; and back.
    await installProgram(host, program, conf, renderProgramConf({ program, command: script, logFile: join(dir, "log"), autostart: false }), false);
    expect(await programState(host, program)).toBe("STOPPED");
    expect(await host.readFile(conf)).toContain("autostart=false");
    await installProgram(host, program, conf, renderProgramConf({ program, command: script, logFile: join(dir, "log"), autostart: true }), true);
    expect(await waitRunning(host, program, 10_000)).toBe("RUNNING");

    await removeProgram(host, program, conf);
    expect(await programState(host, program)).toBe("ABSENT");
    expect(await host.exists(linkPath(program))).toBe(false);
  });

  it("reports a program that cannot start as FATAL", async () => {
    const bad = `${program}-bad`;
    const badConf = join(dir, `${bad}.conf`);
    await installProgram(host, bad, badConf, renderProgramConf({ program: bad, command: "/bin/false", logFile: join(dir, "bad.log"), autostart: true }));
    try {
      await waitFor("FATAL", bad, 60_000);
    } finally {
      await removeProgram(host, bad, badConf);
    }
  });
});

async function waitFor(state: string, name = program, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    last = await programState(host, name);
    if (last === state) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name}: expected ${state}, still ${last}`);
}
