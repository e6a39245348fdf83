import { userInfo, hostname } from "node:os";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { connectHost } from "../host/connect.js";
import type { Host } from "../host/host.js";
import { layout, type Layout } from "../naming/layout.js";
import { parseSecretsFile, type Secret } from "../config/secret.js";
import { ConfigError } from "../errors.js";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

function readSecretsFile(dir: string, file: string | undefined): Record<string, Secret> {
  if (!file) return {};
  const path = resolve(dir, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(`secrets_file: cannot read ${path}`);
  }
  try {
    return parseSecretsFile(text, path);
  } catch (e) {
    throw new ConfigError(`secrets_file: ${(e as Error).message}`);
  }
}

export interface GlobalOptions {
  config: string;
  verbose?: boolean;
  /** Seconds to wait for another command's lock (default: refuse at once). */
  wait?: number;
}

/** What every command works with: validated config, connected hosts, who is acting. */
export interface Context extends LoadedConfig {
  hosts: Host[];
  layout: Layout;
  actor: string;
  verbose: boolean;
  /** config.secrets plus the secrets file's: values print as [REDACTED]. */
  secrets: Record<string, Secret>;
  /** Progress for humans, on stderr. */
  say: (msg: string) => void;
}

export function actorName(): string {
  return process.env.DEPL_ACTOR || `${userInfo().username}@${hostname()}`;
}

export interface ContextOptions {
  /** Top-level keys that replace the file's (validated with it), e.g. hosts from --host. */
  override?: Record<string, unknown>;
}

/** Config is read and validated fully before any host is touched. */
export async function openContext(g: GlobalOptions, opts: ContextOptions = {}): Promise<Context> {
  const loaded = loadConfig(g.config, opts.override);
  const secrets = { ...loaded.config.secrets, ...readSecretsFile(loaded.dir, loaded.config.secrets_file) };
  const hosts: Host[] = [];
  try {
    for (const hc of loaded.config.hosts) hosts.push(await connectHost(hc));
  } catch (e) {
    await Promise.all(hosts.map((h) => h.close()));
    throw e;
  }
  return {
    ...loaded,
    hosts,
    layout: layout(loaded.config.root, loaded.config.app),
    actor: actorName(),
    secrets,
    verbose: Boolean(g.verbose),
    // Progress goes to stderr even with --json: stdout then holds only the JSON.
    say: (msg) => console.error(msg),
  };
}

export async function withContext<T>(
  g: GlobalOptions,
  opts: ContextOptions,
  fn: (ctx: Context) => Promise<T>,
): Promise<T> {
  const ctx = await openContext(g, opts);
  try {
    return await fn(ctx);
  } finally {
    await Promise.all(ctx.hosts.map((h) => h.close()));
  }
}

/** What an operation on one host needs, for each of the context's hosts. */
export function hostArgs(ctx: Context) {
  return ctx.hosts.map((host) => ({ config: ctx.config, layout: ctx.layout, host, actor: ctx.actor, say: ctx.say }));
}

/** http://<domain>/ or, with a label (a version or branch), its preview http://<label>.<domain>/. */
export function siteUrl(config: { domain: string; nginx: { listen: number } }, label?: string): string {
  const port = config.nginx.listen === 80 ? "" : `:${config.nginx.listen}`;
  return `http://${label ? `${label}.` : ""}${config.domain}${port}/`;
}

/** Runs fn holding the app's lock on every host; a second mutating command is refused at once (or waits with --wait). */
export async function withLocks<T>(
  ctx: Context,
  command: string,
  waitSeconds: number | undefined,
  fn: () => Promise<T>,
  /**
   * Whose stale lock to take over (a command prefix); by default any: a lock
   * whose process is gone from this machine holds nothing back, and a plain
   * rerun of a killed command must be able to finish it.
   */
  takeOverStaleOf = "",
): Promise<T> {
  const { acquireLock } = await import("../release/lock.js");
  const held = [];
  try {
    for (const host of ctx.hosts) {
      held.push(await acquireLock(host, ctx.layout, { actor: ctx.actor, command }, { waitMs: (waitSeconds ?? 0) * 1000, takeOverStaleOf, say: ctx.say }));
    }
    const result = await fn();
    // After each changing command, still holding the lock: logs past their limits are rotated.
    const { logLimits, rotateLogs } = await import("../logs/rotate.js");
    for (const host of ctx.hosts) await rotateLogs(host, ctx.layout, logLimits(ctx.config)).catch((e: Error) => ctx.say(`${host.name}: log rotation: ${e.message}`));
    return result;
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}
