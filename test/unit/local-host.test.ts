import { createServer, type Server } from "node:http";
import { lstat, mkdtemp, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandError } from "../../src/errors.js";
import { LocalHost } from "../../src/host/local.js";
import { oneRoundTripFileContract } from "../helpers/host-contract.js";
import { expectExit } from "../helpers/cli.js";

const host = new LocalHost();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "depl-local-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LocalHost.run", () => {
  it("runs argv without a shell and captures output", async () => {
    const r = await host.run(["printf", "%s|", "a b", "$(id)", "*"]);
    expect(r).toEqual({ code: 0, stdout: "a b|$(id)|*|", stderr: "" });
  });

  it("throws CommandError with the exit code and stderr", async () => {
    const err = await host.run(["sh", "-c", "echo oops >&2; exit 3"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ code: 3, stderr: "oops\n", host: "local" });
    expect((err as Error).message).toContain("exited 3: oops");
  });

  it("returns the result with allowFailure, and 127 for a missing program", async () => {
    expectExit(await host.run(["false"], { allowFailure: true }), 1);
    const r = await host.run(["depl-no-such-program"], { allowFailure: true });
    expect(r.code, r.stderr).toBe(127);
    expect(r.stderr).toContain("ENOENT");
  });

  it("succeeds when a command writes to stderr but exits 0", async () => {
    const r = await host.run(["sh", "-c", "echo progress >&2"]);
    expect(r.stderr).toBe("progress\n");
  });

  it("reports death by signal as 128 + signal number", async () => {
    const r = await host.run(["sh", "-c", "kill -TERM $$"], { allowFailure: true });
    expect(r.code, r.stderr).toBe(143);
  });

  it("passes env and streams output to callbacks", async () => {
    const seen: string[] = [];
    const r = await host.run(["sh", "-c", 'echo "$DEPL_X"; echo e >&2'], {
      env: { DEPL_X: "va lue" },
      onStdout: (s) => seen.push(`out:${s}`),
      onStderr: (s) => seen.push(`err:${s}`),
    });
    expect(r.stdout).toBe("va lue\n");
    expect(seen).toContain("out:va lue\n");
    expect(seen).toContain("err:e\n");
  });

  it("feeds stdin from a string, a Buffer and a stream", async () => {
    expect((await host.run(["cat"], { stdin: "text\n" })).stdout).toBe("text\n");
    expect((await host.run(["cat"], { stdin: Buffer.from("buf") })).stdout).toBe("buf");
    const big = Buffer.alloc(5 * 1024 * 1024, "x");
    const r = await host.run(["wc", "-c"], { stdin: Readable.from([big, big]) });
    expect(r.stdout.trim()).toBe(String(2 * big.length));
  });

  it("does not hang when the command exits without reading its stream input", async () => {
    const source = new PassThrough();
    source.write("never read");
    const r = await host.run(["true"], { stdin: source });
    expect(r.code, r.stderr).toBe(0);
    expect(source.destroyed).toBe(true);
  });

  it("rejects with the stream's error and stops the command when stdin fails", async () => {
    const source = new PassThrough();
    const marker = join(dir, "half-input");
    source.write("partial\n");
    setTimeout(() => source.destroy(new Error("docker save failed")), 100);
    const script = 'cat > "$1.tmp" && mv "$1.tmp" "$1"';
    await expect(host.run(["sh", "-c", script, "sh", marker], { stdin: source })).rejects.toThrow("docker save failed");
    await new Promise((r) => setTimeout(r, 100));
    expect(await host.exists(marker)).toBe(false);
  });
});

