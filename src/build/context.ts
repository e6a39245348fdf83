// The build context sent to Docker: the app's tree (minus .dockerignore) under
// app/, depl's generated files under depl/. The user's tree is only read.
import type { Dirent } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import dockerignore from "@balena/dockerignore";
import { pack, type Headers, type Pack } from "tar-fs";
import { CONTEXT } from "./dockerfile.js";

/** Patterns of a .dockerignore file: comments and blank lines dropped. Pure. */
export function parseDockerignore(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** True for a context-relative path (posix) that Docker would send. Pure. */
export function contextFilter(patterns: readonly string[]): (rel: string) => boolean {
  // A CommonJS module: its default export sits one level down under NodeNext.
  const ig = dockerignore.default().add([...patterns]);
  return (rel) => !ig.ignores(rel);
}

/**
 * Context-relative paths to send, parents before children. Like Docker, a
 * directory that is excluded is still walked when some "!" pattern may
 * bring back something inside it. Only files, directories and symlinks.
 */
export async function listContext(dir: string, patterns: readonly string[], never: readonly string[] = []): Promise<string[]> {
  const filter = contextFilter(patterns);
  const keep = (rel: string) => filter(rel) && !neverSent(rel, never);
  const hasExceptions = patterns.some((p) => p.startsWith("!"));
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries: Dirent[] = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const kept = keep(path);
      if (e.isDirectory()) {
        if (kept) out.push(path);
        if (kept || hasExceptions) await walk(path);
      } else if ((e.isFile() || e.isSymbolicLink()) && kept) {
        out.push(path);
      }
    }
  }
  await walk("");
  return out;
}

/**
 * True for what never goes into a context, whatever .dockerignore says: any
 * .git, and the context-relative paths in `never` (depl.yml, the secrets
 * file, depl's state) with everything under them. Pure.
 */
export function neverSent(rel: string, never: readonly string[]): boolean {
  if (rel.split("/").includes(".git")) return true;
  return never.some((n) => rel === n || rel.startsWith(`${n}/`));
}

/** Absolute paths as context-relative posix paths; those outside dir dropped. Pure. */
export function insideContext(dir: string, paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    const rel = relative(dir, p);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return rel === "" ? ["."] : [];
    return [rel.split(sep).join("/")];
  });
}

export interface ExtraFile {
  /** Path inside the context, e.g. depl/Dockerfile. */
  name: string;
  content: string | Buffer;
  mode?: number;
}

/**
 * A tar stream of `entries` of dir placed under app/, then the extra files.
 * Owners are zeroed so that the layer cache does not depend on who builds.
 */
export function packContext(dir: string, entries: readonly string[], extras: readonly ExtraFile[]): Pack {
  return pack(dir, {
    // "." first: app/ exists even when everything else is ignored.
    entries: [".", ...entries],
    // Every wanted path is listed in entries: never descend on our own.
    ignore: () => true,
    map: (h: Headers) => ({ ...h, name: h.name === "." ? CONTEXT.app : `${CONTEXT.app}/${h.name}`, uid: 0, gid: 0 }),
    finalize: false,
    finish: (p) => {
      for (const f of extras) p.entry({ name: f.name, mode: f.mode ?? 0o644, uid: 0, gid: 0 }, f.content);
      p.finalize();
    },
  });
}

/**
 * The whole context for `docker build`: dir filtered by its .dockerignore,
 * minus `never` (absolute paths: depl.yml, the secrets file, depl's state),
 * plus depl's files.
 */
export async function buildContext(dir: string, extras: readonly ExtraFile[], never: readonly string[] = []): Promise<Readable> {
  const ignoreText = await readFile(join(dir, ".dockerignore"), "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return "";
    throw e;
  });
  // tar-fs makes a streamx stream: wrap it in a Node stream for dockerode.
  const excluded = insideContext(dir, never);
  if (excluded.includes(".")) throw new Error(`build.context ${dir} is depl's state directory`);
  return Readable.from(packContext(dir, await listContext(dir, parseDockerignore(ignoreText), excluded), extras), { objectMode: false });
}
