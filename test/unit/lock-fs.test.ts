import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DeplError } from "../../src/errors.js";
import type { RunOptions, RunResult } from "../../src/host/host.js";
import { LocalHost } from "../../src/host/local.js";
import { layout } from "../../src/naming/layout.js";
import { acquireLock, LockedError } from "../../src/release/lock.js";

// The lock on real directories: held by someone is told apart from cannot be written.

const host = new LocalHost();
const root = mkdtempSync(join(tmpdir(), "depl-lock-"));
const who = { actor: "tester", command: "promote x" };
const isRoot = process.getuid?.() === 0;
const mounts: string[] = [];

afterAll(() => {
  for (const m of mounts) execFileSync("umount", [m]);
  rmSync(root, { recursive: true, force: true });
});

/** Rejects within `ms`, or the test fails (a lock that cannot be written must not be waited for). */
async function failsFast(p: Promise<unknown>, ms = 3000): Promise<Error> {
  const started = Date.now();
  const e = await p.then(() => null, (err: Error) => err);
  expect(e).not.toBeNull();
  expect(Date.now() - started).toBeLessThan(ms);
  return e!;
}

/** The same machine, but every command runs as nobody (a non-root SSH user). */
class NobodyHost extends LocalHost {
  override run(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return super.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv], opts);
  }
  // The lock file is created in-process: as nobody for that call (vitest runs each file in a process of its own).
  override async createExclusive(path: string, content: string): Promise<boolean> {
    process.setegid!(65534);
    process.seteuid!(65534);
    try {
      return await super.createExclusive(path, content);
    } finally {
      process.seteuid!(0);
      process.setegid!(0);
    }
  }
}

describe("lock on a real directory", () => {
  it("is taken, refused to a second taker naming the holder, and free again once released", async () => {
    const l = layout(root, "ok");
    const held = await acquireLock(host, l, who);
    const e = await failsFast(acquireLock(host, l, { actor: "other", command: "canary" }));
    expect(e).toBeInstanceOf(LockedError);
    expect(e.message).toMatch(/is locked: held by tester since .* \(promote x, pid \d+/);
    await held.release();
    await (await acquireLock(host, l, who)).release();
  });

  it("a directory that cannot be made (a file in the way) is a clear error at once, even with --wait", async () => {
    writeFileSync(join(root, "afile"), "");
    const l = layout(join(root, "afile"), "app");
    const e = await failsFast(acquireLock(host, l, who, { waitMs: 30_000 }));
    expect(e).toBeInstanceOf(DeplError);
    expect(e).not.toBeInstanceOf(LockedError);
    expect(e.message).toMatch(/^local: cannot write the lock .*afile\/app\/lock: .*ENOTDIR/);
  });

  it.runIf(isRoot)("a read-only directory is a clear error at once, not 'held by someone'", async () => {
    const l = layout(root, "ro");
    mkdirSync(l.base);
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", l.base]);
    mounts.push(l.base);
    const e = await failsFast(acquireLock(host, l, who, { waitMs: 30_000 }));
    expect(e).not.toBeInstanceOf(LockedError);
    expect(e.message).toBe(`local: cannot write the lock ${l.lock}: cannot create ${l.lock}: Read-only file system (the user needs write access to ${l.base}; depl setup creates it)`);
  });

  it.runIf(isRoot)("a user without write permission gets a clear error at once", async () => {
    const l = layout(root, "perm");
    mkdirSync(l.base, { mode: 0o755 });
    const e = await failsFast(acquireLock(new NobodyHost(), l, who, { waitMs: 30_000 }));
    expect(e).not.toBeInstanceOf(LockedError);
    expect(e.message).toMatch(/cannot write the lock .*perm\/lock: cannot create .*: Permission denied/);
  });
});
