import { removeApp, writeAppConfig } from "../helpers/app.js";

/** An app of its own for the end-to-end suite, beside (never touching) app1. */
export const E2E = {
  app: "e2e",
  domain: "e2e.localhost",
  root: "/srv/depl-e2e",
  port: 80,
  dir: "/tmp/depl-e2e-config",
};

export function writeConfig(name: string, extra = ""): string {
  return writeAppConfig(E2E, name, extra);
}

/** Stops and removes everything the suite installed (programs, containers, site, layout). */
export function cleanup(): void {
  removeApp(E2E);
}
