// Certificates on a host: written by content (a renewal is a new file, and the site names it), pruned once unused.
import { posix } from "node:path";
import { X509Certificate } from "node:crypto";
import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";
import { certNames, type Certificate, type TlsPlan } from "./certificates.js";

/** The certificate files on the host for each name of neededNames (./certificates.ts), as the nginx site names them. */
export type SiteCertificates = Record<string, { cert: string; key: string }>;

/** Where one certificate and its key go on a host. Pure. */
export function hostFiles(l: Layout, c: Pick<Certificate, "id">): { cert: string; key: string } {
  return { cert: posix.join(l.tlsDir, `${c.id}.crt`), key: posix.join(l.tlsDir, `${c.id}.key`) };
}

/** For the site: the files that serve each needed name. Pure. */
export function siteCertificates(l: Layout, plan: TlsPlan): SiteCertificates {
  const out: SiteCertificates = {};
  for (const [name, i] of plan.byName) out[name] = hostFiles(l, plan.certificates[i]!);
  return out;
}

/** Writes the files a host lacks: the directory 0700 and keys 0600, owned by the user depl connects as (root). */
export async function installCertificates(host: Host, l: Layout, plan: TlsPlan): Promise<number> {
  await host.mkdirp(l.tlsDir, { mode: 0o700 });
  let written = 0;
  for (const c of plan.certificates) {
    const f = hostFiles(l, c);
    if ((await host.readFile(f.key)) !== c.keyPem) {
      await host.writeFile(f.key, c.keyPem, { mode: 0o600 });
      written++;
    }
    if ((await host.readFile(f.cert)) !== c.certPem) {
      await host.writeFile(f.cert, c.certPem, { mode: 0o644 });
      written++;
    }
  }
  return written;
}

/** Removes the certificate files the site no longer names (after nginx has loaded the new site). */
export async function pruneCertificates(host: Host, l: Layout, certificates: readonly Pick<Certificate, "id">[]): Promise<void> {
  const keep = new Set(certificates.flatMap((c) => Object.values(hostFiles(l, c)).map((p) => posix.basename(p))));
  const names = await host.list(l.tlsDir).catch(() => [] as string[]);
  for (const n of names) if (/^[0-9a-f]{16}\.(crt|key)$/.test(n) && !keep.has(n)) await host.remove(posix.join(l.tlsDir, n));
}

export interface ServedCertificate {
  path: string;
  names: string[];
  notAfter: Date;
}

/** The certificates the host's nginx site names (what it serves, whatever depl.yml says now). */
export async function servedCertificates(host: Host, l: Layout): Promise<ServedCertificate[]> {
  const site = await host.readFile(l.siteConf);
  if (site === null) return [];
  const paths = [...new Set([...site.matchAll(/^\s*ssl_certificate\s+(\S+);/gm)].map((m) => m[1]!))];
  const out: ServedCertificate[] = [];
  for (const path of paths) {
    const pem = await host.readFile(path);
    if (pem === null) continue;
    try {
      const x = new X509Certificate(pem);
      out.push({ path, names: certNames(x), notAfter: new Date(x.validTo) });
    } catch {
      out.push({ path, names: [], notAfter: new Date(0) });
    }
  }
  return out;
}
