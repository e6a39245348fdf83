import { posix } from "node:path";
import { isVersion } from "../naming/version.js";
import { programName, type Layout } from "../naming/layout.js";

// Which release a supervisord program, conf file, link or container belongs
// to, read from what it is (the run script it runs, its labels) rather than
// from today's depl.yml. Pure.

/** A worker's name as depl.yml allows it (config/schema.ts): never "web", never a hyphen. */
const PROCESS_NAME = /^[a-z][a-z0-9]{0,19}$/;

export interface ProcessRef {
  version: string;
  process: string;
}

/** The release and process whose run script a program's command is (<root>/<app>/releases/<v>/run-<p>.sh), or null: not this app's. */
export function runScriptOwner(l: Layout, command: string): ProcessRef | null {
  const rel = command.startsWith(`${l.releases}/`) ? command.slice(l.releases.length + 1) : null;
  const m = rel === null ? null : /^([^/]+)\/run-([a-z][a-z0-9]*)\.sh$/.exec(rel);
  if (!m || !isVersion(m[1]!) || (m[2] !== "web" && !PROCESS_NAME.test(m[2]!))) return null;
  return { version: m[1]!, process: m[2]! };
}

/** The `command=` of a supervisord program conf, or null. */
export function confCommand(text: string): string | null {
  return /^command=(\S+)\s*$/m.exec(text)?.[1] ?? null;
}

/**
 * The process of `version` a program name stands for, or null. A worker
 * `x` of version `v` and the web program of a version `v-x` have the same
 * name: when `v-x` is another installed version, the name is its.
 */
export function processOfProgram(app: string, version: string, program: string, otherVersions: readonly string[]): string | null {
  if (program === programName(app, version)) return "web";
  const prefix = `${programName(app, version)}-`;
  if (!program.startsWith(prefix)) return null;
  const rest = program.slice(prefix.length);
  if (!PROCESS_NAME.test(rest) || otherVersions.includes(`${version}-${rest}`)) return null;
  return rest;
}

/** <program>.conf in depl's supervisor dir, depl-<program>.conf in supervisord's include dir: the program. */
export function programOfConfFile(file: string, linkPrefix = ""): string | null {
  const base = posix.basename(file);
  if (!base.startsWith(linkPrefix) || !base.endsWith(".conf")) return null;
  const program = base.slice(linkPrefix.length, -".conf".length);
  return program || null;
}

export interface RecordedRelease {
  version: string;
  /** As release.json records them; undefined: a release from before they were recorded (it owns any process). */
  processes?: Record<string, unknown>;
}

/** Whether a recorded release owns this process of `version`. */
export function owns(releases: readonly RecordedRelease[], ref: ProcessRef): boolean {
  const r = releases.find((x) => x.version === ref.version);
  if (!r) return false;
  return ref.process === "web" || r.processes === undefined || ref.process in r.processes;
}

/** The program names recorded releases own (web and their recorded workers); legacy releases are matched by version instead. */
export function ownedProgram(app: string, releases: readonly RecordedRelease[], program: string): boolean {
  const versions = releases.map((r) => r.version);
  for (const r of releases) {
    const process = processOfProgram(app, r.version, program, versions.filter((v) => v !== r.version));
    if (process !== null && owns(releases, { version: r.version, process })) return true;
  }
  return false;
}

export interface ContainerRow {
  name: string;
  version: string;
  process: string;
}

/** `docker ps --format '{{.Names}}\t{{.Label "depl.version"}}\t{{.Label "depl.process"}}'` output. Pure. */
export function parseContainerRows(out: string): ContainerRow[] {
  return out
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => {
      const [name = "", version = "", process = ""] = line.split("\t");
      return { name: name.trim(), version: version.trim(), process: process.trim() };
    })
    .filter((c) => c.name);
}
