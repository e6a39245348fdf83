import type { Config } from "../config/schema.js";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import { LocalHost } from "../host/local.js";
import { oneOffArgv, type WebProcess } from "../supervisor/program.js";

export type ReleaseHook = "pre_install" | "post_install";
export type MachineHook = "pre_build" | "post_build" | "pre_promote" | "post_promote" | "post_rollback";

export interface HookFailure {
  reason: string;
  output: string;
}

const tail = (s: string, n = 20) => s.trimEnd().split("\n").slice(-n).join("\n");

/**
 * pre_install / post_install: a one-off container of the new version, with
 * its env file and shared data (database migrations belong here). null when
 * it passed (or none is configured).
 */
export async function runReleaseHook(host: Host, p: WebProcess, hook: ReleaseHook, say: (m: string) => void): Promise<HookFailure | null> {
  const command = p.config.hooks[hook];
  if (!command) return null;
  say(`${host.name}: hook ${hook}: ${command.join(" ")}`);
  const r = await host.run(oneOffArgv(p, command, hook.replace("_", "-")), { allowFailure: true });
  if (r.code === 0) return null;
  return { reason: `hook ${hook} failed (exit ${r.code})`, output: `--- output of ${hook} ---\n${tail(r.stdout + r.stderr)}` };
}

/** Hooks on the deploy machine, with DEPL_* variables describing the change. Throws DeplError with its output on failure. */
export async function runMachineHook(
  config: Config,
  hook: MachineHook,
  env: Record<string, string>,
  opts: { cwd: string; say: (m: string) => void },
): Promise<void> {
  const command = config.hooks[hook];
  if (!command) return;
  opts.say(`hook ${hook}: ${command.join(" ")}`);
  const host = new LocalHost();
  const r = await host.run(["env", "-C", opts.cwd, ...command], { env: { DEPL_APP: config.app, DEPL_DOMAIN: config.domain, DEPL_HOOK: hook, ...env }, allowFailure: true });
  if (r.code !== 0) {
    throw new DeplError(`hook ${hook} failed (exit ${r.code}); nothing after it was done\n--- output of ${hook} ---\n${tail(r.stdout + r.stderr)}`);
  }
}
