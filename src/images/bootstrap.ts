import type { Host } from "../host/host.js";
import { imageIdOn } from "./ship.js";

export const BASE_SUITE = "bookworm";
export const BASE_PACKAGES = ["python3-minimal", "ca-certificates"] as const;
export const DEFAULT_MIRROR = "http://deb.debian.org/debian";
const SOURCES_FILES = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];
/** What reaches argv and a LABEL: a plain URL, no quotes, spaces or shell characters. */
const MIRROR_URL = /^(?:https?|file):\/\/[A-Za-z0-9._~:\/@%+-]+$/;
const IMAGE_TAG = /^[a-z0-9][a-z0-9._\/-]*(?::[A-Za-z0-9_.-]{1,128})?$/;

export interface BootstrapOptions {
  tag: string;
  /** Debian mirror; default: the one the host's apt uses, else deb.debian.org. */
  mirror?: string;
  log: (msg: string) => void;
  /** Where to build and import; default: this machine. */
  host?: Host;
}

/**
 * The Debian mirror in an apt sources file (deb822 or one-line format), or
 * null. Security and other non-Debian archives are skipped. Pure.
 */
export function mirrorFromSources(text: string): string | null {
  const candidates: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    if (/^Enabled:\s*no\b/im.test(stanza)) continue;
    const uris = /^URIs:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    candidates.push(...uris);
  }
  for (const line of text.split("\n")) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
    if (m) candidates.push(m[1]!);
  }
  const found = candidates.find((u) => MIRROR_URL.test(u) && /\/debian\/?$/.test(u) && !/security/.test(u));
  return found ? found.replace(/\/$/, "") : null;
}

export async function hostMirror(host: Host): Promise<string> {
  for (const f of SOURCES_FILES) {
    const m = mirrorFromSources((await host.readFile(f)) ?? "");
    if (m) return m;
  }
  return DEFAULT_MIRROR;
}

/** The debootstrap command line. Pure. */
export function debootstrapArgv(dir: string, mirror: string): string[] {
  return ["debootstrap", "--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, BASE_SUITE, dir, mirror];
}

/** `docker import` of the root file system as a tar stream on stdin, labelled. Pure. */
export function importScriptArgv(dir: string, tag: string, mirror: string, createdAt: string): string[] {
  const changes = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    `LABEL depl.base.suite="${BASE_SUITE}" depl.base.mirror="${mirror}" depl.base.created="${createdAt}"`,
    'CMD ["/bin/bash"]',
  ];
  // pipefail: a tar that dies half-way must not leave a truncated image behind.
  const script = `tar -C "$1" -c . | docker import ${changes.map((_, i) => `--change "\${${i + 3}}"`).join(" ")} - "$2"`;
  return ["bash", "-o", "pipefail", "-c", script, "bash", dir, tag, ...changes];
}

/**
 * Makes the base image without any registry: debootstrap a minimal Debian
 * with python3, drop apt's caches, `docker import` it. Returns the image id;
 * does nothing but look it up when the tag exists.
 */
export async function bootstrapBaseImage(opts: BootstrapOptions): Promise<string> {
  if (!IMAGE_TAG.test(opts.tag)) throw new Error(`invalid base image tag ${JSON.stringify(opts.tag)}`);
  const host = opts.host ?? new (await import("../host/local.js")).LocalHost();
  const existing = await imageIdOn(host, opts.tag);
  if (existing) return existing;

  const mirror = opts.mirror ?? (await hostMirror(host));
  if (!MIRROR_URL.test(mirror)) throw new Error(`invalid Debian mirror ${JSON.stringify(mirror)}`);
  const dir = (await host.run(["mktemp", "-d", "/tmp/depl-rootfs.XXXXXX"])).stdout.trim();
  try {
    opts.log(`${host.name}: debootstrap ${BASE_SUITE} from ${mirror} (about a minute)`);
    await host.run(debootstrapArgv(dir, mirror));
    await host.run(["sh", "-c", 'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb', "sh", dir]);
    opts.log(`${host.name}: docker import -> ${opts.tag}`);
    await host.run(importScriptArgv(dir, opts.tag, mirror, new Date().toISOString()));
  } finally {
    await host.remove(dir);
  }
  const id = await imageIdOn(host, opts.tag);
  if (!id) throw new Error(`${host.name}: docker import did not produce ${opts.tag}`);
  return id;
}
