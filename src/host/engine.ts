import { DeplError } from "../errors.js";
import type { Host } from "./host.js";

// Docker Engine's live-restore keeps containers running while the engine
// itself restarts (an upgrade, a crash): with the run script adopting a
// running container, an engine restart then costs an app no request.

export const DAEMON_JSON = "/etc/docker/daemon.json";

/**
 * daemon.json with "live-restore": true, or null when it already has it.
 * Every other setting is kept. Pure.
 */
export function withLiveRestore(text: string | null): string | null {
  let conf: unknown = {};
  if (text !== null && text.trim() !== "") {
    try {
      conf = JSON.parse(text);
    } catch (e) {
      throw new DeplError(`${DAEMON_JSON} is not valid JSON (${(e as Error).message}); fix it, then run depl setup again`);
    }
  }
  if (conf === null || typeof conf !== "object" || Array.isArray(conf)) throw new DeplError(`${DAEMON_JSON} is not a JSON object; fix it, then run depl setup again`);
  const o = conf as Record<string, unknown>;
  if (o["live-restore"] === true) return null;
  return `${JSON.stringify({ ...o, "live-restore": true }, null, 2)}\n`;
}

/** Turns live-restore on (daemon.json, then a reload: no container stops) and checks that the engine reports it. */
export async function ensureLiveRestore(host: Host, say: (m: string) => void): Promise<void> {
  const next = withLiveRestore(await host.readFile(DAEMON_JSON));
  if (next !== null) {
    await host.run(["install", "-d", "-m", "0755", "/etc/docker"]);
    await host.writeFile(DAEMON_JSON, next, { mode: 0o644 });
    say(`${host.name}: Docker Engine: live-restore on (${DAEMON_JSON}), configuration reloaded`);
  }
  if (await liveRestoreOn(host)) return;
  // SIGHUP reloads live-restore without a restart (systemctl reload docker does the same).
  const systemd = await host.exists("/run/systemd/system");
  await host.run(systemd ? ["systemctl", "reload", "docker"] : ["sh", "-c", 'kill -HUP "$(cat /var/run/docker.pid)"']);
  for (let i = 0; i < 40; i++) {
    if (await liveRestoreOn(host)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new DeplError(`${host.name}: Docker Engine does not report live-restore after a reload of ${DAEMON_JSON}; restart it once by hand`);
}

async function liveRestoreOn(host: Host): Promise<boolean> {
  const r = await host.run(["docker", "info", "--format", "{{.LiveRestoreEnabled}}"], { allowFailure: true });
  return r.code === 0 && r.stdout.trim() === "true";
}
