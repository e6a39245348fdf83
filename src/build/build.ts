import { readFile, stat } from "node:fs/promises";
import { posix, resolve } from "node:path";
import { journalDir } from "../release/journal.js";
import type Docker from "dockerode";
import type { Config } from "../config/schema.js";
import { DeplError, UsageError } from "../errors.js";
import { buildContext } from "./context.js";
import {
  CONTEXT,
  contextPath,
  multiStageDockerfile,
  singleStageDockerfile,
  type BuildMeta,
  type DockerfileInput,
  ERROR_MARK,
  requirementsCopy,
} from "./dockerfile.js";
import { inspectPackage, parseRequirements, type Backend } from "./source.js";
import { BuildProgress, stepLine, type BuildEvent } from "./progress.js";

/** Installed in every runtime image at /opt/depl/depl_wsgi.py. */
export const WRAPPER_SOURCE = new URL("../../templates/runtime/depl_wsgi.py", import.meta.url);
/** The pin check run in the build stage before any wheel is built. */
export const PINS_SOURCE = new URL("../../templates/build/depl_pins.py", import.meta.url);
const DEFAULT_REQUIREMENTS = "requirements.txt";

export interface BuildArgs {
  config: Config;
  /** Directory of depl.yml: build.context is relative to it. */
  configDir: string;
  /** The config file in use: never sent to Docker (it may hold secrets). */
  configFile?: string;
  version: string;
  meta: BuildMeta;
  /** Full Docker output instead of one line per step. */
  verbose: boolean;
  log: (msg: string) => void;
  /** "single" is the benchmark's one-stage baseline (compiler left in). */
  stages?: "multi" | "single";
  /** Default: <app>:<version>. */
  tag?: string;
  /** Build every step afresh (the benchmark's cold builds). */
  noCache?: boolean;
  /** Default: the local Engine (DOCKER_HOST or /var/run/docker.sock). */
  docker?: Docker;
}

export interface BuiltImage {
  /** <app>:<version> */
  image: string;
  imageId: string;
  sizeBytes: number;
  steps: number;
  cachedSteps: number;
  seconds: number;
  /** Short ids of every image the build made, intermediate ones included. */
  layers: string[];
}

