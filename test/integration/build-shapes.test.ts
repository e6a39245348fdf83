// Real Docker, the real CLI: an app that is no pip package (a module, manage.py,
// an app factory), requirements naming local packages (a C extension, an
// editable one) and one Debian satisfies, static files collected at build
// time, secrets that must reach no image, builds in `depl history`, and the
// one-line errors for a missing PEP 517 backend and a dependency pip cannot
// find offline.
import { execFileSync } from "node:child_process";
import { appendFile, cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { depl, type CliResult } from "../helpers/cli.js";
import { LocalHost } from "../../src/host/local.js";
import { bootstrapBaseImage } from "../../src/images/bootstrap.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/build-plain", import.meta.url));
const APP = "depl-it-shapes";
const ROOT = "/srv/depl-it-shapes";
const V1 = "2026.02.03.04.05";
const V2 = "2026.02.03.04.06";
const FAIL = "2026.02.03.04.07";
const V3 = "2026.02.03.04.08";
const MARK = `s3cret-${process.pid}-marker`;
const host = new LocalHost();
const docker = (...args: string[]) => host.run(["docker", ...args], { allowFailure: true });

let work: string;
let env: Record<string, string>;
let first: { r: CliResult; imageId: string; layers: string[] };

const baseConfig = () => ({
  app: APP,
  domain: "shapes.localhost",
  root: ROOT,
  hosts: ["local"],
  build: { context: "." },
  run: { wsgi: "plainapp:create_app()", workers: 1, threads: 2 },
  env: { STATIC_GREETING: "hello from collect" },
  secrets: { API_TOKEN: `${MARK}-inline` },
  secrets_file: "secrets.env",
  static: { url: "/static/", path: "/app/static", collect: ["python", "manage.py", "collect"] },
});

async function cli(args: string[], cfg = join(work, "depl.yml")): Promise<CliResult> {
  return depl(["-c", cfg, ...args], { env });
}

async function buildV(version: string): Promise<{ r: CliResult; imageId: string; layers: string[] }> {
  const r = await cli(["-v", "build", "--version-name", version, "--json"]);
  if (r.code !== 0) throw new Error(`build failed:\n${r.stderr.slice(-4000)}`);
  const layers = [...r.stderr.matchAll(/^\s*---> ([0-9a-f]{12})$/gm)].map((m) => m[1]!);
  return { r, imageId: (JSON.parse(r.stdout) as { imageId: string }).imageId, layers };
}

const run = (image: string, ...cmd: string[]) => docker("run", "--rm", "--user", "10001", image, ...cmd);

beforeAll(async () => {
  await bootstrapBaseImage({ tag: "depl-base:bookworm", log: (m) => console.log(m), host });
  work = await mkdtemp(join(tmpdir(), "depl-it-shapes-"));
  await cp(FIXTURE, work, { recursive: true });
  // Everything that must never reach an image, inside the context.
  await writeFile(join(work, "depl.yml"), stringify(baseConfig()));
  await writeFile(join(work, "secrets.env"), `FILE_TOKEN=${MARK}-file\n`, { mode: 0o600 });
  await mkdir(join(work, ".git"));
  await writeFile(join(work, ".git", "config"), `[credential]\n\thelper = ${MARK}-git\n`);
  env = { DEPL_STATE_DIR: join(work, ".depl-state"), DEPL_ACTOR: "shapes@test" };
  await mkdir(env.DEPL_STATE_DIR!);
  await writeFile(join(env.DEPL_STATE_DIR!, "note"), `${MARK}-state\n`);
  // A developer's own venv at the root: it must not land on the image's /app/venv.
  await mkdir(join(work, "venv", "bin"), { recursive: true });
  await writeFile(join(work, "venv", "bin", "python"), "#!/bin/sh\necho not the image's python\n", { mode: 0o755 });
  // What `depl setup` makes for the audit log, without touching nginx.
  await host.run(["install", "-d", "-m", "0755", `${ROOT}/${APP}`]);
  first = await buildV(V1);
}, 900_000);

