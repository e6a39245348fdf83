import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.js";
import { layout } from "../../src/naming/layout.js";
import {
  dockerRunArgv,
  renderEnvFile,
  renderProgramConf,
  processSpec,
  renderRunScript,
  releaseEnv,
} from "../../src/supervisor/program.js";

const config = validateConfig({
  app: "app1",
  domain: "app1.localhost",
  run: { wsgi: "testapp.app:application", workers: 3, backlog: 4096 },
  env: { GREETING: "hi there" },
});
const l = layout(config.root, config.app);
const v = "2026.11.21.22.56";

describe("docker run argv", () => {
  const argv = dockerRunArgv({ config, layout: l, version: v, image: "sha256:abc", socketGid: 33 });
  const joined = argv.join(" ");

  it("runs with --init, a non-root user in nginx's group, no published ports", () => {
    expect(argv.slice(0, 3)).toEqual(["docker", "run", "--init"]);
    expect(argv).not.toContain("--rm"); // an exited container stays until the next start, for its exit code
    expect(joined).toContain("--name depl-app1-2026.11.21.22.56");
    expect(joined).toContain("--user 10001:33");
    expect(joined).not.toMatch(/ -p | --publish/);
    expect(joined).toContain("--cap-drop ALL");
  });

  it("mounts only the version's socket dir and passes env through a file", () => {
    expect(joined).toContain(`-v /srv/depl/app1/releases/${v}/sock:/run/app`);
    expect(joined).toContain(`--env-file /srv/depl/app1/releases/${v}/env`);
    expect(joined).not.toContain("hi there");
  });

  it("binds gunicorn to the socket with the configured backlog", () => {
    expect(joined).toContain("--bind unix:/run/app/app.sock --backlog 4096 --umask 0o007 --workers 3");
    expect(argv.at(-1)).toBe("depl_wsgi:application");
  });

  it("limits memory (no swap beyond it) and pids; the root file system is writable unless run.read_only", () => {
    expect(joined).toContain("--memory 1073741824 --memory-swap 1073741824 --pids-limit 512");
    expect(joined).not.toContain("--read-only");
    const ro = validateConfig({ app: "app1", domain: "app1.localhost", run: { wsgi: "a:b", read_only: true, memory: "256MB", pids: 64 } });
    const args = dockerRunArgv({ config: ro, layout: l, version: v, image: "i", socketGid: 33 }).join(" ");
    expect(args).toContain("--memory 268435456 --memory-swap 268435456 --pids-limit 64 --read-only --tmpfs /tmp:rw,nosuid,nodev,size=64m");
    expect(() => validateConfig({ app: "app1", domain: "app1.localhost", run: { wsgi: "a:b", memory: "1MB" } })).toThrow(/run\.memory: must be at least 32MB/);
    expect(() => validateConfig({ app: "app1", domain: "app1.localhost", run: { wsgi: "a:b", pids: 2 } })).toThrow(/run\.pids/);
    expect(() => validateConfig({ app: "app1", domain: "app1.localhost", run: { wsgi: "a:b", read_only: "yes" } })).toThrow(/run\.read_only/);
  });

  it("refuses an invalid version", () => {
    expect(() => dockerRunArgv({ config, layout: l, version: "../x", image: "i", socketGid: 33 })).toThrow(/invalid version/);
  });
});

