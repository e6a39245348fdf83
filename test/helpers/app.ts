import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { expect } from "vitest";
import { depl, REPO, expectExit } from "./cli.js";

/** One app of a real-service suite, beside (never touching) the others: its own name, domain and root. */
export interface TestApp {
  app: string;
  domain: string;
  root: string;
  port: number;
  dir: string;
}

export function testApp(app: string): TestApp {
  return { app, domain: `${app}.localhost`, root: `/srv/depl-${app}`, port: 80, dir: `/tmp/depl-${app}-config` };
}

/** A depl.yml for testapp/ under this app's name; `extra` is appended YAML. Returns its path. */
export function writeAppConfig(t: TestApp, name: string, extra = ""): string {
  mkdirSync(t.dir, { recursive: true });
  const path = `${t.dir}/${name}`;
  writeFileSync(
    path,
    `app: ${t.app}
domain: ${t.domain}
subdomains: [foo]
root: ${t.root}
hosts: [local]
nginx: { listen: ${t.port} }
build:
  context: ${REPO}/testapp
  python: { requirements: requirements.txt }
run: { wsgi: "testapp.app:application", workers: 2, threads: 8 }
${extra}`,
  );
  return path;
}

export const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });

/** Stops and removes everything of one app (programs, containers, site, layout); never another app's. Best effort. */
export function removeApp(t: { app: string; root: string }): void {
  if (!/^[a-z][a-z0-9-]+$/.test(t.app) || !/^\/srv\/depl-[a-z0-9-]+$/.test(t.root)) throw new Error(`refusing to clean ${t.app} ${t.root}`);
  const quiet = (cmd: string) => {
    try {
      execFileSync("sh", ["-c", cmd], { stdio: "ignore" });
    } catch {
      // best effort: the next run starts from a clean root anyway
    }
  };
  quiet(`for f in /etc/supervisor/conf.d/depl-${t.app}-*.conf; do [ -e "$f" ] || continue; p=$(basename "$f" .conf); p=\${p#depl-}; supervisorctl stop "$p"; rm -f "$f"; done; supervisorctl reread; supervisorctl update`);
  quiet(`docker ps -aq --filter label=depl.app=${t.app} | xargs -r docker rm -f`);
  quiet(`rm -f /etc/nginx/conf.d/depl-${t.app}.conf && nginx -s reload`);
  quiet(`rm -rf ${t.root}`);
}

/** depl buildinst --json with this config; returns the version. */
export async function buildinst(config: string, extra: string[] = []): Promise<string> {
  const r = await depl(["-c", config, "buildinst", "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { version: string }).version;
}

/** A clean app of its own, set up, with one release of testapp built, installed and promoted. */
export async function deployLive(t: TestApp, extra = ""): Promise<{ config: string; version: string }> {
  removeApp(t);
  const config = writeAppConfig(t, "depl.yml", extra);
  expectExit(await depl(["-c", config, "setup"]));
  const version = await buildinst(config);
  expectExit(await depl(["-c", config, "promote", version]));
  return { config, version };
}
