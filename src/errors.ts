// Named errors. Only the entry point (src/cli.ts) catches them and prints one
// line; the stack is shown with DEPL_DEBUG=1.

/**
 * A value the user gave, for a one-line message: JSON-quoted (a newline or NUL
 * shows as \\n or \\u0000, never breaks the line) and cut to 80 characters.
 */
export function quote(value: string): string {
  const q = JSON.stringify(value);
  return q.length > 82 ? `${q.slice(0, 80)}…"` : q;
}

/** Something the user typed or configured is wrong. Exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode = 2;
}

/** The config file is invalid; the message names the key path. Exit code 2. */
export class ConfigError extends UsageError {
  override name = "ConfigError";
}

/** A command run on a host exited non-zero. */
export class CommandError extends Error {
  override name = "CommandError";
  readonly exitCode = 1;
  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const tail = (stderr.trim() || stdout.trim()).split("\n").slice(-5).join(" | ");
    super(`${host}: \`${argv.join(" ")}\` exited ${code}${tail ? `: ${tail}` : ""}`);
  }
}

/** An operation failed for a reason depl understands (health check, nginx -t, lock...). */
export class DeplError extends Error {
  override name = "DeplError";
  readonly exitCode: number = 1;
}
