import { mkdir, mkdtemp, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { beforeEach, expect, it } from "vitest";
import type { Host } from "../../src/host/host.js";

/**
 * What LocalHost and SshHost must do alike for the one-round-trip file
 * operations; `dir` is an empty directory this process can also write.
 */
export function oneRoundTripFileContract(host: () => Host, parent: () => string): void {
  let d0 = "";
  const dir = () => d0;
  beforeEach(async () => {
    d0 = await mkdtemp(join(parent(), "contract-"));
  });

  it("readlinks: every symlink of a directory with its target, nothing else; empty when missing", async () => {
    const d = join(dir(), "links");
    await mkdir(d);
    await symlink("../releases/a b/sock/app.sock", join(d, "00.sock"));
    await symlink("nowhere", join(d, "dangling"));
    await writeFile(join(d, "file"), "x");
    await mkdir(join(d, "sub"));
    expect(await host().readlinks(d)).toEqual(new Map([["00.sock", "../releases/a b/sock/app.sock"], ["dangling", "nowhere"]]));
    expect(await host().readlinks(join(dir(), "missing"))).toEqual(new Map());
  });

  it("statFiles: name, size and mtime of regular files only; [] when missing", async () => {
    const d = join(dir(), "stat");
    await mkdir(d);
    await writeFile(join(d, "access.log"), "12345");
    await utimes(join(d, "access.log"), 1_700_000_000, 1_700_000_000.5);
    await mkdir(join(d, "sub"));
    await symlink("access.log", join(d, "link"));
    expect(await host().statFiles(d)).toEqual([{ name: "access.log", size: 5, mtimeMs: 1_700_000_000_500 }]);
    expect(await host().statFiles(join(dir(), "missing"))).toEqual([]);
  });

  it("appendFile appends whole lines, creating the file", async () => {
    const f = join(dir(), "audit.log");
    await host().appendFile(f, "one\n");
    await host().appendFile(f, "two ✓\n");
    expect(await host().readFile(f)).toBe("one\ntwo ✓\n");
  });

  it("createExclusive creates once, then answers false; a missing directory is an error naming the path", async () => {
    const f = join(dir(), "lock");
    expect(await host().createExclusive(f, "mine\n")).toBe(true);
    expect(await host().createExclusive(f, "theirs\n")).toBe(false);
    expect(await host().readFile(f)).toBe("mine\n");
    const missing = join(dir(), "no-dir", "lock");
    // The words after the path are the shell's (dash: "Directory nonexistent") or the C library's.
    await expect(host().createExclusive(missing, "x")).rejects.toThrow(new RegExp(`^cannot create ${missing}: \\w`));
  });

  it("httpGetLoopback: GET to 127.0.0.1:port with Host and headers; no answer is an error naming the URL", async () => {
    const server = createServer((req, res) => {
      res.setHeader("x-depl-version", "2026.01.01.00.00");
      res.end(`${req.url} ${req.headers.host} ${req.headers.cookie}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const r = await host().httpGetLoopback(port, "/health", { host: "app1.localhost", headers: { cookie: "depl_bucket=99" }, timeoutMs: 5_000 });
      expect(r).toMatchObject({ status: 200, body: "/health app1.localhost depl_bucket=99" });
      expect(r.headers["x-depl-version"]).toBe("2026.01.01.00.00");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await expect(host().httpGetLoopback(port, "/health", { host: "h", timeoutMs: 2_000 })).rejects.toThrow(`GET http://127.0.0.1:${port}/health (Host: h): `);
    await expect(host().httpGetLoopback(port, "/", { host: "h\r\nX: 1", timeoutMs: 2_000 })).rejects.toThrow(/invalid Host/);
  });
}
