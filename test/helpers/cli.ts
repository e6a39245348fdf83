import { spawn } from "node:child_process";
import { expect } from "vitest";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  code: number;
  /** The signal that ended depl, if one did (the fault suite's SIGKILL). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real depl CLI (TypeScript sources through tsx) and collects its output. */
export function depl(args: string[], opts: { env?: Record<string, string>; onStderr?: (all: string) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `${REPO}/src/cli.ts`, ...args], {
      cwd: REPO,
      env: { ...process.env, ...opts.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      opts.onStderr?.(stderr);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? 1, signal, stdout, stderr }));
  });
}

/** Expects the command to have exited `code`; when it did not, the failure shows its exit code (or signal) and the end of its stderr. */
export function expectExit<R extends { code: number; stderr: string; signal?: NodeJS.Signals | null }>(r: R, code = 0): R {
  expect(r.code, `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}; stderr:\n${r.stderr.slice(-3000)}`).toBe(code);
  return r;
}