describe("supervisord program", () => {
  it("renders one program with the run script and a log file", () => {
    const conf = renderProgramConf({ program: `app1-${v}`, command: `${l.release(v)}/run.sh`, logFile: l.processLog(v, "web"), autostart: true });
    expect(conf).toContain(`[program:app1-${v}]`);
    expect(conf).toContain(`command=/srv/depl/app1/releases/${v}/run.sh`);
    expect(conf).toContain("stopsignal=TERM");
    expect(conf).toContain(`stdout_logfile=/srv/depl/app1/log/${v}.log`);
  });

  it("refuses values that would break the ini file", () => {
    expect(() => renderProgramConf({ program: "a\n[program:x]", command: "/x", logFile: "/l", autostart: true })).toThrow(/unsafe value/);
  });

  const spec = "0123456789abcdef";

  it("waits for the engine (bounded), then adopts the running container or starts one detached, and follows its output", () => {
    const s = renderRunScript(["docker", "run", "--name", "n", "img", "echo", "it's"], "n", spec);
    const lines = s.split("\n");
    expect(lines[0]).toBe("#!/bin/sh");
    const wait = lines.findIndex((x) => x.startsWith("until docker info"));
    const adopt = lines.findIndex((x) => x.startsWith("  exec docker logs --follow --tail 0 n"));
    const rm = lines.findIndex((x) => /docker'? '?rm'? '?-f'? '?n'? >\/dev\/null 2>&1 \|\| true$/.test(x));
    const run = lines.findIndex((x) => x.startsWith("docker run --detach --label 'depl.spec=0123456789abcdef' --name n img"));
    const exec = lines.findIndex((x) => x === "exec docker logs --follow n");
    expect(wait).toBeGreaterThan(0);
    expect(adopt).toBeGreaterThan(wait);
    expect(rm).toBeGreaterThan(adopt);
    expect(run).toBe(rm + 1);
    expect(exec).toBe(run + 1);
    expect(lines[run]).toContain("it'\\''s");
    expect(s).toMatch(/-ge 60 \]; then .* exit 1; fi/);
  });

  it("refuses an argv that is not docker run, and a malformed spec", () => {
    expect(() => renderRunScript(["docker", "exec", "n"], "n", spec)).toThrow(/docker run argv/);
    expect(() => renderRunScript(["docker", "run", "img"], "n", "x; rm -rf /")).toThrow(/bad spec/);
  });

  // A fake docker: `info` fails until the file `up` exists; `inspect` prints the file `state`; other calls are logged.
  function fakeDocker(state: string | null): { dir: string; fake: string } {
    const dir = mkdtempSync(join(tmpdir(), "depl-run-"));
    const fake = join(dir, "docker");
    writeFileSync(fake, `#!/bin/sh\ncase $1 in info) [ -e ${dir}/up ] ;; inspect) cat ${dir}/state ;; *) echo "$@" >> ${dir}/calls ;; esac\n`, { mode: 0o755 });
    writeFileSync(join(dir, "up"), "");
    if (state !== null) writeFileSync(join(dir, "state"), state);
    return { dir, fake };
  }

  function runScriptWith(state: string | null): string {
    const { dir, fake } = fakeDocker(state);
    const script = join(dir, "run.sh");
    writeFileSync(script, renderRunScript([fake, "run", "--name", "n", "img"], "n", spec, fake), { mode: 0o755 });
    execFileSync("sh", [script], { stdio: ["ignore", "ignore", "ignore"] });
    return readFileSync(join(dir, "calls"), "utf8");
  }

  it("starts a new container when none runs: removes the old one, runs it detached, follows all its output", () => {
    expect(runScriptWith(null)).toBe(`rm -f n\nrun --detach --label depl.spec=${spec} --name n img\nlogs --follow n\n`);
    expect(runScriptWith(`false ${spec}\n`)).toBe(`rm -f n\nrun --detach --label depl.spec=${spec} --name n img\nlogs --follow n\n`);
  });

  it("adopts a container that runs with the same spec (after a supervisord or engine restart): only follows its new output", () => {
    expect(runScriptWith(`true ${spec}\n`)).toBe("logs --follow --tail 0 n\n");
  });

  it("replaces a running container of another spec (another image, argv or env)", () => {
    expect(runScriptWith("true fedcba9876543210\n")).toBe(`rm -f n\nrun --detach --label depl.spec=${spec} --name n img\nlogs --follow n\n`);
  });

  it("the spec changes with the argv and with the env file", () => {
    const a = processSpec(["docker", "run", "img"], "A=1\n");
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(processSpec(["docker", "run", "img"], "A=1\n")).toBe(a);
    expect(processSpec(["docker", "run", "img2"], "A=1\n")).not.toBe(a);
    expect(processSpec(["docker", "run", "img"], "A=2\n")).not.toBe(a);
  });

  it("lets supervisord keep retrying a program whose docker run fails at first", () => {
    const conf = renderProgramConf({ program: "p", command: "/x", logFile: "/l", autostart: true });
    expect(conf).toMatch(/^startretries=5$/m);
    expect(conf).toMatch(/^autorestart=true$/m);
  });

});

describe("env file", () => {
  it("carries config env and depl's variables", () => {
    const text = renderEnvFile(releaseEnv(config, v));
    expect(text).toContain("GREETING=hi there\n");
    expect(text).toContain(`DEPL_VERSION=${v}\n`);
    expect(text).toContain("DEPL_WSGI=testapp.app:application\n");
  });
  it("refuses newlines in values", () => {
    expect(() => renderEnvFile({ A: "x\nB=y" })).toThrow(/newlines/);
  });
});
