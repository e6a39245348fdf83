import { execFileSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildContext, contextFilter, listContext, parseDockerignore } from "../../src/build/context.js";

let dir: string;
let out: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "depl-ctx-"));
  out = await mkdtemp(join(tmpdir(), "depl-ctx-out-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

async function tree(files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** Names in a tar stream, via the system's tar. */
async function tarNames(stream: NodeJS.ReadableStream): Promise<string[]> {
  const file = join(out, "ctx.tar");
  await pipeline(stream, createWriteStream(file));
  return execFileSync("tar", ["-tf", file], { encoding: "utf8" }).split("\n").filter(Boolean).map((n) => n.replace(/\/$/, ""));
}

describe("parseDockerignore", () => {
  it("drops comments and blank lines and trims", () => {
    expect(parseDockerignore("# build output\nbuild/\r\n\n  *.pyc  \n!keep.pyc\n")).toEqual(["build/", "*.pyc", "!keep.pyc"]);
  });
});

describe("contextFilter", () => {
  it("follows Docker's rules, not git's", () => {
    const keep = contextFilter(["build/", "*.pyc", "**/__pycache__", "!keep.pyc"]);
    expect(keep("build")).toBe(false);
    expect(keep("build/x.o")).toBe(false);
    expect(keep("a.pyc")).toBe(false);
    expect(keep("keep.pyc")).toBe(true);
    // "*.pyc" matches at the top only, as in Docker.
    expect(keep("pkg/a.pyc")).toBe(true);
    expect(keep("pkg/__pycache__/m.cpython-311.pyc")).toBe(false);
    expect(keep("pkg/app.py")).toBe(true);
  });
});

describe("listContext", () => {
  it("lists what Docker would send, parents first, sorted", async () => {
    await tree({
      "app.py": "",
      "pkg/__init__.py": "",
      "pkg/__pycache__/x.pyc": "",
      "build/lib/x.so": "",
      ".git/HEAD": "",
      "requirements.txt": "",
    });
    const entries = await listContext(dir, [".git", "build", "**/__pycache__"]);
    expect(entries).toEqual(["app.py", "pkg", "pkg/__init__.py", "requirements.txt"]);
  });

  it("walks into an excluded directory when an exception may bring something back", async () => {
    await tree({ "docs/a.md": "", "docs/keep/b.md": "", "app.py": "" });
    expect(await listContext(dir, ["docs", "!docs/keep/b.md"])).toEqual(["app.py", "docs/keep/b.md"]);
  });

  it("keeps symlinks as links", async () => {
    await tree({ "real.txt": "x" });
    await symlink("real.txt", join(dir, "link.txt"));
    expect(await listContext(dir, [])).toEqual(["link.txt", "real.txt"]);
  });
});

describe("buildContext", () => {
  it("puts the app under app/ and depl's files under depl/, honouring .dockerignore", async () => {
    await tree({
      ".dockerignore": "# junk\nbuild/\n*.egg-info/\n",
      "setup.py": "",
      "testapp/app.py": "print(1)",
      "testapp.egg-info/PKG-INFO": "",
      "build/lib/x.so": "",
    });
    const names = await tarNames(
      await buildContext(dir, [
        { name: "depl/Dockerfile", content: "FROM scratch\n" },
        { name: "depl/depl_wsgi.py", content: Buffer.from("# wrapper\n") },
      ]),
    );
    expect(names).toEqual([
      "app",
      "app/.dockerignore",
      "app/setup.py",
      "app/testapp",
      "app/testapp/app.py",
      "depl/Dockerfile",
      "depl/depl_wsgi.py",
    ]);
  });

  it("sends file contents and zeroes owners", async () => {
    await tree({ "a.txt": "hello" });
    const file = join(out, "ctx.tar");
    await pipeline(await buildContext(dir, [{ name: "depl/Dockerfile", content: "FROM x\n" }]), createWriteStream(file));
    expect(execFileSync("tar", ["-xOf", file, "app/a.txt"], { encoding: "utf8" })).toBe("hello");
    expect(execFileSync("tar", ["-xOf", file, "depl/Dockerfile"], { encoding: "utf8" })).toBe("FROM x\n");
    const listing = execFileSync("tar", ["--numeric-owner", "-tvf", file], { encoding: "utf8" });
    for (const line of listing.trim().split("\n")) expect(line).toMatch(/^\S+ 0\/0 /);
  });

  it("works without a .dockerignore and leaves the source tree untouched", async () => {
    await tree({ "x.py": "" });
    const before = await readdir(dir, { recursive: true });
    const names = await tarNames(await buildContext(dir, [{ name: "depl/Dockerfile", content: "" }]));
    expect(names).toEqual(["app", "app/x.py", "depl/Dockerfile"]);
    expect(await readdir(dir, { recursive: true })).toEqual(before);
  });
});
