import { LocalHost } from "../host/local.js";

export interface GitInfo {
  commit: string | null;
  dirty: boolean;
  branch: string | null;
}

/** Commit, dirty flag and branch of the tree at dir; nulls when it is not a git work tree. */
export async function gitInfo(dir: string): Promise<GitInfo> {
  const host = new LocalHost();
  const git = (...args: string[]) => host.run(["git", "-C", dir, ...args], { allowFailure: true });
  const head = await git("rev-parse", "HEAD");
  if (head.code !== 0) return { commit: null, dirty: false, branch: null };
  const status = await git("status", "--porcelain", "--", ".");
  const branch = await git("symbolic-ref", "--short", "-q", "HEAD");
  return {
    commit: head.stdout.trim(),
    dirty: status.stdout.trim() !== "",
    branch: branch.code === 0 ? branch.stdout.trim() : null,
  };
}
