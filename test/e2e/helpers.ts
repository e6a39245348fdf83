import { mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { REPO } from "../helpers/cli.js";

/** An app of its own for the end-to-end suite, beside (never touching) app1. */
export const E2E = {
  app: "e2e",
  domain: "e2e.localhost",
  root: "/srv/depl-e2e",
  port: 80,
  dir: "/tmp/depl-e2e-config",
};

export function writeConfig(name: string, extra = ""): string {
  mkdirSync(E2E.dir, { recursive: true });
  const path = `${E2E.dir}/${name}`;
  writeFileSync(
    path,
    `app: ${E2E.app}
domain: ${E2E.domain}
subdomains: [foo]
root: ${E2E.root}
hosts: [local]
nginx: { listen: ${E2E.port} }
build:
  context: ${REPO}/testapp
  python: { requirements: requirements.txt }
run: { wsgi: "testapp.app:application", workers: 2, threads: 8 }
${extra}`,
  );
  return path;
}

/** Stops and removes everything the suite installed (programs, containers, site, layout). */
export function cleanup(): void {
  const sh = (cmd: string) => {
    try {
      execFileSync("sh", ["-c", cmd], { stdio: "ignore" });
    } catch {
      // best effort: the next run starts from a clean root anyway
    }
  };
  sh(`for f in /etc/supervisor/conf.d/depl-${E2E.app}-*.conf; do [ -e "$f" ] || continue; p=$(basename "$f" .conf); p=\${p#depl-}; supervisorctl stop "$p"; rm -f "$f"; done; supervisorctl reread; supervisorctl update`);
  sh(`docker ps -aq --filter label=depl.app=${E2E.app} | xargs -r docker rm -f`);
  sh(`rm -f /etc/nginx/conf.d/depl-${E2E.app}.conf && nginx -s reload`);
  sh(`rm -rf ${E2E.root}`);
}
