import { mkdirSync, writeFileSync } from "node:fs";
import { REPO } from "../helpers/cli.js";
import { removeApp } from "../helpers/app.js";

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
  removeApp(E2E);
}
