// The build context sent to Docker: the app's tree (minus .dockerignore) under
// app/, depl's generated files under depl/. The user's tree is only read.
import type { Dirent } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
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
export async function listContext(dir: string, patterns: readonly string[]): Promise<string[]> {
  const keep = contextFilter(patterns);
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

/** The whole context for `docker build`: dir filtered by its .dockerignore, plus depl's files. */
export async function buildContext(dir: string, extras: readonly ExtraFile[]): Promise<Readable> {
  const ignoreText = await readFile(join(dir, ".dockerignore"), "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return "";
    throw e;
  });
  // tar-fs makes a streamx stream: wrap it in a Node stream for dockerode.
  return Readable.from(packContext(dir, await listContext(dir, parseDockerignore(ignoreText)), extras), { objectMode: false });
}