describe("LocalHost files", () => {
  it("writes atomically with the mode applied and leaves no temp file", async () => {
    const d = join(dir, "w");
    await host.mkdirp(d);
    const file = join(d, "release.json");
    await host.writeFile(file, "one", { mode: 0o600 });
    await host.writeFile(file, Buffer.from("two"), { mode: 0o640 });
    expect(await readFile(file, "utf8")).toBe("two");
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(d)).toEqual(["release.json"]);
    expect(await host.readFile(file)).toBe("two");
    expect(await host.readFile(join(d, "missing"))).toBeNull();
  });

  it("fails cleanly when the directory does not exist", async () => {
    await expect(host.writeFile(join(dir, "nope", "f"), "x")).rejects.toThrow(/ENOENT/);
  });

  it("mkdirp creates parents and applies the mode to the leaf", async () => {
    const d = join(dir, "a", "b", "c");
    await host.mkdirp(d, { mode: 0o750 });
    await host.mkdirp(d, { mode: 0o750 });
    expect((await stat(d)).mode & 0o777).toBe(0o750);
  });

  it("symlinkAtomic creates and replaces a link, even one pointing at a directory", async () => {
    const d = join(dir, "links");
    await mkdir(join(d, "v1"), { recursive: true });
    await mkdir(join(d, "v2"));
    const link = join(d, "live");
    await host.symlinkAtomic("v1", link);
    expect(await host.readlink(link)).toBe("v1");
    await host.symlinkAtomic("v2", link);
    expect(await host.readlink(link)).toBe("v2");
    expect(await readdir(join(d, "v1"))).toEqual([]);
    expect((await readdir(d)).sort()).toEqual(["live", "v1", "v2"]);
  });

  it("stageSymlinks: links wait under temporary names until go(); cancel() removes them", async () => {
    const d = join(dir, "staged");
    await mkdir(d);
    await host.symlinkAtomic("old", join(d, "live"));
    const staged = await host.stageSymlinks([{ target: "new", linkPath: join(d, "live") }, { target: "p", linkPath: join(d, "prev") }]);
    expect(await host.readlink(join(d, "live"))).toBe("old");
    expect((await readdir(d)).length).toBe(3);
    const at = await staged.go();
    expect(Math.abs(at - Date.now())).toBeLessThan(1_000);
    expect([await host.readlink(join(d, "live")), await host.readlink(join(d, "prev"))]).toEqual(["new", "p"]);
    const again = await host.stageSymlinks([{ target: "newer", linkPath: join(d, "live") }]);
    await again.cancel();
    expect((await readdir(d)).sort()).toEqual(["live", "prev"]);
    expect(await host.readlink(join(d, "live"))).toBe("new");
    await expect(host.stageSymlinks([{ target: "x", linkPath: join(d, "none", "l") }])).rejects.toThrow(/ENOENT/);
  });

  it("readlink is null for a regular file or nothing", async () => {
    await writeFile(join(dir, "plain"), "x");
    expect(await host.readlink(join(dir, "plain"))).toBeNull();
    expect(await host.readlink(join(dir, "absent"))).toBeNull();
  });

  it("list, exists and remove", async () => {
    const d = join(dir, "l");
    expect(await host.list(d)).toEqual([]);
    expect(await host.exists(d)).toBe(false);
    await mkdir(join(d, "sub"), { recursive: true });
    await writeFile(join(d, "b"), "");
    await writeFile(join(d, ".hidden"), "");
    await symlink("nowhere", join(d, "dangling"));
    expect(await host.list(d)).toEqual([".hidden", "b", "dangling", "sub"]);
    expect(await host.exists(join(d, "dangling"))).toBe(true);
    await host.remove(d);
    await host.remove(d);
    await expect(lstat(d)).rejects.toThrow(/ENOENT/);
    await expect(host.remove("/")).rejects.toThrow(/refusing/);
    await expect(host.remove("relative")).rejects.toThrow(/refusing/);
  });
});

describe("LocalHost one-round-trip file operations", () => {
  oneRoundTripFileContract(
    () => host,
    () => dir,
  );
});

describe("LocalHost.httpGetUnix", () => {
  let server: Server;
  let sock: string;

  beforeAll(async () => {
    sock = join(dir, "app.sock");
    server = createServer((req, res) => {
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 2_000);
      res.setHeader("x-seen-host", req.headers.host ?? "");
      res.statusCode = req.url === "/health" ? 200 : 404;
      res.end(`path=${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends the Host header and returns status, headers and body", async () => {
    const r = await host.httpGetUnix(sock, "/health", { host: "2024.01.02.03.04.app1.localhost", timeoutMs: 5_000 });
    expect(r.status).toBe(200);
    expect(r.headers["x-seen-host"]).toBe("2024.01.02.03.04.app1.localhost");
    expect(r.body).toBe("path=/health");
    expect((await host.httpGetUnix(sock, "/x?y=1", { host: "h", timeoutMs: 5_000 })).status).toBe(404);
  });

  it("enforces the timeout", async () => {
    const t0 = Date.now();
    await expect(host.httpGetUnix(sock, "/slow", { host: "h", timeoutMs: 200 })).rejects.toThrow(/timed out after 200 ms/);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it("fails clearly when nothing listens, and refuses header injection", async () => {
    await expect(host.httpGetUnix(join(dir, "none.sock"), "/", { host: "h", timeoutMs: 1_000 })).rejects.toThrow(/none\.sock/);
    await expect(host.httpGetUnix(sock, "/", { host: "h\r\nX-Evil: 1", timeoutMs: 1_000 })).rejects.toThrow(/invalid Host/);
  });
});
