import { UsageError, quote } from "../errors.js";

/** YYYY.MM.DD.HH.MM in UTC, with -N when two builds share a minute. */
export const TIMESTAMP_VERSION = /^\d{4}\.(0[1-9]|1[0-2])\.(0[1-9]|[12]\d|3[01])\.([01]\d|2[0-3])\.[0-5]\d(?:-[1-9]\d{0,2})?$/;
/** A branch release: a DNS label that starts with a letter (so it never looks like a timestamp). */
export const BRANCH_VERSION = /^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export function timestampVersion(now: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${now.getUTCFullYear()}.${p(now.getUTCMonth() + 1)}.${p(now.getUTCDate())}.${p(now.getUTCHours())}.${p(now.getUTCMinutes())}`;
}

/** The first free name for a build at `now`, given the versions that already exist. */
export function nextVersion(now: Date, existing: Iterable<string>): string {
  const taken = new Set(existing);
  const base = timestampVersion(now);
  if (!taken.has(base)) return base;
  for (let i = 2; i < 1000; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
  throw new UsageError(`too many builds in minute ${base}`);
}

/**
 * The one-label form of a version for host names (2026-11-21-22-56): a wildcard
 * certificate covers one label only. Branch names are labels already. Pure.
 */
export function versionLabel(v: string): string {
  return TIMESTAMP_VERSION.test(v) ? v.replace(/\./g, "-") : v;
}

export function isVersion(v: string): boolean {
  return TIMESTAMP_VERSION.test(v) || BRANCH_VERSION.test(v);
}

/** Throws a one-line UsageError unless v is a valid version name. */
export function assertVersion(v: string, reservedLabels: readonly string[] = []): string {
  if (!isVersion(v)) {
    throw new UsageError(
      `invalid version ${quote(v)}: expected YYYY.MM.DD.HH.MM (optionally -N) or a branch name of lower-case letters, digits and hyphens`,
    );
  }
  if (reservedLabels.includes(v)) {
    throw new UsageError(`invalid version ${quote(v)}: it is one of the app's subdomains`);
  }
  return v;
}

/** A git branch name as a DNS label: feature/X_y -> feature-x-y. */
/** What git accepts as a branch name (git check-ref-format, roughly), at most 200 characters. Pure. */
export function isGitBranchName(b: string): boolean {
  if (b.length === 0 || b.length > 200) return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(b)) return false;
  if (b.startsWith("-") || b.startsWith("/") || b.endsWith("/") || b.endsWith(".") || b.endsWith(".lock")) return false;
  if (b.includes("..") || b.includes("//") || b.includes("@{") || b === "@") return false;
  return b.split("/").every((part) => !part.startsWith("."));
}

export function branchToVersion(branch: string): string {
  if (!isGitBranchName(branch)) throw new UsageError(`invalid branch ${quote(branch)}: not a git branch name`);
  const label = branch
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  if (!BRANCH_VERSION.test(label)) throw new UsageError(`branch ${quote(branch)} does not give a usable release name`);
  return label;
}
