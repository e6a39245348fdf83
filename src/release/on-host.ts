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
}
