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

  it("builds dependency wheels from the requirements file before the app's code is copied", () => {
    const lines = build.split("\n");
    const req = lines.indexOf('COPY ["app/requirements.txt","/src/requirements.txt"]');
    const deps = lines.findIndex((l) => l.startsWith("RUN python3 -m pip wheel --no-build-isolation --wheel-dir /wheels/deps -r /src/requirements.txt"));
    const app = lines.indexOf('COPY ["app/","/src/"]');
    const appWheel = lines.indexOf("RUN python3 -m pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels/app /src");
    expect([req, deps, app, appWheel].every((i) => i >= 0)).toBe(true);
    expect(req < deps && deps < app && app < appWheel).toBe(true);
  });

  it("installs dependency wheels and the app wheel in separate layers of a venv with system site packages", () => {
    const lines = runtime.split("\n");
    const order = [
      "RUN python3 -m venv --system-site-packages /app/venv",
      'COPY --from=build ["/wheels/deps/","/wheels/deps/"]',
      'COPY --from=build ["/wheels/app/","/wheels/app/"]',
      "RUN /app/venv/bin/pip install --no-index --find-links /wheels/deps /wheels/app/*.whl",
    ].map((l) => lines.indexOf(l));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("adds the wrapper, the app user and runs as that uid", () => {
    expect(runtime).toContain('COPY ["depl/depl_wsgi.py","/opt/depl/depl_wsgi.py"]');
    expect(runtime).toContain("ENV PYTHONPATH=/opt/depl ");
    expect(runtime).toContain("RUN useradd --uid 10001 --no-create-home --no-log-init");
    expect(runtime).toMatch(/^USER 10001$/m);
  });

  it("puts per-version lines last, so that every layer above them is reused", () => {
    const lines = text.trimEnd().split("\n");
    const firstVersioned = lines.findIndex((l) => l.includes("2026.11.21.23.30") && !l.startsWith("#"));
    expect(firstVersioned).toBe(lines.findIndex((l) => l.startsWith("ENV DEPL_APP=")));
    expect(lines.slice(firstVersioned + 1).every((l) => /^(LABEL | {6}depl\.)/.test(l))).toBe(true);
    expect(text).toContain("ENV DEPL_APP=app1 DEPL_VERSION=2026.11.21.23.30 DEPL_WSGI=testapp.app:application");
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
    expect(t).not.toContain("/wheels/deps -r");
    expect(t).toContain("RUN mkdir -p /wheels/deps /wheels/app");
  });

  it("takes the requirements file from a sub-directory", () => {
    const t = multiStageDockerfile(input({}, { requirements: "./reqs/prod.txt" }));
    expect(t).toContain('COPY ["app/reqs/prod.txt","/src/reqs/prod.txt"]');
    expect(t).toContain("-r /src/reqs/prod.txt");
  });
});

describe("pip sources", () => {
  const py = (p: Record<string, unknown>) => input({ build: { python: p } }).config.build.python;

  it("leaves pip's default index alone when nothing is configured", () => {
    expect(pipSourceArgs(py({}))).toEqual([]);
  });

  it("uses a configured index", () => {
    expect(pipSourceArgs(py({ index_url: "https://pypi.example.com/simple/" }))).toEqual(["--index-url", "https://pypi.example.com/simple/"]);
  });

  it("uses a wheelhouse offline, copied into the build stage before the requirements", () => {
    expect(pipSourceArgs(py({ find_links: "./wheelhouse/" }))).toEqual(["--no-index", "--find-links", "/wheelhouse"]);
    const t = multiStageDockerfile(input({ build: { python: { find_links: "./wheelhouse/" } } }));
    expect(t).toContain('COPY ["app/wheelhouse/","/wheelhouse/"]');
    expect(t).toContain("--wheel-dir /wheels/deps --no-index --find-links /wheelhouse -r /src/requirements.txt");
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
    expect(text).toContain("RUN /app/venv/bin/pip install --no-build-isolation -r /src/requirements.txt");
    expect(text).toContain("RUN /app/venv/bin/pip install --no-build-isolation /src");
    expect(text).toContain('COPY ["depl/depl_wsgi.py","/opt/depl/depl_wsgi.py"]');
    expect(text).toMatch(/^USER 10001$/m);
  });
});
