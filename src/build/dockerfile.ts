// Renders depl's Dockerfiles. Pure: text from config and version metadata.
// Docker here is the legacy builder (Debian docker.io 20.10): no BuildKit
// syntax (no --mount, no heredocs, no `# syntax=`).
import type { Config } from "../config/schema.js";
import { APP_NAME, DEB_PACKAGE, IMAGE_REF, WSGI_TARGET } from "../config/names.js";
import { isVersion } from "../naming/version.js";

/** Where things sit in the build context (see context.ts): the app's tree under app/, depl's files under depl/. */
export const CONTEXT = {
  app: "app",
  dockerfile: "depl/Dockerfile",
  wrapper: "depl/depl_wsgi.py",
  pins: "depl/depl_pins.py",
  requirements: "depl/requirements.txt",
  named: "depl/requirements-named.txt",
} as const;

export const BUILD_PACKAGES = ["build-essential", "python3-dev", "python3-pip", "python3-venv", "python3-setuptools", "python3-wheel"];
export const RUNTIME_PACKAGES = ["python3-venv", "gunicorn"];
export const VENV = "/app/venv";
export const WRAPPER_DIR = "/opt/depl";

export interface BuildMeta {
  commit: string | null;
  dirty: boolean;
  branch: string | null;
  /** ISO 8601, UTC. */
  builtAt: string;
  /** user@host */
  builtBy: string;
}

export interface DockerfileInput {
  config: Config;
  version: string;
  meta: BuildMeta;
  /** Requirements file relative to the context, or null for none. */
  requirements: string | null;
  /** Files the requirements file includes (-r/-c, recursively), context-relative; depl's copies are requirementsCopy(i). */
  includedFiles?: string[];
  /** The requirements files name some requirements by name: checked again in the runtime stage (CONTEXT.named). */
  checkNamed?: boolean;
  /** Local directories the requirements files name, copied before the app's code. */
  localPaths?: string[];
  /** False for an app that is no pip package (no setup.py, no pyproject.toml project): its tree goes to /app. */
  isPackage?: boolean;
  /** PEP 517 backends checked for in the build stage before anything is built. */
  backends?: { module: string; debian: string | null; from: string }[];
}

/** depl's copy of the i-th included requirements file in the context. */
export const requirementsCopy = (i: number) => `depl/requirements-${i}.txt`;

/** Marks depl's own error lines in Docker's output (build.ts shows them as the error). */
export const ERROR_MARK = "depl-error:";

