import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithms,
  hostMatches,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
} from "../../src/host/known-hosts.js";

/** A public key blob of the given type: string type, then opaque bytes. */
function blob(type: string): Buffer {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return Buffer.concat([len, name, randomBytes(32)]);
}

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

const ed = blob("ssh-ed25519");
const rsa = blob("ssh-rsa");
const other = blob("ssh-ed25519");
const b64 = (b: Buffer) => b.toString("base64");

describe("known_hosts", () => {
  it("names hosts as OpenSSH does", () => {
    expect(knownHostsName("app1.example.com", 22)).toBe("app1.example.com");
    expect(knownHostsName("10.0.0.5", 2222)).toBe("[10.0.0.5]:2222");
  });

  it("matches plain, listed, wildcard, negated and hashed names", () => {
    expect(hostMatches("a.example.com,10.0.0.5", "10.0.0.5")).toBe(true);
    expect(hostMatches("*.example.com", "APP1.example.com")).toBe(true);
    expect(hostMatches("*.example.com,!db.example.com", "db.example.com")).toBe(false);
    expect(hostMatches("10.0.0.?", "10.0.0.50")).toBe(false);
    expect(hostMatches("[10.0.0.5]:2222", "10.0.0.5")).toBe(false);
    expect(hostMatches(hashed("[10.0.0.5]:2222"), "[10.0.0.5]:2222")).toBe(true);
    expect(hostMatches(hashed("10.0.0.5"), "10.0.0.6")).toBe(false);
  });

  it("parses lines, skipping comments, blanks and @cert-authority", () => {
    const text = [
      "# comment",
      "",
      `app1 ssh-ed25519 ${b64(ed)} root@app1`,
      `@cert-authority *.example.com ssh-rsa ${b64(rsa)}`,
      `@revoked * ssh-ed25519 ${b64(other)}`,
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.revoked, e.keyType])).toEqual([
      [3, false, "ssh-ed25519"],
      [5, true, "ssh-ed25519"],
    ]);
  });

  it("accepts the known key and names the problem otherwise", () => {
    const entries = parseKnownHosts(`${hashed("[h]:2222")} ssh-ed25519 ${b64(ed)}\nh ssh-ed25519 ${b64(other)}\n@revoked * ssh-rsa ${b64(rsa)}`);
    expect(checkHostKey(entries, "[h]:2222", ed)).toEqual({ ok: true });
    const mismatch = checkHostKey(entries, "[h]:2222", other);
    expect(mismatch).toMatchObject({ ok: false, reason: expect.stringMatching(/MISMATCH for \[h\]:2222.*line 1/) });
    expect(checkHostKey(entries, "[g]:2222", ed)).toMatchObject({ ok: false, reason: expect.stringMatching(/^no key for \[g\]:2222/) });
    expect(checkHostKey(entries, "[h]:2222", rsa)).toMatchObject({ ok: false, reason: expect.stringMatching(/revoked \(line 3\)/) });
  });

  it("offers only the host key algorithms known for the host", () => {
    const entries = parseKnownHosts(`h ssh-rsa ${b64(rsa)}\nh ssh-ed25519 ${b64(ed)}\nk ssh-ed25519 ${b64(ed)}`);
    expect(hostKeyAlgorithms(entries, "h")).toEqual(["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(hostKeyAlgorithms(entries, "k")).toEqual(["ssh-ed25519"]);
    expect(hostKeyAlgorithms(entries, "x")).toEqual([]);
  });

  it("reads the key type and fingerprint of a blob", () => {
    expect(keyTypeOf(rsa)).toBe("ssh-rsa");
    expect(fingerprint(ed)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
