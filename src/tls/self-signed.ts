// A local CA and certificates signed by it, with Debian's openssl: for trying HTTPS out, and for tests.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeplError } from "../errors.js";

export interface KeyPair {
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT") throw new DeplError("openssl not found: apt-get install openssl");
    throw new DeplError(`openssl ${args[0]} failed: ${err.stderr?.toString().trim().split("\n").slice(-2).join(" | ") ?? err.message}`);
  }
}

/** openssl's date form: 20261123075800Z. Pure. */
export function opensslDate(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * The CA in dir for this domain, made unless it exists. Name-constrained to the
 * domain: trusting it lets it vouch for <domain> and the names under it, nothing else.
 */
export function ensureCa(dir: string, domain: string): KeyPair & { made: boolean } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cert = join(dir, `ca-${domain}.crt`);
  const key = join(dir, `ca-${domain}.key`);
  if (existsSync(cert) && existsSync(key)) return { cert, key, made: false };
  openssl([
    "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "3650", "-subj", `/CN=depl local CA for ${domain}`,
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-addext", `nameConstraints=critical,permitted;DNS:${domain}`,
  ]);
  chmodSync(key, 0o600);
  return { cert, key, made: true };
}

/** A certificate for names (the first is its CN), signed by ca, valid from start to end. */
export function issue(ca: KeyPair, out: KeyPair, names: readonly string[], start: Date, end: Date): void {
  const work = mkdtempSync("/tmp/depl-tls-");
  try {
    writeFileSync(join(work, "index.txt"), "");
    // A random serial (positive: the top bit clear), so no two certificates of the CA share one.
    writeFileSync(join(work, "serial"), `0${randomBytes(15).toString("hex").slice(1)}\n`);
    mkdirSync(join(work, "new"));
    const conf = [
      "[ca]", "default_ca = local",
      "[local]", `database = ${work}/index.txt`, `new_certs_dir = ${work}/new`, `serial = ${work}/serial`,
      "default_md = sha256", "policy = any", "unique_subject = no", "copy_extensions = none",
      "[any]", "commonName = supplied",
      "[leaf]", "basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
      "extendedKeyUsage = serverAuth", `subjectAltName = ${names.map((n) => `DNS:${n}`).join(",")}`,
      "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid",
      "",
    ].join("\n");
    writeFileSync(join(work, "ca.cnf"), conf);
    const csr = join(work, "leaf.csr");
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", out.key, "-subj", `/CN=${names[0]}`, "-out", csr]);
    openssl([
      "ca", "-batch", "-notext", "-config", join(work, "ca.cnf"), "-extensions", "leaf",
      "-cert", ca.cert, "-keyfile", ca.key, "-startdate", opensslDate(start), "-enddate", opensslDate(end),
      "-in", csr, "-out", out.cert,
    ]);
    chmodSync(out.key, 0o600);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What HTTPS needs for this app: the domain, its previews, and each subdomain's previews (one certificate). Pure. */
export function certificateNames(domain: string, subdomains: readonly string[]): string[] {
  return [domain, `*.${domain}`, ...subdomains.map((s) => `*.${s}.${domain}`)];
}

/** The CA (reused when there) and one certificate for the app's names, valid for days from now. */
export function selfSigned(dir: string, domain: string, subdomains: readonly string[], days: number, now = new Date()): { ca: KeyPair & { made: boolean }; leaf: KeyPair } {
  const ca = ensureCa(dir, domain);
  const leaf = { cert: join(dir, `${domain}.crt`), key: join(dir, `${domain}.key`) };
  // A minute back: clocks of the hosts may be a little behind this one.
  issue(ca, leaf, certificateNames(domain, subdomains), new Date(now.getTime() - 60_000), new Date(now.getTime() + days * 86_400_000));
  return { ca, leaf };
}
