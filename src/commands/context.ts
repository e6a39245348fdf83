import { userInfo, hostname } from "node:os";
import { loadConfig } from "../config/load.js";
import { connectHost } from "../host/connect.js";
import type { Host } from "../host/host.js";
import type { Context } from "../host/context.js";
import { layout } from "../naming/layout.js";
import { versionLabel } from "../naming/version.js";
import { parseSecretsFile, type Secret } from "../config/secret.js";
import { ConfigError, DeplError, UsageError, quote } from "../errors.js";
import { hostName, hostRoles, type HostConfig } from "../config/schema.js";
import { fanOut, prefixFor, reasonOf, summaryLines } from "../host/fanout.js";
import type { OnHost } from "../release/on-host.js";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

// Handlers take Context from here, with the functions that open and use it.
export type { Context };

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
  /** -d: the destination in depl.yml's destinations. */
  destination?: string;
  /** --host: only these hosts (comma-separated names). */
  host?: string;
  verbose?: boolean;
  /** Seconds to wait for another command's lock (default: refuse at once). */
  wait?: number;
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
  const loaded = loadConfig(g.config, opts.override, g.destination ?? null);
  const secrets = { ...loaded.config.secrets, ...readSecretsFile(loaded.dir, loaded.config.secrets_file) };
  const hostConfigs = selectHosts(loaded.config.hosts, g.host);
  // One connection per host for the whole command, all opened at once.
  const opened = await Promise.allSettled(hostConfigs.map((hc) => connectHost(hc)));
  const failed = opened.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failed.length > 0) {
    await Promise.all(opened.map((r) => (r.status === "fulfilled" ? r.value.close() : undefined)));
    throw failed.length === 1 ? failed[0]! : new DeplError(failed.map((e) => e.message).join("; "));
  }
  const hosts = opened.map((r) => (r as PromiseFulfilledResult<Host>).value);
  return {
    ...loaded,
    hosts,
    hostConfigs,
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

/** The hosts named by --host (comma-separated; every host when absent), in depl.yml's order. */
export function selectHosts(hosts: readonly HostConfig[], names: string | undefined): HostConfig[] {
  if (names === undefined) return [...hosts];
  const wanted = names.split(",").map((n) => n.trim()).filter(Boolean);
  const known = hosts.map(hostName);
  for (const n of wanted) {
    if (!known.includes(n)) throw new UsageError(`unknown host ${quote(n)} in --host: the config's hosts are ${known.join(", ")}`);
  }
  if (wanted.length === 0) throw new UsageError("--host: expected one or more host names, comma-separated");
  return hosts.filter((h) => wanted.includes(hostName(h)));
}

/** What an operation on one host needs, for each of the context's hosts; progress lines start with the host's name. */
export function hostArgs(ctx: Context): OnHost[] {
  return ctx.hosts.map((host, i) => ({
    config: ctx.config,
    layout: ctx.layout,
    host,
    actor: ctx.actor,
    say: (m: string) => ctx.say(prefixFor(host.name)(m)),
    roles: ctx.hostConfigs[i] === undefined ? undefined : hostRoles(ctx.hostConfigs[i]!),
  }));
}

/**
 * Runs fn on every selected host in parallel (at most config.parallel at
 * once). With several hosts, ends with one line per host; when any failed,
 * throws one error naming each failed host and its reason (after the others
 * have finished: nothing is left half-done by an early exit).
 */
export async function onHosts<T>(ctx: Context, what: string, fn: (a: OnHost, i: number) => Promise<T>): Promise<T[]> {
  const args = hostArgs(ctx).map((a, i) => ({ name: a.host.name, a, i }));
  const outcomes = await fanOut(args, ({ a, i }) => fn(a, i), ctx.config.parallel);
  if (outcomes.length > 1) for (const line of summaryLines(outcomes)) ctx.say(`${what}: ${line}`);
  const bad = outcomes.filter((o) => !o.ok);
  if (bad.length === 1 && outcomes.length === 1) throw bad[0]!.error!;
  if (bad.length > 0) {
    const err = new DeplError(`${what} failed on ${bad.map((o) => `${o.host} (${reasonOf(o.host, o.error!)})`).join(", ")}`);
    const code = (bad[0]!.error as Error & { exitCode?: number }).exitCode;
    if (typeof code === "number") Object.assign(err, { exitCode: code });
    throw err;
  }
  return outcomes.map((o) => o.value as T);
}

/** The site's URL, or a version's preview: under HTTPS with the one-label form that a wildcard certificate covers. */
export function siteUrl(config: { domain: string; nginx: { listen: number }; tls?: { port: number } | undefined }, label?: string): string {
  if (config.tls) {
    const port = config.tls.port === 443 ? "" : `:${config.tls.port}`;
    return `https://${label ? `${versionLabel(label)}.` : ""}${config.domain}${port}/`;
  }
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
  const held: { release(): Promise<void> }[] = [];
  try {
    const got = await Promise.allSettled(
      ctx.hosts.map((host) => acquireLock(host, ctx.layout, { actor: ctx.actor, command }, { waitMs: (waitSeconds ?? 0) * 1000, takeOverStaleOf, say: ctx.say })),
    );
    for (const r of got) if (r.status === "fulfilled") held.push(r.value);
    const refused = got.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
    if (refused.length > 0) throw refused[0];
    const result = await fn();
    // After each changing command, still holding the lock: logs past their limits are rotated.
    const { logLimits, rotateLogs } = await import("../logs/rotate.js");
    await Promise.all(ctx.hosts.map((host) => rotateLogs(host, ctx.layout, logLimits(ctx.config)).catch((e: Error) => ctx.say(`${host.name}: log rotation: ${e.message}`))));
    return result;
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
}
