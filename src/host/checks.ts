import { constants } from "node:os";

// Small rules that LocalHost and SshHost must apply the same way.

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertArgv(argv: readonly string[]): void {
  if (argv.length === 0 || argv[0] === "") throw new Error("run() needs a non-empty argv");
}

export function assertEnv(env: Record<string, string> | undefined): void {
  for (const name of Object.keys(env ?? {})) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
  }
}

/** The request line and Host header must not let a caller inject extra header lines. */
export function assertHttpGet(path: string, host: string): void {
  if (!/^\/[\x21-\x7e]*$/.test(path)) throw new Error(`invalid HTTP path: ${JSON.stringify(path)}`);
  if (!/^[A-Za-z0-9.:\[\]-]+$/.test(host)) throw new Error(`invalid Host header: ${JSON.stringify(host)}`);
}

/** rm -rf of "/" or of a relative path (resolved against an unknown cwd or $HOME) is never meant. */
export function assertRemovable(path: string): void {
  if (!path.startsWith("/") || /^\/+$/.test(path)) throw new Error(`refusing to remove ${JSON.stringify(path)}`);
}

/** Shell convention: a process killed by a signal reports 128 + the signal number. */
export function exitCode(code: number | null, signal: string | null | undefined): number {
  if (code !== null) return code;
  const num = signal ? constants.signals[signal as NodeJS.Signals] : undefined;
  return num ? 128 + num : 255;
}