const COMMIT = /^[0-9a-f]{7,64}$/;
const BRANCH = /^[A-Za-z0-9._\/+@-]{1,200}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
const ACTOR = /^[A-Za-z0-9._@+-]{1,128}$/;
/** A path inside the context: plain segments, no "..", not absolute. */
const REL_PATH = /^(?!\/)(?:[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*)(?:\/[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]*)*\/?$/;
/** An index URL as pip takes it, with nothing a shell would read. */
const INDEX_URL = /^https?:\/\/[A-Za-z0-9._~:\/?#\[\]@!%+=,;&*-]+$/;

/** Throws unless value matches: every interpolated value is checked here, schema or not. */
function checked(what: string, re: RegExp, value: string): string {
  if (!re.test(value)) throw new Error(`refusing to render ${what} ${JSON.stringify(value)} into a Dockerfile`);
  return value;
}

/** "./x/" -> "x"; then checked. */
export function contextPath(what: string, p: string): string {
  const clean = p.replace(/^(?:\.\/)+/, "").replace(/\/+$/, "");
  if (clean.split("/").some((s) => s === "." || s === "..")) throw new Error(`refusing to render ${what} ${JSON.stringify(p)} into a Dockerfile`);
  return checked(what, REL_PATH, clean);
}

function uid(n: number): number {
  if (!Number.isInteger(n) || n < 1000 || n > 65000) throw new Error(`refusing to render uid ${n} into a Dockerfile`);
  return n;
}

const json = (xs: string[]) => JSON.stringify(xs);
const packages = (list: readonly string[]) => list.map((p) => checked("Debian package", DEB_PACKAGE, p)).join(" ");

function aptInstall(list: readonly string[]): string {
  return [
    "RUN apt-get update -qq \\",
    ` && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages([...new Set(list)])} \\`,
    " && apt-get clean && rm -rf /var/lib/apt/lists/*",
  ].join("\n");
}

/**
 * pip's options for where dependencies come from: a configured index and/or
 * wheelhouse. Without index_url pip never tries a network index (no PyPI
 * here: it would only retry and fail).
 */
export function pipSourceArgs(py: Config["build"]["python"]): string[] {
  const args: string[] = py.index_url ? ["--index-url", checked("build.python.index_url", INDEX_URL, py.index_url)] : ["--no-index"];
  if (py.find_links) args.push("--find-links", "/wheelhouse");
  return args;
}

/** Shell form: values are checked above; quoting keeps ?, # and & in a URL literal. */
const sh = (args: string[]) => args.map((a) => (/^[A-Za-z0-9_\/.:=+-]+$/.test(a) ? a : `'${a}'`)).join(" ");

export function imageLabels(input: Pick<DockerfileInput, "config" | "version" | "meta">): Record<string, string> {
  const { config, version, meta } = input;
  if (!isVersion(version)) throw new Error(`refusing to render version ${JSON.stringify(version)} into a Dockerfile`);
  return {
    "depl.app": checked("app", APP_NAME, config.app),
    "depl.version": version,
    "depl.git.commit": meta.commit === null ? "" : checked("git commit", COMMIT, meta.commit),
    "depl.git.dirty": String(meta.dirty === true),
    "depl.git.branch": meta.branch === null ? "" : checked("git branch", BRANCH, meta.branch),
    "depl.built_at": checked("built_at", ISO_TIME, meta.builtAt),
    "depl.built_by": checked("built_by", ACTOR, meta.builtBy),
  };
}

/** Per-version lines, last in the file so that every layer above them stays cached. */
function versionTail(input: DockerfileInput): string[] {
  const labels = imageLabels(input);
  const wsgi = checked("run.wsgi", WSGI_TARGET, input.config.run.wsgi);
  return [
    `ENV DEPL_APP=${labels["depl.app"]} DEPL_VERSION=${input.version} DEPL_WSGI=${JSON.stringify(wsgi)}`,
    `LABEL ${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" \\\n      ")}`,
  ];
}

/** Fails the build at once, with a message naming the Debian package, when a PEP 517 backend is missing. */
function backendChecks(input: DockerfileInput): string[] {
  const seen = new Set<string>();
  return (input.backends ?? []).flatMap((b) => {
    const module = checked("build backend", /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/, b.module);
    if (seen.has(module)) return [];
    seen.add(module);
    const from = contextPath("pyproject path", b.from);
    const fix = b.debian
      ? `add ${checked("Debian package", DEB_PACKAGE, b.debian)} under build.packages.build in depl.yml`
      : "Debian has no package for it: build a wheel elsewhere and use build.python.find_links";
    return [`RUN python3 -c 'import ${module}' 2>/dev/null || { echo '${ERROR_MARK} ${from} uses the PEP 517 backend ${module}, which is not installed in the build stage: ${fix}'; exit 1; }`];
  });
}

/**
 * Every pin of the requirements checked against Debian's packages and the
 * wheelhouse before pip builds anything: all unmet pins in one error (or, with
 * pins: debian, Debian's versions standing in). With an index, pip resolves
 * pins there: no check. Writes /opt/depl/pins.json (the substitutions).
 */
function pinCheck(py: Config["build"]["python"], file: string): string[] {
  if (py.index_url) return [`RUN mkdir -p ${WRAPPER_DIR} && echo '[]' > ${WRAPPER_DIR}/pins.json`];
  const args = ["--mode", py.pins, ...(py.find_links ? ["--wheelhouse", "/wheelhouse"] : []), ...(py.pins === "debian" ? ["--rewrite"] : []), file];
  return [`COPY ${json([CONTEXT.pins, `${WRAPPER_DIR}/depl_pins.py`])}`, `RUN ${VENV}/bin/python ${WRAPPER_DIR}/depl_pins.py ${sh(args)}`];
}

/** Dependency lines of the build stage: wheelhouse, local path packages, requirements, installed into the venv. */
function requirementsLines(input: DockerfileInput, install: (args: string[]) => string): string[] {
  const py = input.config.build.python;
  const lines: string[] = [];
  if (py.find_links) lines.push(`COPY ${json([`${CONTEXT.app}/${contextPath("build.python.find_links", py.find_links)}/`, "/wheelhouse/"])}`);
  if (input.requirements !== null) {
    const req = contextPath("requirements file", input.requirements);
    for (const p of input.localPaths ?? []) {
      const rel = contextPath("requirements path", p);
      lines.push(`COPY ${json([`${CONTEXT.app}/${rel}/`, `/src/${rel}/`])}`);
    }
    (input.includedFiles ?? []).forEach((f, i) => lines.push(`COPY ${json([requirementsCopy(i), `/src/${contextPath("included requirements file", f)}`])}`));
    lines.push(
      // depl's copy: `-e ./libs/x` built as a normal wheel (an editable install needs the source tree).
      `COPY ${json([CONTEXT.requirements, `/src/${req}`])}`,
      ...pinCheck(py, `/src/${req}`),
      install([...pipSourceArgs(py), "-r", `/src/${req}`]),
    );
  }
  return lines;
}

/** /app/venv's bin first: `python` and the app's console scripts resolve in web, workers, hooks and exec. */
export const RUNTIME_PATH = `${VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

const runtimeBase = (input: DockerfileInput) => [
  `RUN useradd --uid ${uid(input.config.run.uid)} --no-create-home --no-log-init --home-dir /app --shell /usr/sbin/nologin app`,
  `COPY ${json([CONTEXT.wrapper, `${WRAPPER_DIR}/depl_wsgi.py`])}`,
  // /app holds the source of an app that is no pip package (manage.py and all).
  `ENV PATH=${RUNTIME_PATH} PYTHONPATH=${WRAPPER_DIR}:/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1`,
];

/** The static collect command, run in the image at /app with config.env (never secrets). */
function collectLines(input: DockerfileInput): string[] {
  const s = input.config.static;
  if (!s?.collect?.length) return [];
  const env = Object.entries(input.config.env).map(([k, v]) => {
    if (/[\r\n\0]/.test(v)) throw new Error(`refusing to render env ${k} into a Dockerfile`);
    return `${k}=${v}`;
  });
  return ["WORKDIR /app", `RUN ${json(["env", ...env, ...s.collect])}`];
}

const header = (input: DockerfileInput, what: string) =>
  `# Generated by depl: ${what} for ${input.config.app} ${input.version}. Do not edit.`;
// Set after each stage's apt step, never as its first line: two stages that
// begin with the same instruction on the same base get sibling layers, and the
// legacy builder's cache may then follow the other stage's branch and miss.
const PIP_ENV = "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1";
const VENV_LINE = `RUN python3 -m venv --system-site-packages ${VENV}`;

/**
 * The two-stage ("double-dutch") Dockerfile. The build stage has compilers:
 * it installs the dependencies into /app/venv (from the requirements file
 * and the local packages it names alone, so the layer is reused while only
 * the app's code changes), then makes the app's wheel. The venv sees
 * Debian's Python packages (runtime ones installed in both stages), so a
 * requirement a Debian package satisfies is not built. The runtime stage
 * copies the venv, then installs the app's wheel (or copies a tree that is
 * no package to /app); it has no compiler.
 */
export function multiStageDockerfile(input: DockerfileInput): string {
  const base = checked("build.base_image", IMAGE_REF, input.config.build.base_image);
  const pkgs = input.config.build.packages;
  const pip = `${VENV}/bin/pip`;
  const isPackage = input.isPackage !== false;
  return [
    header(input, "two-stage build"),
    `FROM ${base} AS build`,
    aptInstall([...BUILD_PACKAGES, ...pkgs.build, ...RUNTIME_PACKAGES, ...pkgs.runtime]),
    PIP_ENV,
    ...backendChecks(input),
    VENV_LINE,
    "WORKDIR /src",
    ...requirementsLines(input, (args) => `RUN ${pip} install --no-build-isolation ${sh(args)}`),
    ...(isPackage
      ? [`COPY ${json([`${CONTEXT.app}/`, "/src/"])}`, "RUN python3 -m pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels/app /src"]
      : []),
    "",
    `FROM ${base}`,
    aptInstall([...RUNTIME_PACKAGES, ...pkgs.runtime]),
    PIP_ENV,
    ...runtimeBase(input),
    `COPY --from=build ${json([`${VENV}/`, `${VENV}/`])}`,
    ...(input.requirements !== null ? [`COPY --from=build ${json([`${WRAPPER_DIR}/pins.json`, `${WRAPPER_DIR}/pins.json`])}`] : []),
    // A requirement the build stage's Debian packages met (python3-setuptools...) must be met here too.
    ...(input.checkNamed && input.requirements !== null
      ? [`COPY ${json([CONTEXT.named, "/tmp/depl-requirements.txt"])}`, `RUN ${pip} install --no-index --dry-run -r /tmp/depl-requirements.txt && rm /tmp/depl-requirements.txt`]
      : []),
    ...(isPackage
      ? [
          `COPY --from=build ${json(["/wheels/app/", "/wheels/app/"])}`,
          // Dependencies are in the venv or Debian's: a missing one fails here, not at run time.
          `RUN ${pip} install --no-index /wheels/app/*.whl && rm -rf /wheels`,
        ]
      : [`COPY ${json([`${CONTEXT.app}/`, "/app/"])}`]),
    ...collectLines(input),
    "WORKDIR /app",
    `USER ${uid(input.config.run.uid)}`,
    ...versionTail(input),
    "",
  ].join("\n");
}

/** The same app in one stage, compiler left in: the baseline for `npm run bench:size`. */
export function singleStageDockerfile(input: DockerfileInput): string {
  const base = checked("build.base_image", IMAGE_REF, input.config.build.base_image);
  const pkgs = input.config.build.packages;
  const pip = `${VENV}/bin/pip`;
  const isPackage = input.isPackage !== false;
  return [
    header(input, "single-stage build"),
    `FROM ${base}`,
    aptInstall([...BUILD_PACKAGES, ...RUNTIME_PACKAGES, ...pkgs.build, ...pkgs.runtime]),
    PIP_ENV,
    ...backendChecks(input),
    ...runtimeBase(input),
    VENV_LINE,
    "WORKDIR /src",
    ...requirementsLines(input, (args) => `RUN ${pip} install --no-build-isolation ${sh(args)}`),
    `COPY ${json([`${CONTEXT.app}/`, isPackage ? "/src/" : "/app/"])}`,
    ...(isPackage ? [`RUN ${pip} install --no-build-isolation ${sh([...pipSourceArgs(input.config.build.python), "/src"])}`] : []),
    ...collectLines(input),
    "WORKDIR /app",
    `USER ${uid(input.config.run.uid)}`,
    ...versionTail(input),
    "",
  ].join("\n");
}
