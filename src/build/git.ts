import type { Host } from "../host/host.js";

export interface GitInfo {
  /** Full sha of HEAD; null outside a git work tree (or without git). */
  commit: string | null;
  /** Uncommitted changes (tracked or untracked) under the directory itself. */
  dirty: boolean;
  /** null on a detached HEAD or outside git. */
  branch: string | null;
}

/** Commit, dirty flag and branch of the tree at dir; never throws for "not a repository". */
export async function gitInfo(dir: string, host?: Host): Promise<GitInfo> {
  const h = host ?? new (await import("../host/local.js")).LocalHost();
  const git = (...args: string[]) => h.run(["git", "-C", dir, ...args], { allowFailure: true });
  const head = await git("rev-parse", "--verify", "-q", "HEAD");
  if (head.code !== 0) return { commit: null, dirty: false, branch: null };
  const [status, branch] = await Promise.all([
    git("status", "--porcelain", "--untracked-files=normal", "--", "."),
    git("symbolic-ref", "--short", "-q", "HEAD"),
  ]);
  return {
    commit: head.stdout.trim(),
    dirty: status.code !== 0 || status.stdout.trim() !== "",
    branch: branch.code === 0 && branch.stdout.trim() ? branch.stdout.trim() : null,
  };
}
