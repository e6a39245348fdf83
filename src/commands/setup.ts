import { runScript } from "../host/scripts.js";
import { ensureLiveRestore } from "../host/engine.js";
import { appDirs } from "../naming/layout.js";
import type { Host } from "../host/host.js";
import { applySite } from "../nginx/apply.js";
import { checkTlsConfig } from "../tls/certificates.js";
import { ensureTrafficDirs } from "../switch/traffic.js";
import { UsageError, quote } from "../errors.js";
import { servesWeb } from "../release/on-host.js";
import { onHosts, withContext, type Context, type GlobalOptions } from "./context.js";

// iproute2: `ss` counts a release's open connections (remove, prune, list).
export const APPSERVER_PACKAGES = ["docker.io", "nginx", "supervisor", "curl", "ca-certificates", "iproute2"];

/** A worker-only host gets no nginx: docker and supervisord run its workers. */
export async function setupHost(ctx: Context, host: Host, say: (m: string) => void = ctx.say, web = true): Promise<void> {
  const { layout: l } = ctx;
  say(`${host.name}: packages`);
  await runScript(host, "install-packages.sh", web ? APPSERVER_PACKAGES : APPSERVER_PACKAGES.filter((p) => p !== "nginx"), say);
  say(`${host.name}: services`);
  await runScript(host, "services.sh", ["start", "docker", ...(web ? ["nginx"] : []), "supervisor"], say);
  await ensureLiveRestore(host, say);
  await host.run(["install", "-d", "-m", "0755", ...appDirs(l)]);
  await ensureTrafficDirs(host, l);
  if (!web) return;
  say(`${host.name}: nginx site for ${ctx.config.domain}`);
  await applySite(host, ctx.config);
}

/** "deploy@10.0.0.5:2222" -> an ssh host entry of depl.yml. Pure. */
export function parseHostArg(arg: string): unknown {
  if (arg === "local") return "local";
  const m = /^(?:([^@]+)@)?([^:@]+)(?::(\d+))?$/.exec(arg);
  if (!m) throw new UsageError(`invalid --host ${quote(arg)}: expected user@address[:port] or local`);
  return { address: m[2], user: m[1] ?? "root", port: m[3] ? Number(m[3]) : 22 };
}

/** --host user@address[:port] sets up that machine instead of the config's hosts; a plain name narrows them. */
export async function setup(g: GlobalOptions): Promise<void> {
  const adHoc = g.host !== undefined && g.host.includes("@");
  const override = adHoc ? { hosts: [parseHostArg(g.host!)] } : {};
  await withContext({ ...g, host: adHoc ? undefined : g.host }, { override }, async (ctx) => {
    checkTlsConfig(ctx.config);
    await onHosts(ctx, "setup", (a) => setupHost(ctx, a.host, a.say, servesWeb(a)));
    ctx.say(`set up: ${ctx.hosts.map((h) => h.name).join(", ")}`);
  });
}
