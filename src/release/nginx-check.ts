import type { Config } from "../config/schema.js";
import type { Host } from "../host/host.js";

/**
 * Which version nginx serves on the base domain's health path to a client of
 * bucket 99, which is never a canary bucket (canary shares stop at 99%): a
 * request through nginx on that host, as users make them.
 */
export async function versionServedByNginx(host: Host, config: Config): Promise<{ status: number; version: string | null }> {
  const r = await host.run(
    [
      "curl", "-sS", "-m", "10", "-o", "/dev/null", "-D", "-",
      "-H", `Host: ${config.domain}`,
      "-H", "Cookie: depl_bucket=99",
      `http://127.0.0.1:${config.nginx.listen}${config.health.path}`,
    ],
    { allowFailure: true },
  );
  if (r.code !== 0) return { status: 0, version: null };
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(r.stdout)?.[1] ?? 0);
  const version = /^x-depl-version:\s*(\S+)/im.exec(r.stdout)?.[1] ?? null;
  return { status, version };
}
