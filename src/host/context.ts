import type { LoadedConfig } from "../config/load.js";
import type { HostConfig } from "../config/schema.js";
import type { Secret } from "../config/secret.js";
import type { Layout } from "../naming/layout.js";
import type { Host } from "./host.js";

/** What every command works with: validated config, connected hosts, who is acting. */
export interface Context extends LoadedConfig {
  /** The selected hosts, connected; hostConfigs[i] is hosts[i]'s entry in depl.yml. */
  hosts: Host[];
  hostConfigs: HostConfig[];
  layout: Layout;
  actor: string;
  verbose: boolean;
  /** config.secrets plus the secrets file's: values print as [REDACTED]. */
  secrets: Record<string, Secret>;
  /** Progress for humans, on stderr. */
  say: (msg: string) => void;
}