afterAll(async () => {
  await docker("rmi", `${APP}:${V1}`, `${APP}:${V2}`, `${APP}:${V3}`);
  await host.run(["rm", "-rf", ROOT], { allowFailure: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe("an app that is no pip package", () => {
  it("has its source at /app with manage.py, the venv's python first on PATH", async () => {
    const r = await run(`${APP}:${V1}`, "sh", "-c", "command -v python; ls /app; pwd");
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n")).toEqual(expect.arrayContaining(["/app/venv/bin/python", "manage.py", "plainapp.py", "/app"]));
    expect((await run(`${APP}:${V1}`, "python", "-c", "import sys; print(sys.version_info[0])")).stdout.trim()).toBe("3");
  });

  it("resolves a console script of a dependency and imports the app from anywhere", async () => {
    expect((await run(`${APP}:${V1}`, "purelib-hello")).stdout.trim()).toBe("plain app says 0");
    const r = await docker("run", "--rm", "-w", "/tmp", `${APP}:${V1}`, "python", "-c", "import plainapp, tinyext._c; print(plainapp.__file__)");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("/app/plainapp.py");
  });

  it("serves through depl's wrapper, calling the app factory", async () => {
    const script = "import depl_wsgi; out = {}; b = depl_wsgi.application({}, lambda s, h, e=None: out.update(h=dict(h))); print(b''.join(b).decode(), out['h']['X-Depl-Version'])";
    const r = await run(`${APP}:${V1}`, "python", "-c", script);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(`plain app says 42 ${V1}`);
  });

  it("took the local packages as wheels (the -e one too) and left gunicorn to Debian", async () => {
    const r = await run(`${APP}:${V1}`, "python", "-c", [
      "import importlib.metadata as m, gunicorn, purelib",
      "print(m.distribution('purelib').read_text('direct_url.json') or '', purelib.__file__, gunicorn.__file__)",
    ].join("; "));
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("/app/venv/lib/python3.11/site-packages/purelib/__init__.py");
    expect(r.stdout).not.toContain('"editable": true');
    expect(r.stdout).toContain("/usr/lib/python3/dist-packages/gunicorn/");
  });

  it("has the static files collect wrote, with env and without secrets", async () => {
    const r = await run(`${APP}:${V1}`, "sh", "-c", "cat /app/static/hello.txt /app/static/env.txt");
    expect(r.stdout).toBe("hello from collect\nSTATIC_GREETING\n");
  });
});

describe("secrets", () => {
  it("reach no image the build made, intermediate ones included", async () => {
    const ids = [...new Set([...first.layers, first.imageId])];
    expect(first.layers.length).toBeGreaterThan(15);
    // One `docker save` of every image: each layer once, all of them searched.
    const count = (needle: string) =>
      Number(execFileSync("sh", ["-c", `docker save "$@" | grep -a -c -F -e "${needle}" || true`, "save", ...ids], { encoding: "utf8", maxBuffer: 1e6 }).trim());
    expect(count("DEPL-VISIBLE-MARKER")).toBeGreaterThan(0);
    expect(count(MARK)).toBe(0);
    expect(first.r.stderr).not.toContain(MARK);
  });
});

describe("a second build after a change to the app's code only", () => {
  it("reuses the dependency layers", async () => {
    await appendFile(join(work, "plainapp.py"), `\n# changed ${Date.now()}\n`);
    const second = await buildV(V2);
    const lines = second.r.stderr.split("\n");
    const stepOutput = (prefix: string) => {
      const start = lines.findIndex((l) => /^Step \d+\/\d+ : /.test(l) && l.replace(/^Step \d+\/\d+ : /, "").startsWith(prefix));
      expect(start, `no step ${prefix}`).toBeGreaterThanOrEqual(0);
      const end = lines.findIndex((l, i) => i > start && /^Step \d+\/\d+ : /.test(l));
      return lines.slice(start + 1, end < 0 ? undefined : end);
    };
    expect(stepOutput("RUN /app/venv/bin/pip install --no-build-isolation --no-index -r /src/requirements.txt")).toContain(" ---> Using cache");
    expect(stepOutput('COPY --from=build ["/app/venv/"')).toContain(" ---> Using cache");
    expect(stepOutput('COPY ["app/","/app/"]')).not.toContain(" ---> Using cache");
    expect(second.imageId).not.toBe(first.imageId);
  });
});

describe("failures", () => {
  it("names the missing PEP 517 backend and the Debian package to add", async () => {
    const dir = join(work, "flitapp");
    await mkdir(join(dir, "flitapp"), { recursive: true });
    await writeFile(join(dir, "pyproject.toml"), '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n\n[project]\nname = "flitapp"\nversion = "1.0"\ndescription = "x"\n');
    await writeFile(join(dir, "flitapp", "__init__.py"), "def application(e, s): pass\n");
    await writeFile(join(dir, "depl.yml"), stringify({ ...baseConfig(), secrets: {}, secrets_file: undefined, static: undefined, run: { wsgi: "flitapp:application" } }));
    const r = await cli(["build", "--version-name", FAIL], join(dir, "depl.yml"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed: pyproject\.toml uses the PEP 517 backend flit_core\.buildapi, which is not installed in the build stage: add flit under build\.packages\.build/);
  });

  it("names the three ways to provide a dependency pip cannot find, without trying a network index", async () => {
    const dir = join(work, "missingdep");
    await mkdir(dir);
    await writeFile(join(dir, "app.py"), "def application(e, s): pass\n");
    await writeFile(join(dir, "requirements.txt"), "depl-no-such-dist==1.0\n");
    await writeFile(join(dir, "depl.yml"), stringify({ ...baseConfig(), secrets: {}, secrets_file: undefined, static: undefined, run: { wsgi: "app:application" } }));
    const started = Date.now();
    const r = await cli(["-v", "build", "--version-name", FAIL], join(dir, "depl.yml"));
    const seconds = (Date.now() - started) / 1000;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed: the Python dependency depl-no-such-dist==1\.0 cannot be found offline: put its wheel or sdist in build\.python\.find_links, set build\.python\.index_url, or add its Debian package \(e\.g\. python3-depl-no-such-dist\) under build\.packages\.runtime/);
    expect(r.stderr).not.toMatch(/Retrying|NewConnectionError/);
    console.log(`failed build with a missing dependency: ${seconds.toFixed(1)} s`);
  });

  it("lists every pin that nothing offline meets in one error, with Debian's version and package, before any wheel is built", async () => {
    const dir = join(work, "pinned");
    await mkdir(dir);
    await writeFile(join(dir, "app.py"), "def application(e, s): pass\n");
    // Three pins Debian's build stage does not meet (it has gunicorn 20.1, wheel 0.38, setuptools 66), and one it does.
    await writeFile(join(dir, "requirements.txt"), "gunicorn==19.0\nwheel==0.1.0  # pinned long ago\nsetuptools<40\nsix\n");
    await writeFile(join(dir, "depl.yml"), stringify({ ...baseConfig(), secrets: {}, secrets_file: undefined, static: undefined, run: { wsgi: "app:application" } }));
    const started = Date.now();
    const r = await cli(["build", "--version-name", FAIL], join(dir, "depl.yml"));
    const seconds = (Date.now() - started) / 1000;
    expect(r.code).not.toBe(0);
    const line = r.stderr.split("\n").find((l) => l.includes("failed: 3 pin(s) not met offline"));
    expect(line, r.stderr).toMatch(/gunicorn==19\.0 \(Debian has 20\.1\.0, python3-gunicorn\); wheel==0\.1\.0 \(Debian has 0\.38\.\d+, python3-wheel\); setuptools<40 \(Debian has \d+/);
    expect(line).toMatch(/set build\.python\.pins: debian/);
    // Stopped at the check: pip never ran.
    expect(r.stderr).not.toMatch(/pip install --no-build-isolation/);
    console.log(`failed build with three unmet pins: ${seconds.toFixed(1)} s`);
  });

  it("with pins: debian lets Debian's versions stand in, prints them, and the image keeps the list", async () => {
    const dir = join(work, "pinned-debian");
    await mkdir(dir);
    await writeFile(join(dir, "app.py"), "def application(e, s): pass\n");
    await writeFile(join(dir, "requirements.txt"), "gunicorn==19.0\n");
    await writeFile(join(dir, "depl.yml"), stringify({ ...baseConfig(), secrets: {}, secrets_file: undefined, static: undefined, run: { wsgi: "app:application" }, build: { context: ".", python: { pins: "debian" } } }));
    const r = await cli(["build", "--version-name", V3], join(dir, "depl.yml"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("build.python.pins: debian: Debian's versions stand in for 1 pin(s):");
    expect(r.stderr).toMatch(/ {2}gunicorn==19\.0 +20\.1\.0 +python3-gunicorn/);
    const pins = await run(`${APP}:${V3}`, "cat", "/opt/depl/pins.json");
    expect(JSON.parse(pins.stdout)).toEqual([{ requirement: "gunicorn==19.0", debian: "20.1.0", package: "python3-gunicorn" }]);
  });

  it("refuses a requirement only a build-stage package met, naming the runtime package to add", async () => {
    const dir = join(work, "buildonly");
    await mkdir(dir);
    await writeFile(join(dir, "app.py"), "def application(e, s): pass\n");
    // python3-wheel is in the build stage only.
    await writeFile(join(dir, "requirements.txt"), "wheel\n");
    await writeFile(join(dir, "depl.yml"), stringify({ ...baseConfig(), secrets: {}, secrets_file: undefined, static: undefined, run: { wsgi: "app:application" } }));
    const r = await cli(["build", "--version-name", FAIL], join(dir, "depl.yml"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed: the Python dependency wheel cannot be found offline: .*add its Debian package \(e\.g\. python3-wheel\) under build\.packages\.runtime/);
  });
});

describe("depl history", () => {
  it("lists the builds, successful and failed", async () => {
    const r = await cli(["history", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const builds = (JSON.parse(r.stdout) as { action: string; version: string; result: string; actor: string; detail: string }[]).filter((e) => e.action === "build");
    // The two failures above used their own depl.yml with the same app and root.
    expect(builds.map((b) => [b.version, b.result])).toEqual([[V1, "ok"], [V2, "ok"], [FAIL, "failed"], [FAIL, "failed"], [FAIL, "failed"], [V3, "ok"], [FAIL, "failed"]]);
    expect(builds[2]!.detail).toMatch(/PEP 517 backend flit_core\.buildapi.* \(\d+\.\d s\)$/);
    expect(builds[3]!.detail).toMatch(/depl-no-such-dist==1\.0 cannot be found offline/);
    expect(builds[0]!.actor).toBe("shapes@test");
    expect(builds[0]!.detail).toMatch(new RegExp(`^${first.imageId} in \\d+\\.\\d s$`));
    const text = await cli(["history"]);
    expect(text.stdout).toMatch(new RegExp(`shapes@test  build ${V1.replace(/\./g, "\\.")}  ok: sha256:`));
  });
});
