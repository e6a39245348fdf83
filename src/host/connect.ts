import type { HostConfig } from "../config/schema.js";
import type { Host } from "./host.js";
import { LocalHost } from "./local.js";

/** LocalHost for "local", else a connected SshHost (node-ssh is loaded only then, so `depl --help` stays fast). */
export async function connectHost(hc: HostConfig): Promise<Host> {
  if (hc === "local") return new LocalHost();
  const { SshHost } = await import("./ssh.js");
  return SshHost.connect(hc);
}
