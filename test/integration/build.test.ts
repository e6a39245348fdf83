// Real Docker: bootstraps the base image when missing, builds testapp
// (two-stage), and runs it the way supervisord will.
import { appendFile, chmod, chown, cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRelease, type BuiltImage } from "../../src/build/build.js";
import { validateConfig } from "../../src/config/load.js";
import { LocalHost } from "../../src/host/local.js";
import { bootstrapBaseImage } from "../../src/images/bootstrap.js";

const TESTAPP = fileURLToPath(new URL("../../testapp", import.meta.url));
const APP = "depl-it-build";
const V1 = "2026.01.02.03.04";
const V2 = "2026.01.02.03.05";
const V3 = "2026.01.02.03.06";
const host = new LocalHost();

const config = validateConfig({
  app: APP,
  domain: "app1.localhost",
  subdomains: ["foo"],
  build: { context: "testapp", python: { requirements: "requirements.txt" } },
  run: { wsgi: "testapp.app:application", workers: 2, threads: 4 },
});
const meta = {
  commit: "0123456789abcdef0123456789abcdef01234567",
  dirty: false,
  branch: "main",
  builtAt: "2026-01-02T03:04:05.000Z",
  builtBy: "tester@ci",
};

let work: string;
let first: BuiltImage;
const containers: string[] = [];

async function build(version: string, lines: string[]): Promise<BuiltImage> {
  return buildRelease({ config, configDir: work, version, meta, verbose: true, log: (l) => lines.push(l) });
}

const docker = (...args: string[]) => host.run(["docker", ...args], { allowFailure: true });

beforeAll(async () => {
  await bootstrapBaseImage({ tag: config.build.base_image, log: (m) => console.log(m), host });
  // A copy, so that the test can change the app's code without touching the repo.
  work = await mkdtemp(join(tmpdir(), "depl-it-build-"));
  await cp(TESTAPP, join(work, "testapp"), { recursive: true });
  first = await build(V1, []);
});

