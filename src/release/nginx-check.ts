import type { Config } from "../config/schema.js";
import type { Host } from "../host/host.js";
import { bodyHead } from "./health.js";
import { versionLabel } from "../naming/version.js";
import { HEALTH_REQUEST_MS } from "../timeouts.js";

/**
 * Which version nginx serves on the base domain's health path to a client of
 * bucket 99, which is never a canary bucket (canary shares stop at 99%): a
 * request through nginx on that host, as users make them.
 */
export async function versionServedByNginx(host: Host, config: Config): Promise<{ status: number; version: string | null }> {
  try {
    const { port, tls } = nginxEntry(config);
    const r = await host.httpGetLoopback(port, config.health.path, { host: config.domain, headers: { cookie: "depl_bucket=99" }, timeoutMs: HEALTH_REQUEST_MS, tls });
    return { status: r.status, version: r.headers["x-depl-version"] ?? null };
  } catch {
    return { status: 0, version: null };
  }
}

/** Where users reach nginx: HTTPS when tls is configured (plain HTTP may only redirect), else nginx.listen. */
export function nginxEntry(config: Pick<Config, "nginx" | "tls">): { port: number; tls: boolean; scheme: "http" | "https" } {
  return config.tls ? { port: config.tls.port, tls: true, scheme: "https" } : { port: config.nginx.listen, tls: false, scheme: "http" };
}

export interface PreviewCheck {
  ok: boolean;
  status: number;
  version: string | null;
  /** Why it failed: nginx's status and the first lines of its answer, or curl's error. */
  detail: string;
}

/**
 * The version's preview URL fetched through nginx on that host, as a user
 * would: Host <version>.<domain>, nginx.listen's port, the health path. It
 * must answer 200 from that very version (X-Depl-Version), not nginx's own
 * default site or another version.
 */
export async function previewServedByNginx(host: Host, config: Config, version: string): Promise<PreviewCheck> {
  const { port, tls, scheme } = nginxEntry(config);
  const name = `${tls ? versionLabel(version) : version}.${config.domain}`;
  const what = `GET ${scheme}://${name}${port === (tls ? 443 : 80) ? "" : `:${port}`}${config.health.path} through nginx`;
  let res;
  try {
    res = await host.httpGetLoopback(port, config.health.path, { host: name, timeoutMs: HEALTH_REQUEST_MS, tls });
  } catch (e) {
    return { ok: false, status: 0, version: null, detail: `${what}: no answer (${(e as Error).message.split("\n")[0]})` };
  }
  const served = res.headers["x-depl-version"] ?? null;
  const ok = res.status === 200 && served === version;
  const head = bodyHead(res.body);
  const detail = `${what} answered ${res.status} from ${served ? `version ${served}` : "no depl version (not the app)"}${head ? `:\n${head}` : ""}`;
  return { ok, status: res.status, version: served, detail };
}
