import { inspect } from "node:util";

/** A secret value: prints as [REDACTED] everywhere (logs, JSON, errors, console.log). */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[REDACTED]";
  }
  toJSON(): string {
    return "[REDACTED]";
  }
  [inspect.custom](): string {
    return "[REDACTED]";
  }
}

/** KEY=value lines (# comments, blank lines) of a secrets file. Pure. */
export function parseSecretsFile(text: string, source: string): Record<string, Secret> {
  const out: Record<string, Secret> = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`${source}:${i + 1}: expected KEY=value`);
    out[m[1]!] = new Secret(m[2]!);
  });
  return out;
}
