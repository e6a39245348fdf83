import { posix } from "node:path";
import { docker } from "../images/docker-argv.js";
import type { Config } from "../config/schema.js";
import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import { containerName } from "../supervisor/program.js";
import type { Layout } from "../naming/layout.js";

/**
 * Links whose target (as the host resolves it) lies outside `root`: nginx
 * must never follow one out of the release's static directory. Pure.
 */
export function linksLeadingOut(root: string, links: readonly string[], resolved: readonly string[]): string[] {
  const inside = (p: string) => p === root || p.startsWith(root.endsWith("/") ? root : `${root}/`);
  return links.filter((_, i) => !inside(resolved[i] ?? "/"));
}

/**
 * Copies config.static.path out of the version's image into
 * releases/<v>/static on this host (a fresh copy each install): owned by the
 * installing user, directories 0755 and files 0644 (readable by nginx,
 * nothing executable), no special files, no symlinks leading out of it.
 * A version without a static section gets no directory.
 */
export async function copyStatic(host: Host, config: Config, l: Layout, version: string, image: string): Promise<number | null> {
  const dest = l.staticDir(version);
  if (!config.static) {
    await host.remove(dest);
    return null;
  }
  const src = config.static.path;
  const tmp = `${dest}.new`;
  const tarFile = `${dest}.tar`;
  await host.remove(tmp);
  await host.remove(tarFile);
  const name = staticCopyContainer(config.app, version);
  await host.run(docker.removeContainer(name), { allowFailure: true });
  try {
    // A created container is never run: docker cp reads its filesystem as a tar stream.
    await host.run(docker.createStopped(name, config.app, image));
    const cp = await host.run(docker.copyOutTar(name, src, tarFile), { allowFailure: true });
    if (cp.code !== 0) {
      throw new DeplError(`${host.name}: cannot copy static files out of the image: static.path ${src}: ${(cp.stderr || cp.stdout).trim().split("\n")[0]}`);
    }
  } finally {
    await host.run(docker.removeContainer(name), { allowFailure: true });
  }
  try {
    await host.run(["install", "-d", "-m", "0755", tmp]);
    await host.run(["tar", "-x", "-f", tarFile, "-C", tmp, "--strip-components=1", "--no-same-owner", "--no-same-permissions"]);
    await host.run(["find", tmp, "-mindepth", "1", "!", "-type", "f", "!", "-type", "d", "!", "-type", "l", "-delete"]);
    await removeLinksLeadingOut(host, tmp);
    await host.run(["find", tmp, "(", "-type", "d", "-exec", "chmod", "0755", "{}", "+", ")", "-o", "(", "-type", "f", "-exec", "chmod", "0644", "{}", "+", ")"]);
    await host.remove(dest);
    await host.run(["mv", "-T", tmp, dest]);
  } finally {
    await host.remove(tarFile);
    await host.remove(tmp);
  }
  const count = await host.run(["find", dest, "-type", "f", "-printf", "."]);
  return count.stdout.length;
}

async function removeLinksLeadingOut(host: Host, dir: string): Promise<void> {
  // realpath resolves every component as the kernel would (a/../.. through links included);
  // a link it cannot resolve (a loop) counts as leading out.
  const script = 'for l; do t=$(realpath -m -- "$l" 2>/dev/null) || t=/; printf "%s\\0%s\\0" "$l" "$t"; done';
  const found = await host.run(["find", dir, "-type", "l", "-exec", "sh", "-c", script, "sh", "{}", "+"]);
  const parts = found.stdout.split("\0");
  const links: string[] = [];
  const resolved: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    links.push(parts[i]!);
    resolved.push(parts[i + 1]!);
  }
  if (links.length === 0) return;
  const root = (await host.run(["realpath", "--", dir])).stdout.replace(/\n$/, "");
  const out = linksLeadingOut(posix.normalize(root), links, resolved);
  if (out.length) await host.run(["rm", "-f", "--", ...out]);
}

/** The created-only container static files are copied out of (labelled with the app, not the version). */
export function staticCopyContainer(app: string, version: string): string {
  return containerName(app, version, "static-copy");
}
