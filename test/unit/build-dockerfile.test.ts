import { describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.js";
import {
  imageLabels,
  multiStageDockerfile,
  pipSourceArgs,
  singleStageDockerfile,
  type DockerfileInput,
} from "../../src/build/dockerfile.js";

const meta = {
  commit: "0123456789abcdef0123456789abcdef01234567",
  dirty: true,
  branch: "feature/x",
  builtAt: "2026-11-21T23:30:00.123Z",
  builtBy: "alice@deploybox",
};

function input(over: Record<string, unknown> = {}, rest: Partial<DockerfileInput> = {}): DockerfileInput {
  const config = validateConfig({ app: "app1", domain: "app1.localhost", run: { wsgi: "testapp.app:application" }, ...over });
  return { config, version: "2026.11.21.23.30", meta, requirements: "requirements.txt", ...rest };
}

/** The text of each stage, split on FROM lines. */
function stages(text: string): string[] {
  return text.split(/^(?=FROM )/m).slice(1);
}

describe("multiStageDockerfile", () => {
  const text = multiStageDockerfile(input({ build: { packages: { build: ["libpq-dev"], runtime: ["libpq5"] } } }));
  const [build, runtime] = stages(text) as [string, string];

  it("has a build stage and a runtime stage on the base image", () => {
    expect(stages(text)).toHaveLength(2);
    expect(build.split("\n")[0]).toBe("FROM depl-base:bookworm AS build");
    expect(runtime.split("\n")[0]).toBe("FROM depl-base:bookworm");
  });

  it("starts the two stages with different instructions, so their cache branches never mix", () => {
    const instructions = (stage: string) => stage.replace(/\\\n/g, " ").split("\n");
    expect(instructions(build)[1]).not.toBe(instructions(runtime)[1]);
  });

  it("installs compilers and build packages only in the build stage", () => {
    expect(build).toMatch(/apt-get install .*build-essential python3-dev python3-pip python3-venv python3-setuptools python3-wheel libpq-dev/);
    expect(runtime).toMatch(/DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv gunicorn libpq5 \\/);
    for (const p of ["build-essential", "gcc", "python3-dev", "libpq-dev"]) expect(runtime).not.toContain(p);
    expect(runtime).toContain("rm -rf /var/lib/apt/lists/*");
  });

  it("installs the dependencies into the build stage's venv from the requirements file before the app's code is copied", () => {
    const lines = build.split("\n");
    const venv = lines.indexOf("RUN python3 -m venv --system-site-packages /app/venv");
    const req = lines.indexOf('COPY ["depl/requirements.txt","/src/requirements.txt"]');
    const deps = lines.indexOf("RUN /app/venv/bin/pip install --no-build-isolation --no-index -r /src/requirements.txt");
    const app = lines.indexOf('COPY ["app/","/src/"]');
    const appWheel = lines.indexOf("RUN python3 -m pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels/app /src");
    expect([venv, req, deps, app, appWheel].every((i) => i >= 0)).toBe(true);
    expect(venv < req && req < deps && deps < app && app < appWheel).toBe(true);
  });

  it("installs the runtime packages in the build stage too, so the venv sees what Debian provides", () => {
    expect(build).toMatch(/apt-get install .* gunicorn libpq5 \\/);
  });

  it("copies the dependencies' venv and installs the app wheel in separate layers", () => {
    const lines = runtime.split("\n");
    const order = [
      'COPY --from=build ["/app/venv/","/app/venv/"]',
      'COPY --from=build ["/wheels/app/","/wheels/app/"]',
      "RUN /app/venv/bin/pip install --no-index /wheels/app/*.whl && rm -rf /wheels",
    ].map((l) => lines.indexOf(l));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("adds the wrapper, the app user and runs as that uid", () => {
    expect(runtime).toContain('COPY ["depl/depl_wsgi.py","/opt/depl/depl_wsgi.py"]');
    expect(runtime).toContain("ENV PATH=/app/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONPATH=/opt/depl:/app ");
    expect(runtime).toContain("RUN useradd --uid 10001 --no-create-home --no-log-init");
    expect(runtime).toMatch(/^USER 10001$/m);
  });

  it("puts per-version lines last, so that every layer above them is reused", () => {
    const lines = text.trimEnd().split("\n");
    const firstVersioned = lines.findIndex((l) => l.includes("2026.11.21.23.30") && !l.startsWith("#"));
    expect(firstVersioned).toBe(lines.findIndex((l) => l.startsWith("ENV DEPL_APP=")));
    expect(lines.slice(firstVersioned + 1).every((l) => /^(LABEL | {6}depl\.)/.test(l))).toBe(true);
    expect(text).toContain("ENV DEPL_APP=app1 DEPL_VERSION=2026.11.21.23.30 DEPL_WSGI=\"testapp.app:application\"");
  });

  it("labels the image with app, version, git and build facts", () => {
    for (const l of [
      'depl.app="app1"',
      'depl.version="2026.11.21.23.30"',
      `depl.git.commit="${meta.commit}"`,
      'depl.git.dirty="true"',
      'depl.git.branch="feature/x"',
      'depl.built_at="2026-11-21T23:30:00.123Z"',
      'depl.built_by="alice@deploybox"',
    ]) {
      expect(text).toContain(l);
    }
  });

  it("uses no BuildKit-only syntax", () => {
    expect(text).not.toMatch(/^# *syntax=/m);
    expect(text).not.toMatch(/--mount|--link|--chmod|<</);
  });

  it("skips the dependency step when there is no requirements file", () => {
    const t = multiStageDockerfile(input({}, { requirements: null }));
    expect(t).not.toContain(" -r ");
    expect(t).not.toContain("depl/requirements.txt");
    expect(t).toContain("RUN python3 -m pip wheel --no-deps");
  });

  it("takes the requirements file from a sub-directory", () => {
    const t = multiStageDockerfile(input({}, { requirements: "./reqs/prod.txt" }));
    expect(t).toContain('COPY ["depl/requirements.txt","/src/reqs/prod.txt"]');
    expect(t).toContain("-r /src/reqs/prod.txt");
  });
});

describe("pip sources", () => {
  const py = (p: Record<string, unknown>) => input({ build: { python: p } }).config.build.python;

  it("never tries a network index when none is configured", () => {
    expect(pipSourceArgs(py({}))).toEqual(["--no-index"]);
  });

  it("uses a configured index", () => {
    expect(pipSourceArgs(py({ index_url: "https://pypi.example.com/simple/" }))).toEqual(["--index-url", "https://pypi.example.com/simple/"]);
  });

  it("uses a wheelhouse offline, copied into the build stage before the requirements", () => {
    expect(pipSourceArgs(py({ find_links: "./wheelhouse/" }))).toEqual(["--no-index", "--find-links", "/wheelhouse"]);
    const t = multiStageDockerfile(input({ build: { python: { find_links: "./wheelhouse/" } } }));
    expect(t).toContain('COPY ["app/wheelhouse/","/wheelhouse/"]');
    expect(t).toContain("RUN /app/venv/bin/pip install --no-build-isolation --no-index --find-links /wheelhouse -r /src/requirements.txt");
    expect(t.indexOf("/wheelhouse/\"]")).toBeLessThan(t.indexOf("-r /src/requirements.txt"));
  });

  it("combines an index and a wheelhouse", () => {
    expect(pipSourceArgs(py({ index_url: "https://x.example/simple", find_links: "wh" }))).toEqual([
      "--index-url", "https://x.example/simple", "--find-links", "/wheelhouse",
    ]);
  });

  it("quotes an index URL with shell characters and refuses quotes", () => {
    const t = multiStageDockerfile(input({ build: { python: { index_url: "https://x.example/simple?a=1&b=2" } } }));
    expect(t).toContain("--index-url 'https://x.example/simple?a=1&b=2'");
    expect(() => multiStageDockerfile(input({ build: { python: { index_url: "https://x.example/'$(id)'" } } }))).toThrow(/index_url/);
  });
});

describe("validation of interpolated values", () => {
  const ok = input();
  const broken = (mutate: (i: DockerfileInput) => void) => {
    const i = structuredClone(ok);
    mutate(i);
    return () => multiStageDockerfile(i);
  };

  it.each([
    ["a package name", (i: DockerfileInput) => (i.config.build.packages.runtime = ["libpq5; rm -rf /"])],
    ["the uid", (i: DockerfileInput) => (i.config.run.uid = 0)],
    ["a fractional uid", (i: DockerfileInput) => (i.config.run.uid = 10001.5)],
    ["the version", (i: DockerfileInput) => (i.version = "1.0\nRUN id")],
    ["the base image", (i: DockerfileInput) => (i.config.build.base_image = "debian AS x\nRUN id")],
    ["the wsgi target", (i: DockerfileInput) => (i.config.run.wsgi = "a:b c")],
    ["the app name", (i: DockerfileInput) => (i.config.app = 'x" y="1')],
    ["a branch with a quote", (i: DockerfileInput) => (i.meta.branch = 'x"\nRUN id')],
    ["a commit that is not hex", (i: DockerfileInput) => (i.meta.commit = "HEAD")],
    ["the build time", (i: DockerfileInput) => (i.meta.builtAt = "yesterday")],
    ["the builder", (i: DockerfileInput) => (i.meta.builtBy = "a b")],
    ["a requirements path outside the context", (i: DockerfileInput) => (i.requirements = "../secrets.txt")],
    ["an absolute requirements path", (i: DockerfileInput) => (i.requirements = "/etc/passwd")],
  ])("refuses %s", (_what, mutate) => {
    expect(broken(mutate)).toThrow(/refusing to render/);
  });

  it("renders empty labels for a tree outside git", () => {
    const labels = imageLabels({ ...ok, meta: { ...meta, commit: null, branch: null, dirty: false } });
    expect(labels["depl.git.commit"]).toBe("");
    expect(labels["depl.git.branch"]).toBe("");
    expect(labels["depl.git.dirty"]).toBe("false");
  });
});

describe("singleStageDockerfile", () => {
  const text = singleStageDockerfile(input());

  it("is one stage with the compiler left in, installing the app straight into the venv", () => {
    expect(stages(text)).toHaveLength(1);
    expect(text).toMatch(/apt-get install .*build-essential .*gunicorn/);
    expect(text).toContain("RUN /app/venv/bin/pip install --no-build-isolation --no-index -r /src/requirements.txt");
    expect(text).toContain("RUN /app/venv/bin/pip install --no-build-isolation --no-index /src");
    expect(text).toContain('COPY ["depl/depl_wsgi.py","/opt/depl/depl_wsgi.py"]');
    expect(text).toMatch(/^USER 10001$/m);
  });
});

describe("apps and requirements of every shape", () => {
  it("copies the local packages a requirements file names before the requirements and the app's code", () => {
    const t = multiStageDockerfile(input({}, { localPaths: ["libs/fastcount", "libs/common"] }));
    const lines = t.split("\n");
    const at = (l: string) => lines.indexOf(l);
    const fast = at('COPY ["app/libs/fastcount/","/src/libs/fastcount/"]');
    const common = at('COPY ["app/libs/common/","/src/libs/common/"]');
    const deps = at("RUN /app/venv/bin/pip install --no-build-isolation --no-index -r /src/requirements.txt");
    const app = at('COPY ["app/","/src/"]');
    expect([fast, common, deps, app].every((i) => i >= 0)).toBe(true);
    expect(fast < deps && common < deps && deps < app).toBe(true);
    expect(() => multiStageDockerfile(input({}, { localPaths: ["../outside"] }))).toThrow(/refusing to render/);
  });

  it("copies depl's copies of included requirements files next to the top one, before the install", () => {
    const t = multiStageDockerfile(input({}, { requirements: "reqs/prod.txt", includedFiles: ["reqs/base.txt", "constraints.txt"] }));
    const lines = t.split("\n");
    const base = lines.indexOf('COPY ["depl/requirements-0.txt","/src/reqs/base.txt"]');
    const cons = lines.indexOf('COPY ["depl/requirements-1.txt","/src/constraints.txt"]');
    const install = lines.findIndex((l) => l.endsWith("-r /src/reqs/prod.txt"));
    expect(base >= 0 && cons >= 0 && base < install && cons < install).toBe(true);
  });

  it("checks again in the runtime stage that requirements by name are met there (not only by build packages)", () => {
    const runtime = stages(multiStageDockerfile(input({}, { checkNamed: true })))[1]!.split("\n");
    const venv = runtime.indexOf('COPY --from=build ["/app/venv/","/app/venv/"]');
    const copy = runtime.indexOf('COPY ["depl/requirements-named.txt","/tmp/depl-requirements.txt"]');
    const check = runtime.indexOf("RUN /app/venv/bin/pip install --no-index --dry-run -r /tmp/depl-requirements.txt && rm /tmp/depl-requirements.txt");
    expect(venv >= 0 && venv < copy && copy < check).toBe(true);
    expect(multiStageDockerfile(input())).not.toContain("--dry-run");
  });

  it("puts the tree of an app that is no pip package at /app, after the venv", () => {
    const t = multiStageDockerfile(input({}, { isPackage: false }));
    const [build, runtime] = stages(t) as [string, string];
    expect(build).not.toContain("pip wheel");
    expect(build).not.toContain('COPY ["app/","/src/"]');
    expect(runtime).not.toContain("/wheels/app");
    const lines = runtime.split("\n");
    expect(lines.indexOf('COPY ["app/","/app/"]')).toBeGreaterThan(lines.indexOf('COPY --from=build ["/app/venv/","/app/venv/"]'));
    expect(runtime).toMatch(/^WORKDIR \/app$/m);
  });

  it("collects static files in the runtime stage at /app with env but never secrets", () => {
    const t = multiStageDockerfile(
      input({
        env: { DJANGO_SETTINGS_MODULE: "site.settings" },
        secrets: { SECRET_KEY: "s3cr3t-marker" },
        static: { url: "/static/", path: "/app/static", collect: ["python", "manage.py", "collectstatic", "--noinput"] },
      }, { isPackage: false }),
    );
    const runtime = stages(t)[1]!.split("\n");
    const collect = runtime.indexOf('RUN ["env","DJANGO_SETTINGS_MODULE=site.settings","python","manage.py","collectstatic","--noinput"]');
    expect(collect).toBeGreaterThan(runtime.indexOf('COPY ["app/","/app/"]'));
    expect(runtime[collect - 1]).toBe("WORKDIR /app");
    expect(collect).toBeLessThan(runtime.findIndex((l) => l.startsWith("USER ")));
    expect(t).not.toContain("s3cr3t-marker");
    expect(t).not.toContain("SECRET_KEY");
  });

  it("checks for each PEP 517 backend first, naming the Debian package to add", () => {
    const t = multiStageDockerfile(input({}, {
      backends: [
        { module: "flit_core.buildapi", debian: "flit", from: "pyproject.toml" },
        { module: "pdm.backend", debian: null, from: "libs/x/pyproject.toml" },
      ],
    }));
    const build = stages(t)[0]!;
    expect(build).toContain(
      "RUN python3 -c 'import flit_core.buildapi' 2>/dev/null || { echo 'depl-error: pyproject.toml uses the PEP 517 backend flit_core.buildapi, which is not installed in the build stage: add flit under build.packages.build in depl.yml'; exit 1; }",
    );
    expect(build).toContain("libs/x/pyproject.toml uses the PEP 517 backend pdm.backend");
    expect(build.indexOf("import flit_core.buildapi")).toBeLessThan(build.indexOf("RUN python3 -m venv"));
    expect(() => multiStageDockerfile(input({}, { backends: [{ module: "x'; id; '", debian: null, from: "pyproject.toml" }] }))).toThrow(/refusing to render/);
  });

  it("renders an app factory target quoted", () => {
    const t = multiStageDockerfile(input({ run: { wsgi: "factory_app:create_app()" } }));
    expect(t).toContain('DEPL_WSGI="factory_app:create_app()"');
  });
});

describe("the pin check", () => {
  const lines = (text: string) => text.split("\n");
  it("runs in the build stage after the requirements are copied and before pip installs anything", () => {
    const build = stages(multiStageDockerfile(input()))[0]!.split("\n");
    const check = build.indexOf("RUN /app/venv/bin/python /opt/depl/depl_pins.py --mode strict /src/requirements.txt");
    const copy = build.indexOf('COPY ["depl/requirements.txt","/src/requirements.txt"]');
    const pip = build.findIndex((l) => l.startsWith("RUN /app/venv/bin/pip install"));
    expect(copy).toBeGreaterThan(0);
    expect(check).toBeGreaterThan(copy);
    expect(pip).toBe(check + 1);
    expect(build[check - 1]).toBe('COPY ["depl/depl_pins.py","/opt/depl/depl_pins.py"]');
  });

  it("rewrites pins with pins: debian, looks in the wheelhouse, and is left to pip with an index", () => {
    const debian = lines(multiStageDockerfile(input({ build: { python: { pins: "debian", find_links: "wheels" } } })));
    expect(debian).toContain("RUN /app/venv/bin/python /opt/depl/depl_pins.py --mode debian --wheelhouse /wheelhouse --rewrite /src/requirements.txt");
    const indexed = multiStageDockerfile(input({ build: { python: { index_url: "https://pypi.example/simple" } } }));
    expect(indexed).not.toContain("depl_pins.py");
    expect(indexed).toContain("echo '[]' > /opt/depl/pins.json");
  });

  it("carries what stood in for a pin into the runtime image", () => {
    const runtime = stages(multiStageDockerfile(input()))[1]!;
    expect(runtime).toContain('COPY --from=build ["/opt/depl/pins.json","/opt/depl/pins.json"]');
    expect(multiStageDockerfile(input({}, { requirements: null }))).not.toContain("pins");
  });

  it("refuses an unknown pins mode in one line", () => {
    expect(() => input({ build: { python: { pins: "loose" } } })).toThrow(/build\.python\.pins: .*'strict' \| 'debian'/);
  });
});
