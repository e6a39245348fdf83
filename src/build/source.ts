// What depl reads from the app's tree before rendering a Dockerfile: is it a
// pip package, which PEP 517 backend builds it, which local directories its
// requirements file names. Pure functions over file text, plus small readers.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { contextPath } from "./dockerfile.js";

/** A PEP 517 backend, the module to import, and the Debian package (bookworm) that provides it. */
export interface Backend {
  module: string;
  debian: string | null;
  /** Where it was declared, for the error message, e.g. "pyproject.toml" or "libs/x/pyproject.toml". */
  from: string;
}

/** bookworm's packages for the usual backends (checked with apt-cache). */
const BACKEND_PACKAGES: Record<string, string | null> = {
  setuptools: "python3-setuptools",
  flit_core: "flit",
  hatchling: "python3-hatchling",
  poetry: "python3-poetry-core",
  mesonpy: "python3-mesonpy",
  "pdm.pep517": "python3-pdm-pep517",
};

const MODULE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** `build-backend` of a pyproject.toml's [build-system] ("a.b:obj" -> "a.b"), or null. Pure. */
export function buildBackend(pyproject: string): string | null {
  const section = /^\s*\[build-system\]\s*$([\s\S]*?)(?=^\s*\[|(?![\s\S]))/m.exec(pyproject);
  const m = section && /^\s*build-backend\s*=\s*["']([^"']+)["']/m.exec(section[1]!);
  if (!m) return null;
  const module = m[1]!.split(":")[0]!.trim();
  return MODULE.test(module) ? module : null;
}

/** The Debian package that provides a backend module, or null when bookworm has none. Pure. */
export function backendPackage(module: string): string | null {
  for (const [prefix, pkg] of Object.entries(BACKEND_PACKAGES)) {
    if (module === prefix || module.startsWith(`${prefix}.`)) return pkg;
  }
  return null;
}

/** A pyproject.toml that makes a pip package: it has [build-system] or [project]. Pure. */
export function pyprojectIsPackage(pyproject: string): boolean {
  return /^\s*\[(?:build-system|project)\]\s*$/m.test(pyproject);
}

async function readText(p: string): Promise<string | null> {
  return readFile(p, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT" || e.code === "EISDIR") return null;
    throw e;
  });
}

const exists = async (p: string) => (await stat(p).catch(() => null)) !== null;

/** Whether dir holds a pip package, and its backend (setuptools when pyproject names none). */
export async function inspectPackage(dir: string, rel: string): Promise<{ isPackage: boolean; backend: Backend | null }> {
  const pyproject = await readText(join(dir, "pyproject.toml"));
  const from = rel ? `${rel}/pyproject.toml` : "pyproject.toml";
  const hasSetup = await exists(join(dir, "setup.py"));
  const isPackage = hasSetup || (pyproject !== null && pyprojectIsPackage(pyproject));
  if (!isPackage) return { isPackage, backend: null };
  const module = (pyproject && buildBackend(pyproject)) ?? "setuptools.build_meta";
  return { isPackage, backend: { module, debian: backendPackage(module), from: pyproject ? from : rel ? `${rel}/setup.py` : "setup.py" } };
}

export interface Requirements {
  /** Context-relative directories named by path, in order. */
  localPaths: string[];
  /** The file as pip gets it in the build stage: `-e <local path>` becomes `<local path>` (built as a normal wheel). */
  text: string;
  /** Files named by -r/-c, as written (pip reads them relative to this file). */
  includes: string[];
  /** Requirements by name (`flask>=2`), checked again in the runtime stage. */
  names: string[];
}

const LOCAL = /^(?:\.{1,2}\/|\/|\.$)/;

/**
 * Local directories a requirements file names (`./libs/x`, `-e ./libs/x`),
 * relative to the context root where pip runs. Pure; throws on a path that
 * leaves the context.
 */
export function parseRequirements(text: string): Requirements {
  const localPaths: string[] = [];
  const includes: string[] = [];
  const names: string[] = [];
  const out = text.split(/\r?\n/).map((line) => {
    const inc = /^\s*(?:-r|-c|--requirement|--constraint)(?:\s+|=)(\S+)/.exec(line);
    if (inc) {
      includes.push(inc[1]!);
      return line;
    }
    const m = /^(\s*)(?:(-e|--editable)(?:\s+|=))?(\S+)(.*)$/.exec(line);
    if (!m || line.trim().startsWith("#")) return line;
    const [, lead, editable, target, rest] = m as unknown as [string, string, string | undefined, string, string];
    const path = target.replace(/\[[^\]]*\]$/, "");
    if (!LOCAL.test(path) || path.startsWith("-")) {
      const req = line.replace(/(^|\s)#.*$/, "").trim();
      if (!editable && /^[A-Za-z0-9]/.test(req) && !/@|:\/\//.test(req)) names.push(req);
      return line;
    }
    let rel: string;
    try {
      rel = contextPath("requirements path", path);
    } catch {
      throw new Error(`requirements: ${path} is not a directory inside the build context (pip runs at the context root)`);
    }
    if (!localPaths.includes(rel)) localPaths.push(rel);
    return editable ? `${lead}${target}${rest}` : line;
  });
  return { localPaths, text: out.join("\n"), includes, names };
}
