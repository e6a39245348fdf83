import { readFileSync } from "node:fs";
import type { Host } from "./host.js";

/** The text of one of depl's shell scripts (scripts/ at the package root). */
export function scriptText(name: string): string {
  return readFileSync(new URL(`../../scripts/${name}`, import.meta.url), "utf8");
}

/** Runs one of depl's shell scripts on the host (`sh -s -- args` with the script on stdin). */
export async function runScript(host: Host, name: string, args: string[], say: (m: string) => void) {
  return host.run(["sh", "-s", "--", ...args], {
    stdin: scriptText(name),
    onStderr: (s) => say(`${host.name}: ${s.trimEnd()}`),
  });
}
