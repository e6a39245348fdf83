import { homedir } from "node:os";
import { join } from "node:path";

/** depl's own state on the deploy machine (journals, caches): DEPL_STATE_DIR, else $XDG_STATE_HOME/depl. */
export function stateDir(): string {
  return process.env.DEPL_STATE_DIR || join(process.env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "depl");
}
