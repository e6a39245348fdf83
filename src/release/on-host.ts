import type { Config } from "../config/schema.js";
import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";

/** What an operation on one app host needs: the validated config, that host, its layout, who acts. */
export interface OnHost {
  config: Config;
  layout: Layout;
  host: Host;
  actor: string;
  say: (m: string) => void;
  /** What the host does (depl.yml hosts[].roles); absent: both. */
  roles?: readonly ("web" | "worker")[];
}

/** Serves the app's traffic: web process, nginx, previews. */
export function servesWeb(a: Pick<OnHost, "roles">): boolean {
  return a.roles?.includes("web") ?? true;
}

/** Runs the app's workers (config `processes`). */
export function runsWorkers(a: Pick<OnHost, "roles">): boolean {
  return a.roles?.includes("worker") ?? true;
}
