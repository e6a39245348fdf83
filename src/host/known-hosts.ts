import { createHash, createHmac } from "node:crypto";

// OpenSSH known_hosts, enough to check a server's key the way `ssh` does:
// plain, comma-separated, wildcard, negated and hashed (HashKnownHosts) names,
// and @revoked lines. @cert-authority lines are not supported (ignored).

export interface KnownHost {
  line: number;
  revoked: boolean;
  patterns: string;
  keyType: string;
  key: Buffer;
}

/** The name OpenSSH writes in known_hosts: host, or [host]:port off port 22. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
    if (marker !== undefined && marker !== "@revoked") return;
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) return;
    entries.push({ line: i + 1, revoked: marker === "@revoked", patterns, keyType, key: Buffer.from(key, "base64") });
  });
  return entries;
}

function globMatches(glob: string, name: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

export function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (globMatches(p.slice(1), name)) return false;
    } else if (globMatches(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The key type named inside an SSH public key blob (string length + name). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  return blob.subarray(4, 4 + blob.readUInt32BE(0)).toString("latin1");
}

/** OpenSSH's fingerprint format, SHA256:base64 without padding. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Checks a key the server offered for `name` against known_hosts entries. Pure. */
export function checkHostKey(entries: readonly KnownHost[], name: string, key: Buffer): Verdict {
  const mine = entries.filter((e) => hostMatches(e.patterns, name));
  const offered = `${keyTypeOf(key)} ${fingerprint(key)}`;
  const revoked = mine.find((e) => e.revoked && e.key.equals(key));
  if (revoked) return { ok: false, reason: `the server's key ${offered} is revoked (line ${revoked.line})` };
  if (mine.some((e) => !e.revoked && e.key.equals(key))) return { ok: true };
  const lines = mine.filter((e) => !e.revoked).map((e) => e.line);
  if (lines.length === 0) return { ok: false, reason: `no key for ${name} (the server offered ${offered})` };
  return {
    ok: false,
    reason: `HOST KEY MISMATCH for ${name}: the server offered ${offered}, which is not the key on line ${lines.join(", ")} (possible man-in-the-middle)`,
  };
}

const ALGORITHMS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * Host key algorithms to offer, limited to the types known_hosts holds for
 * `name` (as OpenSSH prefers them): else a server with an ed25519 and an RSA
 * key could show the one we do not know and fail the check.
 */
export function hostKeyAlgorithms(entries: readonly KnownHost[], name: string): string[] {
  const types = entries.filter((e) => !e.revoked && hostMatches(e.patterns, name)).map((e) => e.keyType);
  return Object.keys(ALGORITHMS)
    .filter((t) => types.includes(t))
    .flatMap((t) => ALGORITHMS[t]!);
}
