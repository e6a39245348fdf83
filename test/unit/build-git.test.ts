import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gitInfo } from "../../src/build/git.js";

let dir: string;
const git = (...args: string[]) =>
  execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { encoding: "utf8" });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "depl-git-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("gitInfo", () => {
  it("gives nulls outside a git work tree", async () => {
    expect(await gitInfo(dir)).toEqual({ commit: null, dirty: false, branch: null });
  });

  it("reads commit, branch and the dirty state of the app's directory only", async () => {
    git("init", "-q", "-b", "feature/x");
    await mkdir(join(dir, "app"));
    await writeFile(join(dir, "app", "a.py"), "1");
    git("add", ".");
    git("commit", "-q", "-m", "one");
    const sha = git("rev-parse", "HEAD").trim();
    const app = join(dir, "app");
    expect(await gitInfo(app)).toEqual({ commit: sha, dirty: false, branch: "feature/x" });

    await writeFile(join(dir, "elsewhere.txt"), "not the app");
    expect((await gitInfo(app)).dirty).toBe(false);
    await writeFile(join(dir, "app", "a.py"), "2");
    expect((await gitInfo(app)).dirty).toBe(true);
  });

  it("gives a null branch on a detached HEAD", async () => {
    git("init", "-q");
    await writeFile(join(dir, "a"), "");
    git("add", ".");
    git("commit", "-q", "-m", "one");
    git("checkout", "-q", "--detach");
    expect((await gitInfo(dir)).branch).toBeNull();
  });
});
