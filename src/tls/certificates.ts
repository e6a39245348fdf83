// Certificates of tls: in depl.yml: read on the deploy machine, checked, and matched to the app's names.
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/** One name the app serves under HTTPS, and a name that stands for it in a certificate check. */
export interface NeededName {
  /** As a certificate names it: app1.example.com, foo.app1.example.com, *.app1.example.com. */
  name: string;
  /** A host name it must cover: a wildcard is checked with one label in its place. */
  sample: string;
  what: string;
}

export interface Certificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  /** DNS names of the certificate (subjectAltName, else its CN). */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  /** Content address of cert and key: the file names on the hosts, so a renewal is a new file and one reload. */
  id: string;
  x509: X509Certificate;
}

/** The certificate that serves each needed name. */
export interface TlsPlan {
  certificates: Certificate[];
  /** needed name -> index in certificates */
  byName: Map<string, number>;
}

/** A label no one names a host after: a certificate that covers it covers every single label there. */
const ANY_LABEL = "depl-any-label";

/** Pure: the names HTTPS must cover for this domain and its subdomains. */
export function neededNames(domain: string, subdomains: readonly string[]): NeededName[] {
  const out: NeededName[] = [{ name: domain, sample: domain, what: "the live site" }];
  for (const s of subdomains) out.push({ name: `${s}.${domain}`, sample: `${s}.${domain}`, what: `the live subdomain ${s}` });
  out.push({ name: `*.${domain}`, sample: `${ANY_LABEL}.${domain}`, what: `previews such as 2026-11-21-22-56.${domain}` });
  for (const s of subdomains) out.push({ name: `*.${s}.${domain}`, sample: `${ANY_LABEL}.${s}.${domain}`, what: `previews of ${s}.${domain}` });
  return out;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** Pure apart from the clock it is given: parses and checks one certificate and its key. */
export function parseCertificate(certPath: string, keyPath: string, certPem: string, keyPem: string, now: Date): Certificate {
  if (!/-----BEGIN CERTIFICATE-----/.test(certPem)) throw new UsageError(`tls: ${certPath}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (e) {
    throw new UsageError(`tls: ${certPath}: not a valid certificate: ${(e as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new UsageError(`tls: ${keyPath}: not a PEM private key (or it is encrypted: nginx needs it unencrypted)`);
  }
  if (!x509.checkPrivateKey(key)) throw new UsageError(`tls: ${keyPath} is not the private key of ${certPath}`);
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (now < notBefore) throw new UsageError(`tls: ${certPath}: not valid yet (from ${day(notBefore)})`);
  if (now > notAfter) throw new UsageError(`tls: ${certPath}: expired on ${day(notAfter)}`);
  const id = createHash("sha256").update(certPem).update("\0").update(keyPem).digest("hex").slice(0, 16);
  return { certPath, keyPath, certPem, keyPem, names: certNames(x509), notBefore, notAfter, id, x509 };
}

/** The DNS names a certificate is for: its subjectAltName, else its CN. Pure. */
export function certNames(x509: X509Certificate): string[] {
  const san = (x509.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
  if (san.length) return san;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn ? [cn[1]!] : [];
}

/** Does this certificate serve that host name (RFC 6125: a wildcard stands for one whole label)? */
export function covers(c: Certificate, host: string): boolean {
  return c.x509.checkHost(host, { wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined;
}

/** Pure: which certificate serves each needed name; every name covered, every certificate used. */
export function assignCertificates(needed: readonly NeededName[], certs: readonly Certificate[]): TlsPlan {
  const byName = new Map<string, number>();
  for (const n of needed) {
    const i = certs.findIndex((c) => covers(c, n.sample));
    if (i < 0) {
      const named = [...new Set(certs.flatMap((c) => c.names))].join(", ") || "no DNS names";
      throw new UsageError(`tls: no certificate covers ${n.name} (${n.what}); tls.certificates name ${named}`);
    }
    byName.set(n.name, i);
  }
  certs.forEach((c, i) => {
    if (![...byName.values()].includes(i)) {
      const covered = needed.some((n) => covers(c, n.sample));
      throw new UsageError(
        covered
          ? `tls: ${c.certPath} is not needed: an earlier certificate covers all its names of this app`
          : `tls: ${c.certPath} covers none of this app's names (it names ${c.names.join(", ") || "nothing"}; needed: ${needed.map((n) => n.name).join(", ")})`,
      );
    }
  });
  return { certificates: [...certs], byName };
}

/** Reads and checks tls.certificates (absolute paths) on this machine; throws before anything is written anywhere. */
export function loadTls(
  tls: { certificates: readonly { cert: string; key: string }[] },
  domain: string,
  subdomains: readonly string[],
  now = new Date(),
): TlsPlan {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`tls: cannot read ${path} (${what}): ${code === "ENOENT" ? "no such file" : code ?? (e as Error).message}`);
    }
  };
  const certs = tls.certificates.map((c, i) =>
    parseCertificate(c.cert, c.key, read(c.cert, `tls.certificates[${i}].cert`), read(c.key, `tls.certificates[${i}].key`), now),
  );
  return assignCertificates(neededNames(domain, subdomains), certs);
}

/** "expires 2027-02-21 (in 90 days)", or how long ago it expired. Pure. */
export function expiryText(notAfter: Date, now = new Date()): string {
  const days = Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000);
  return days < 0 ? `EXPIRED on ${day(notAfter)} (${-days} days ago)` : `expires ${day(notAfter)} (in ${days} days)`;
}

/** depl.yml's certificates checked, for commands that write the site (setup, install, buildinst): before any host is touched. */
export function checkTlsConfig(config: { tls?: { certificates: readonly { cert: string; key: string }[] } | undefined; domain: string; subdomains: readonly string[] }): void {
  if (config.tls) loadTls(config.tls, config.domain, config.subdomains);
}
