import { describe, expect, it } from "vitest";
import { CommandError } from "../../src/errors.js";
import type { Host, RunOptions, RunResult } from "../../src/host/host.js";
import {
  bootstrapBaseImage,
  debootstrapArgv,
  hostMirror,
  importScriptArgv,
  mirrorFromSources,
} from "../../src/images/bootstrap.js";

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`;

describe("mirrorFromSources", () => {
  it("reads deb822 sources", () => {
    expect(mirrorFromSources(DEB822)).toBe("http://deb.debian.org/debian");
  });

  it("skips the security archive and disabled stanzas", () => {
    const text = "Enabled: no\nURIs: http://disabled.example/debian\n\nURIs: http://security.debian.org/debian-security\n\nURIs: http://ftp.de.debian.org/debian/\n";
    expect(mirrorFromSources(text)).toBe("http://ftp.de.debian.org/debian");
  });

  it("reads one-line sources, with options", () => {
    expect(mirrorFromSources("# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n")).toBe(
      "http://mirror.example/debian",
    );
  });

  it("returns null for non-Debian or unsafe sources", () => {
    expect(mirrorFromSources("deb http://archive.ubuntu.com/ubuntu jammy main\n")).toBeNull();
    expect(mirrorFromSources("deb http://x.example/$(id)/debian bookworm main\n")).toBeNull();
    expect(mirrorFromSources("")).toBeNull();
  });
});

/** A Host that answers from a script and records every command. */
class FakeHost implements Partial<Host> {
  readonly name = "fake";
  readonly isLocal = true;
  readonly calls: string[][] = [];
  removed: string[] = [];
  constructor(
    private readonly answer: (argv: readonly string[]) => RunResult,
    private readonly files: Record<string, string> = {},
  ) {}
  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push([...argv]);
    const r = this.answer(argv);
    if (r.code !== 0 && !opts.allowFailure) throw new CommandError(this.name, argv, r.code, r.stdout, r.stderr);
    return r;
  }
  async readFile(path: string): Promise<string | null> {
    return this.files[path] ?? null;
  }
  async remove(path: string): Promise<void> {
    this.removed.push(path);
  }
}

const ok = (stdout = ""): RunResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr = "no such image"): RunResult => ({ code: 1, stdout: "", stderr });

describe("bootstrapBaseImage", () => {
  it("returns at once when the image exists", async () => {
    const host = new FakeHost(() => ok("sha256:base\n"));
    const id = await bootstrapBaseImage({ tag: "depl-base:bookworm", log: () => {}, host: host as unknown as Host });
    expect(id).toBe("sha256:base");
    expect(host.calls).toEqual([["docker", "image", "inspect", "--format", "{{.Id}}", "depl-base:bookworm"]]);
  });

  it("debootstraps from the host's mirror, cleans, imports, and removes the tree", async () => {
    let imported = false;
    const host = new FakeHost(
      (argv) => {
        if (argv[0] === "docker") return imported ? ok("sha256:new\n") : fail();
        if (argv[0] === "mktemp") return ok("/tmp/depl-rootfs.abc\n");
        if (argv[0] === "bash") imported = true;
        return ok();
      },
      { "/etc/apt/sources.list.d/debian.sources": DEB822 },
    );
    const logs: string[] = [];
    const id = await bootstrapBaseImage({ tag: "depl-base:bookworm", log: (m) => logs.push(m), host: host as unknown as Host });
    expect(id).toBe("sha256:new");
    expect(host.calls.map((c) => c[0])).toEqual(["docker", "mktemp", "debootstrap", "sh", "bash", "docker"]);
    expect(host.calls[2]).toEqual(debootstrapArgv("/tmp/depl-rootfs.abc", "http://deb.debian.org/debian"));
    expect(host.calls[2]).toEqual([
      "debootstrap", "--variant=minbase", "--include=python3-minimal,ca-certificates", "bookworm",
      "/tmp/depl-rootfs.abc", "http://deb.debian.org/debian",
    ]);
    expect(host.calls[3]?.join(" ")).toContain("/var/lib/apt/lists/*");
    expect(host.removed).toEqual(["/tmp/depl-rootfs.abc"]);
    expect(logs.join("\n")).toContain("debootstrap bookworm from http://deb.debian.org/debian");
  });

  it("removes the half-built tree when debootstrap fails", async () => {
    const host = new FakeHost((argv) =>
      argv[0] === "docker" ? fail() : argv[0] === "mktemp" ? ok("/tmp/depl-rootfs.x\n") : argv[0] === "debootstrap" ? fail("E: no net") : ok(),
    );
    await expect(
      bootstrapBaseImage({ tag: "depl-base:bookworm", mirror: "http://m.example/debian", log: () => {}, host: host as unknown as Host }),
    ).rejects.toThrow(/E: no net/);
    expect(host.removed).toEqual(["/tmp/depl-rootfs.x"]);
    expect(host.calls.map((c) => c[0])).not.toContain("bash");
  });

  it("refuses a bad tag or mirror before running anything", async () => {
    const host = new FakeHost(() => fail());
    await expect(bootstrapBaseImage({ tag: "Bad Tag", log: () => {}, host: host as unknown as Host })).rejects.toThrow(/tag/);
    await expect(
      bootstrapBaseImage({ tag: "b:x", mirror: "http://x/'; id", log: () => {}, host: host as unknown as Host }),
    ).rejects.toThrow(/mirror/);
    expect(host.calls.map((c) => c[0])).not.toContain("debootstrap");
  });

  it("falls back to deb.debian.org without sources", async () => {
    expect(await hostMirror(new FakeHost(() => ok()) as unknown as Host)).toBe("http://deb.debian.org/debian");
  });
});

describe("importScriptArgv", () => {
  it("pipes tar into docker import with pipefail, values as positional arguments", () => {
    const argv = importScriptArgv("/tmp/r", "depl-base:bookworm", "http://deb.debian.org/debian", "2026-11-21T00:00:00.000Z");
    expect(argv.slice(0, 3)).toEqual(["bash", "-o", "pipefail"]);
    expect(argv[4]).toBe('tar -C "$1" -c . | docker import --change "${3}" --change "${4}" --change "${5}" --change "${6}" - "$2"');
    expect(argv.slice(5, 8)).toEqual(["bash", "/tmp/r", "depl-base:bookworm"]);
    expect(argv).toContain('LABEL depl.base.suite="bookworm" depl.base.mirror="http://deb.debian.org/debian" depl.base.created="2026-11-21T00:00:00.000Z"');
  });
});
