import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// Loading the yaml package takes about a sixth of a local promote's time, for
// a file that rarely changes: its parse is kept beside the journals, keyed by
// the text's SHA-256, one file per config path. Only documents that JSON
// carries exactly are kept, and never one that holds secrets.

type Parse = (text: string) => unknown;

const loadYaml: Parse = (text) => (createRequire(import.meta.url)("yaml") as { parse: Parse }).parse(text);

/** True when JSON.stringify then JSON.parse gives back exactly this value. Pure. */
export function isPlainJson(v: unknown): boolean {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every(isPlainJson);
  if (typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.keys(v).every((k) => k !== "__proto__" && isPlainJson((v as Record<string, unknown>)[k]));
}

function holdsSecrets(doc: unknown): boolean {
  const s = doc && typeof doc === "object" ? (doc as Record<string, unknown>).secrets : undefined;
  return s !== undefined && s !== null && !(typeof s === "object" && Object.keys(s).length === 0);
}

/**
 * parse(text) of the config at `path`, from the cache in `dir` when the text
 * is the one last parsed there. Throws what parse throws; the cache itself
 * never makes this fail (unreadable, unwritable or corrupt: parsed again).
 */
export function parseYamlCached(path: string, text: string, dir: string, parse: Parse = loadYaml): unknown {
  const sha = createHash("sha256").update(text).digest("hex");
  const file = join(dir, `config-${createHash("sha256").update(path).digest("hex").slice(0, 32)}.json`);
  try {
    const cached = JSON.parse(readFileSync(file, "utf8")) as { sha?: string; doc?: unknown };
    if (cached.sha === sha && "doc" in cached) return cached.doc;
  } catch {
    // missing or unreadable: parse
  }
  const doc = parse(text);
  if (isPlainJson(doc) && !holdsSecrets(doc)) {
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify({ path, sha, doc }) + "\n", { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // no directory to clean
      }
    }
  }
  return doc;
}
