import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ZodError } from "zod";
import { ConfigError, UsageError, quote } from "../errors.js";
import { configSchema, type Config } from "./schema.js";
import { parseYamlCached } from "./parse-cache.js";
import { stateDir } from "../naming/state-dir.js";

export interface LoadedConfig {
  config: Config;
  /** The -d destination this config is for (its app name then ends in -<destination>), or null. */
  destination: string | null;
  /** Absolute path of the config file; build.context is relative to its directory. */
  path: string;
  dir: string;
}

/** Pure: validates an already parsed document. Throws ConfigError naming the key path. */
export function validateConfig(raw: unknown, source = "depl.yml"): Config {
  try {
    return configSchema.parse(raw ?? {});
  } catch (e) {
    if (e instanceof ZodError) throw new ConfigError(`${source}: ${formatIssue(e)}`);
    throw e;
  }
}

function formatIssue(e: ZodError): string {
  const issue = e.issues[0]!;
  const path = issue.path.join(".") || "(top level)";
  if (issue.code === "unrecognized_keys") {
    const where = issue.path.length ? issue.path.join(".") + "." : "";
    return `unknown key ${issue.keys.map((k) => where + k).join(", ")}`;
  }
  if (issue.code === "invalid_type" && issue.received === "undefined") return `${path}: is required`;
  if (issue.code === "invalid_union") {
    // Report the branch that got furthest (hosts entries are "local" or an object).
    const inner = issue.unionErrors.map((u) => u.issues[0]!).sort((a, b) => b.path.length - a.path.length)[0];
    if (inner) return formatIssue(new ZodError([inner]));
  }
  return `${path}: ${issue.message}`;
}

export const DESTINATION = /^[a-z][a-z0-9-]{0,15}$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Objects merged key by key, anything else (lists included) replaced. Pure. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/**
 * The document for one destination: the top level with destinations.<name>
 * merged over it, app renamed <app>-<name> (its own releases, programs, lock,
 * journal and history on every host), or the top level alone for null. Pure.
 */
export function destinationDocument(raw: unknown, destination: string | null, source = "depl.yml"): Record<string, unknown> {
  const doc = isPlainObject(raw) ? raw : {};
  const { destinations, ...base } = doc;
  if (destinations !== undefined && !isPlainObject(destinations)) throw new ConfigError(`${source}: destinations: expected a map of name -> overrides`);
  const names = Object.keys(destinations ?? {});
  for (const n of names) {
    if (!DESTINATION.test(n)) throw new ConfigError(`${source}: destinations: invalid name ${quote(n)}: expected 1-16 lower-case letters, digits or hyphens, starting with a letter`);
    const o = destinations![n];
    if (!isPlainObject(o)) throw new ConfigError(`${source}: destinations.${n}: expected a map of overrides`);
    for (const k of ["app", "destinations"]) if (k in o) throw new ConfigError(`${source}: destinations.${n}.${k}: cannot be set per destination`);
  }
  if (destination === null) {
    if (names.length > 0) throw new ConfigError(`${source} defines destinations (${names.join(", ")}): choose one with -d/--destination`);
    return base;
  }
  if (!DESTINATION.test(destination)) throw new UsageError(`invalid destination ${quote(destination)}: expected 1-16 lower-case letters, digits or hyphens`);
  if (!names.includes(destination)) {
    throw new UsageError(`unknown destination ${quote(destination)}: ${source} defines ${names.length ? names.join(", ") : "none (add destinations: to it)"}`);
  }
  const merged = deepMerge(base, destinations![destination]) as Record<string, unknown>;
  return typeof merged.app === "string" ? { ...merged, app: `${merged.app}-${destination}` } : merged;
}

/**
 * Reads, parses and validates the config. With destinations, every one of
 * them is validated (a broken staging is caught while deploying production),
 * then the chosen one is returned.
 */
export function loadConfig(path: string, override: Record<string, unknown> = {}, destination: string | null = null): LoadedConfig {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch {
    throw new ConfigError(`cannot read config file ${abs} (use -c/--config to name another)`);
  }
  let raw: unknown;
  try {
    raw = parseYamlCached(abs, text, stateDir());
  } catch (e) {
    throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const dests = isPlainObject(raw) && isPlainObject(raw.destinations) ? Object.keys(raw.destinations) : [];
  for (const d of dests) if (d !== destination) validateConfig(destinationDocument(raw, d, path), `${path} (destination ${d})`);
  let doc = destinationDocument(raw, destination, path);
  if (Object.keys(override).length > 0) doc = { ...doc, ...override };
  const config = validateConfig(doc, destination ? `${path} (destination ${destination})` : path);
  // Certificate files are named relative to depl.yml; every later reader gets absolute paths.
  if (config.tls) {
    for (const c of config.tls.certificates) Object.assign(c, { cert: resolve(dirname(abs), c.cert), key: resolve(dirname(abs), c.key) });
  }
  return { config, path: abs, dir: dirname(abs), destination };
}