/** Thrown for a failed docker build: what it made so far, for cleanup and tests. */
export class BuildFailed extends DeplError {
  constructor(message: string, readonly layers: string[], readonly seconds: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface PinSubstitution {
  requirement: string;
  debian: string;
  package: string;
}

/** /opt/depl/pins.json of a built image (what the pin check let Debian stand in for), through the docker CLI. */
async function readPins(image: string): Promise<PinSubstitution[]> {
  const { LocalHost } = await import("../host/local.js");
  const r = await new LocalHost().run(["docker", "run", "--rm", "--entrypoint", "cat", image, "/opt/depl/pins.json"], { allowFailure: true });
  try {
    return r.code === 0 ? (JSON.parse(r.stdout) as PinSubstitution[]) : [];
  } catch {
    return [];
  }
}

/** The substitutions as the build prints them. Pure. */
export function pinsTable(pins: readonly PinSubstitution[]): string[] {
  if (pins.length === 0) return [];
  const w = Math.max(11, ...pins.map((p) => p.requirement.length));
  return [
    `build.python.pins: debian: Debian's versions stand in for ${pins.length} pin(s):`,
    `  ${"REQUIREMENT".padEnd(w)}  ${"DEBIAN HAS".padEnd(10)}  PACKAGE`,
    ...pins.map((p) => `  ${p.requirement.padEnd(w)}  ${p.debian.padEnd(10)}  ${p.package}`),
  ];
}

/**
 * The runtime stage's check of requirements named by name. With pins: debian
 * Debian's version stands in for a pin, so only the names are checked there. Pure.
 */
export function namedCheck(names: readonly string[], pins: "strict" | "debian"): string {
  const bare = (n: string) => {
    const [req, ...marker] = n.split(";");
    const name = /^\s*[A-Za-z0-9._-]+(?:\[[^\]]*\])?/.exec(req!)?.[0].trim() ?? req!.trim();
    return marker.length ? `${name}; ${marker.join(";").trim()}` : name;
  };
  const lines = pins === "debian" ? names.map(bare) : names;
  return `${lines.join("\n")}\n`;
}

/**
 * One line saying what to do about a failure Docker's output shows, or null. Pure.
 * depl's own checks print ERROR_MARK lines; pip says "No matching distribution".
 */
export function explainFailure(lines: readonly string[]): string | null {
  for (const l of lines) {
    const i = l.indexOf(ERROR_MARK);
    if (i >= 0 && !l.includes("echo '")) return l.slice(i + ERROR_MARK.length).trim();
  }
  for (const l of lines) {
    const m = /No matching distribution found for (\S+)/.exec(l);
    if (m) {
      const name = m[1]!.replace(/[<>=!~;\[].*$/, "");
      const deb = `python3-${name.toLowerCase().replace(/[_.]+/g, "-")}`;
      return (
        `the Python dependency ${m[1]} cannot be found offline: put its wheel or sdist in build.python.find_links, ` +
        `set build.python.index_url, or add its Debian package (e.g. ${deb}) under build.packages.runtime (the venv sees Debian's Python packages)`
      );
    }
  }
  return null;
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
}

/** The configured requirements file, else requirements.txt when present, else none. */
export async function findRequirements(contextDir: string, configured: string | undefined): Promise<string | null> {
  if (configured === undefined) return (await isFile(resolve(contextDir, DEFAULT_REQUIREMENTS))) ? DEFAULT_REQUIREMENTS : null;
  let rel: string;
  try {
    rel = contextPath("build.python.requirements", configured);
  } catch {
    throw new UsageError(`build.python.requirements: expected a plain path inside the build context, got "${configured}"`);
  }
  if (!(await isFile(resolve(contextDir, rel)))) throw new UsageError(`build.python.requirements: ${resolve(contextDir, rel)} does not exist`);
  return rel;
}

/** The requirements file and those it includes (-r/-c, recursively), each as pip gets it, and the local directories they name. */
async function readRequirements(contextDir: string, top: string): Promise<{ files: { path: string; text: string }[]; localPaths: string[]; names: string[] }> {
  const files: { path: string; text: string }[] = [];
  const localPaths: string[] = [];
  const names: string[] = [];
  const queue = [top];
  while (queue.length) {
    const path = queue.shift()!;
    if (files.some((f) => f.path === path)) continue;
    let text: string;
    try {
      text = await readFile(resolve(contextDir, path), "utf8");
    } catch {
      throw new UsageError(`${top}: cannot read ${path} in the build context ${contextDir}`);
    }
    let r;
    try {
      r = parseRequirements(text);
    } catch (e) {
      throw new UsageError(`${path}: ${(e as Error).message.replace(/^requirements: /, "")}`);
    }
    files.push({ path, text: r.text });
    for (const p of r.localPaths) if (!localPaths.includes(p)) localPaths.push(p);
    names.push(...r.names);
    for (const inc of r.includes) {
      try {
        queue.push(contextPath("included requirements file", posix.normalize(posix.join(posix.dirname(path), inc))));
      } catch {
        throw new UsageError(`${path}: -r/-c ${inc} is not a file inside the build context`);
      }
    }
  }
  return { files, localPaths, names };
}

async function checkFindLinks(contextDir: string, findLinks: string | undefined): Promise<void> {
  if (findLinks === undefined) return;
  let rel: string;
  try {
    rel = contextPath("build.python.find_links", findLinks);
  } catch {
    throw new UsageError(`build.python.find_links: expected a directory inside the build context, got "${findLinks}"`);
  }
  if (!(await isDir(resolve(contextDir, rel)))) throw new UsageError(`build.python.find_links: ${resolve(contextDir, rel)} is not a directory`);
}

function follow(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (ev: BuildEvent) => void): Promise<void> {
  return new Promise((res, rej) => docker.modem.followProgress(stream, (err: Error | null) => (err ? rej(err) : res()), onEvent));
}

/**
 * Builds <app>:<version> with the local Docker Engine: the app's directory
 * (filtered by its .dockerignore) plus a generated Dockerfile and depl's WSGI
 * wrapper. Progress is one line per step, or everything with verbose; a
 * failed step throws a DeplError carrying the end of Docker's output.
 */
export async function buildRelease(args: BuildArgs): Promise<BuiltImage> {
  const { config, version, log } = args;
  const contextDir = resolve(args.configDir, config.build.context);
  if (!(await isDir(contextDir))) throw new UsageError(`build.context: ${contextDir} is not a directory`);
  await checkFindLinks(contextDir, config.build.python.find_links);
  const requirements = await findRequirements(contextDir, config.build.python.requirements);
  const reqs = requirements === null ? null : await readRequirements(contextDir, requirements);
  const parsed = { localPaths: reqs?.localPaths ?? [], text: reqs?.files[0]?.text ?? "" };
  const app = await inspectPackage(contextDir, "");
  const backends: Backend[] = app.backend ? [app.backend] : [];
  for (const p of parsed.localPaths) {
    if (!(await isDir(resolve(contextDir, p)))) throw new UsageError(`${requirements}: ${p} is not a directory in the build context ${contextDir}`);
    const lib = await inspectPackage(resolve(contextDir, p), p);
    if (lib.backend) backends.push(lib.backend);
  }
  const input: DockerfileInput = {
    config,
    version,
    meta: args.meta,
    requirements,
    localPaths: parsed.localPaths,
    includedFiles: reqs?.files.slice(1).map((f) => f.path) ?? [],
    checkNamed: (reqs?.names.length ?? 0) > 0,
    isPackage: app.isPackage,
    backends,
  };
  const dockerfile = args.stages === "single" ? singleStageDockerfile(input) : multiStageDockerfile(input);
  const tag = args.tag ?? `${config.app}:${version}`;
  // Whatever .dockerignore says: these may hold secrets or depl's state.
  const never = [
    ...(args.configFile ? [resolve(args.configFile)] : []),
    ...(config.secrets_file ? [resolve(args.configDir, config.secrets_file)] : []),
    journalDir(),
  ];
  // The tree of an app that is no package is copied onto /app: a local venv/ there would overwrite depl's.
  if (!app.isPackage && (await isDir(resolve(contextDir, "venv")))) {
    never.push(resolve(contextDir, "venv"));
    log(`not sending ${resolve(contextDir, "venv")}: /app/venv is the image's own venv`);
  }
  const context = await buildContext(
    contextDir,
    [
      { name: CONTEXT.dockerfile, content: dockerfile },
      { name: CONTEXT.wrapper, content: await readFile(WRAPPER_SOURCE) },
      { name: CONTEXT.pins, content: await readFile(PINS_SOURCE) },
      ...(requirements !== null ? [{ name: CONTEXT.requirements, content: parsed.text }] : []),
      ...(reqs?.files.slice(1).map((f, i) => ({ name: requirementsCopy(i), content: f.text })) ?? []),
      ...(reqs?.names.length ? [{ name: CONTEXT.named, content: namedCheck(reqs.names, config.build.python.pins) }] : []),
    ],
    never,
  );

  const docker = args.docker ?? new (await import("dockerode")).default();
  const progress = new BuildProgress();
  const started = Date.now();
  try {
    const stream = await docker.buildImage(context, {
      t: tag,
      dockerfile: CONTEXT.dockerfile,
      rm: true,
      forcerm: true,
      nocache: args.noCache === true,
      version: "1",
    });
    await follow(docker, stream, (ev) => {
      const { lines, step } = progress.push(ev);
      if (args.verbose) lines.forEach((l) => log(l));
      else if (step) log(stepLine(step));
    });
  } catch (e) {
    context.destroy();
    throw new BuildFailed(`docker build of ${tag} failed: ${(e as Error).message}`, progress.layers, (Date.now() - started) / 1000, { cause: e });
  }
  const seconds = (Date.now() - started) / 1000;
  if (progress.error !== null || progress.imageId === null) {
    const tail = progress.lastLines();
    const explained = explainFailure(tail);
    if (explained) throw new BuildFailed(`docker build of ${tag} failed: ${explained}\n${tail.join("\n")}`, progress.layers, seconds);
    const at = progress.currentStep ? ` at ${stepLine(progress.currentStep, 200)}` : "";
    const why = progress.error ?? "Docker reported no image id";
    throw new BuildFailed(`docker build of ${tag} failed${at}: ${why}\n${tail.join("\n")}`, progress.layers, seconds);
  }
  const info = await docker.getImage(progress.imageId).inspect();
  log(`built ${tag} in ${seconds.toFixed(1)} s (${progress.cachedSteps} of ${progress.steps.length} steps from cache)`);
  // The pin check's step is cached while the requirements stay the same: what stands in is read from the image.
  if (config.build.python.pins === "debian" && requirements !== null && !config.build.python.index_url) {
    for (const line of pinsTable(await readPins(progress.imageId))) log(line);
  }
  return {
    image: tag,
    imageId: info.Id,
    sizeBytes: info.Size,
    steps: progress.steps.length,
    cachedSteps: progress.cachedSteps,
    seconds,
    layers: progress.layers,
  };
}
