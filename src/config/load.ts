import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ZodError } from "zod";
import { ConfigError } from "../errors.js";
import { configSchema, type Config } from "./schema.js";
import { parseYamlCached } from "./parse-cache.js";
import { stateDir } from "../naming/state-dir.js";

export interface LoadedConfig {
  config: Config;
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

export function loadConfig(path: string, override: Record<string, unknown> = {}): LoadedConfig {
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
  if (Object.keys(override).length > 0) raw = { ...(raw as object), ...override };
  return { config: validateConfig(raw, path), path: abs, dir: dirname(abs) };
}