afterAll(async () => {
  for (const c of containers) await docker("rm", "-f", c);
  await docker("rmi", `${APP}:${V1}`, `${APP}:${V2}`, `${APP}:${V3}`);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the runtime image", () => {
  it("is tagged <app>:<version>", async () => {
    expect(first.image).toBe(`${APP}:${V1}`);
    expect(first.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.sizeBytes).toBeGreaterThan(100e6);
    const r = await docker("image", "inspect", "--format", "{{.Id}}", first.image);
    expect(r.stdout.trim()).toBe(first.imageId);
  });

  it("has no compiler", async () => {
    const r = await docker("run", "--rm", first.image, "sh", "-c", "command -v gcc cc");
    expect(r.code).not.toBe(0);
    const each = await docker("run", "--rm", first.image, "sh", "-c", "for c in gcc cc c++ x86_64-linux-gnu-gcc-12; do command -v $c && exit 1; done; exit 0");
    expect(each.stdout).toBe("");
    expect(each.code, each.stderr).toBe(0);
  });

  it("has the compiled C extension", async () => {
    const r = await docker("run", "--rm", first.image, "/app/venv/bin/python", "-c", "import testapp._speedups as s; print(s.fnv1a(b'depl'))");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(String(0xb005858e));
  });

  it("carries depl's labels and environment", async () => {
    const r = await docker("image", "inspect", "--format", "{{json .Config}}", first.image);
    const cfg = JSON.parse(r.stdout) as { Labels: Record<string, string>; Env: string[]; User: string };
    expect(cfg.Labels).toMatchObject({
      "depl.app": APP,
      "depl.version": V1,
      "depl.git.commit": meta.commit,
      "depl.git.dirty": "false",
      "depl.git.branch": "main",
      "depl.built_at": meta.builtAt,
      "depl.built_by": meta.builtBy,
    });
    expect(cfg.Env).toContain("PYTHONPATH=/opt/depl:/app");
    expect(cfg.Env).toContain("PATH=/app/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(cfg.Env).toContain("DEPL_WSGI=testapp.app:application");
    expect(cfg.User).toBe(String(config.run.uid));
  });

  it("serves over a unix socket with gunicorn, as supervisord runs it", async () => {
    const gid = Number((await host.run(["getent", "group", "www-data"])).stdout.split(":")[2]);
    const sockDir = await mkdtemp(join(tmpdir(), "depl-it-sock-"));
    try {
      await chown(sockDir, 0, gid);
      await chmod(sockDir, 0o2770);
      const name = `depl-it-build-${process.pid}`;
      containers.push(name);
      const run = await docker(
        "run", "-d", "--rm", "--init", "--name", name,
        "--user", `${config.run.uid}:${gid}`,
        "-v", `${sockDir}:/run/app`,
        "-e", `DEPL_VERSION=${V1}`, "-e", "DEPL_DOMAIN=app1.localhost", "-e", "DEPL_WSGI=testapp.app:application",
        first.image,
        "/app/venv/bin/python", "-m", "gunicorn", "--bind", "unix:/run/app/app.sock", "--backlog", "2048",
        "--umask", "0o007", "--workers", "2", "--threads", "4", "--worker-class", "gthread", "depl_wsgi:application",
      );
      expect(run.stderr).toBe("");
      expect(run.code, run.stderr).toBe(0);

      const sock = join(sockDir, "app.sock");
      const curl = (hostHeader: string, path: string) =>
        host.run(["curl", "-sS", "-i", "--max-time", "5", "--unix-socket", sock, "-H", `Host: ${hostHeader}`, `http://x${path}`], { allowFailure: true });
      let health = await curl("app1.localhost", "/health");
      for (let i = 0; i < 60 && health.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        health = await curl("app1.localhost", "/health");
      }
      expect(health.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(health.stdout).toMatch(new RegExp(`\\r\\nX-Depl-Version: ${V1.replace(/\./g, "\\.")}\\r\\n`, "i"));
      expect(health.stdout).toMatch(/\r\n\r\nok$/);

      expect((await curl("app1.localhost", "/")).stdout).toContain(`Hello from base domain\nversion ${V1}`);
      const foo = await curl("foo.app1.localhost", "/");
      expect(foo.stdout).toContain("Hello from foo");
      expect(foo.stdout).toMatch(new RegExp(`X-App-Version: ${V1.replace(/\./g, "\\.")}`, "i"));
      expect((await curl("app1.localhost", "/error")).stdout).toMatch(/^HTTP\/1\.1 500 /);
      expect((await curl("app1.localhost", "/slow?ms=20")).stdout).toMatch(/^HTTP\/1\.1 200 /);

      const stop = await docker("stop", "-t", "10", name);
      expect(stop.code, stop.stderr).toBe(0);
    } finally {
      await rm(sockDir, { recursive: true, force: true });
    }
  });
});

describe("dependencies from a configured wheelhouse (find_links)", () => {
  it("builds an sdist from it offline and installs the wheel in the runtime image", async () => {
    const ctx = join(work, "withdeps");
    await cp(TESTAPP, ctx, { recursive: true });
    // An sdist with a C extension, as a real dependency might be.
    const src = join(work, "tinydep-1.0");
    await mkdir(join(src, "tinydep"), { recursive: true });
    await writeFile(join(src, "setup.py"), [
      "from setuptools import Extension, setup",
      'setup(name="tinydep", version="1.0", packages=["tinydep"],',
      '      ext_modules=[Extension("tinydep._c", ["tinydep/_c.c"])])',
      "",
    ].join("\n"));
    await writeFile(join(src, "tinydep", "__init__.py"), "from tinydep._c import answer\n");
    await writeFile(join(src, "tinydep", "_c.c"), [
      "#include <Python.h>",
      "static PyObject *answer(PyObject *s, PyObject *a) { return PyLong_FromLong(42); }",
      'static PyMethodDef m[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};',
      'static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "_c", NULL, -1, m};',
      "PyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&d); }",
      "",
    ].join("\n"));
    await mkdir(join(ctx, "wheelhouse"));
    await host.run(["tar", "-C", work, "-czf", join(ctx, "wheelhouse", "tinydep-1.0.tar.gz"), "tinydep-1.0"]);
    await writeFile(join(ctx, "requirements.txt"), "tinydep==1.0\n");

    const withDeps = validateConfig({
      ...config,
      build: { ...config.build, context: "withdeps", python: { requirements: "requirements.txt", find_links: "wheelhouse" } },
    });
    const lines: string[] = [];
    const built = await buildRelease({ config: withDeps, configDir: work, version: V3, meta, verbose: true, log: (l) => lines.push(l) });
    const r = await docker("run", "--rm", built.image, "/app/venv/bin/python", "-c", "import tinydep, testapp._speedups; print(tinydep.answer())");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("42");
    expect(lines.join("\n")).toMatch(/Successfully installed tinydep-1\.0/);
  });
});

describe("a second build after a change to the app's code only", () => {
  it("reuses the dependency layers and rebuilds the app's", async () => {
    await appendFile(join(work, "testapp", "testapp", "app.py"), `\n# touched by the test at ${Date.now()}-${process.pid}\n`);
    const lines: string[] = [];
    const second = await build(V2, lines);
    expect(second.imageId).not.toBe(first.imageId);

    /** The lines Docker printed for the step whose instruction starts with `prefix`. */
    const stepOutput = (prefix: string): string[] => {
      const start = lines.findIndex((l) => /^Step \d+\/\d+ : /.test(l) && l.replace(/^Step \d+\/\d+ : /, "").startsWith(prefix));
      expect(start, `no step ${prefix}`).toBeGreaterThanOrEqual(0);
      const end = lines.findIndex((l, i) => i > start && /^Step \d+\/\d+ : /.test(l));
      return lines.slice(start + 1, end < 0 ? undefined : end);
    };
    expect(stepOutput("RUN /app/venv/bin/pip install --no-build-isolation --no-index -r /src/requirements.txt")).toContain(" ---> Using cache");
    expect(stepOutput('COPY --from=build ["/app/venv/"')).toContain(" ---> Using cache");
    expect(stepOutput("RUN python3 -m pip wheel --no-deps")).not.toContain(" ---> Using cache");
    expect(second.cachedSteps).toBeGreaterThanOrEqual(12);
    expect(second.seconds).toBeLessThan(first.seconds + 60);
  });
});
