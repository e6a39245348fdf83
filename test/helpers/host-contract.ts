import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { PassThrough, Readable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CommandError } from "../../src/errors.js";
import type { Host } from "../../src/host/host.js";
import { expectExit } from "./cli.js";

/**
 * What LocalHost and SshHost must do alike, every method of Host: `parent`
 * is a directory this process can also write (the SSH host is this machine
 * through a private sshd), `fresh` connects a second host of the same kind
 * (for close and reconnect). What differs between them (names, SSH channels,
 * sshd's refusals) stays in each host's own test file.
 */
export function hostContract(host: () => Host, parent: () => string, fresh: () => Promise<Host>): void {
  let d0 = "";
  const dir = () => d0;
  beforeEach(async () => {
    d0 = await mkdtemp(join(parent(), "contract-"));
  });

  describe("run", () => {
    it("passes argv unchanged, no shell reading it", async () => {
      const words = ["", "a b", "it's", "$(touch /tmp/depl-pwned)", "`id`", "line\nbreak", "*", "~", "a=b", "ünï ✓"];
      const r = await host().run(["printf", "%s\\0", ...words]);
      expect(r.stdout.split("\0").slice(0, -1)).toEqual(words);
      expect(r.stderr).toBe("");
    });

    it("throws CommandError with the exit code, stderr and host name; exit 0 with stderr is success", async () => {
      const err = await host().run(["sh", "-c", "echo bad >&2; exit 7"]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      expect(err).toMatchObject({ code: 7, stderr: "bad\n", host: host().name });
      expect((err as Error).message).toContain("exited 7: bad");
      expect(await host().run(["sh", "-c", "echo progress >&2; echo done"])).toEqual({ code: 0, stdout: "done\n", stderr: "progress\n" });
    });

    it("returns failures with allowFailure: exit 1, a missing program 127, death by a signal 128+n", async () => {
      expectExit(await host().run(["false"], { allowFailure: true }), 1);
      expectExit(await host().run(["depl-no-such-program"], { allowFailure: true }), 127);
      expectExit(await host().run(["sh", "-c", "kill -TERM $$"], { allowFailure: true }), 143);
      expectExit(await host().run(["sh", "-c", "kill -KILL $$"], { allowFailure: true }), 137);
    });

    it("sets env (never read by a shell) and streams output to callbacks", async () => {
      const seen: string[] = [];
      const r = await host().run(["sh", "-c", 'printf %s "$DEPL_X"; echo e >&2'], {
        env: { DEPL_X: "it's $(not run)" },
        onStdout: (s) => seen.push(`out:${s}`),
        onStderr: (s) => seen.push(`err:${s}`),
      });
      expect(r.stdout).toBe("it's $(not run)");
      expect(seen).toEqual(expect.arrayContaining(["out:it's $(not run)", "err:e\n"]));
    });

    it("feeds stdin from a string, a Buffer and a 20 MB stream, intact", async () => {
      expect((await host().run(["cat"], { stdin: "text\n" })).stdout).toBe("text\n");
      expect((await host().run(["cat"], { stdin: Buffer.from([0xc3, 0xbc]) })).stdout).toBe("ü");
      const data = randomBytes(20 * 1024 * 1024);
      const chunks = Array.from({ length: 320 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
      const r = await host().run(["sh", "-c", "sha256sum; echo done >&2"], { stdin: Readable.from(chunks) });
      expect(r.stdout.split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
      expect(r.stderr).toBe("done\n");
    });

    it("does not hang when the command exits without reading its stream input", async () => {
      const source = new PassThrough();
      source.write("never read");
      expectExit(await host().run(["true"], { stdin: source }));
      expect(source.destroyed).toBe(true);
    });

    it("stops the command and rejects with the stream's error when stdin fails", async () => {
      const source = new PassThrough();
      const marker = join(dir(), "half-input");
      source.write("partial\n");
      setTimeout(() => source.destroy(new Error("docker save failed")), 300);
      const script = 'cat > "$1.tmp" && mv "$1.tmp" "$1"';
      await expect(host().run(["sh", "-c", script, "sh", marker], { stdin: source })).rejects.toThrow("docker save failed");
      await new Promise((r) => setTimeout(r, 300));
      expect(await host().exists(marker)).toBe(false);
    });

    it("returns large multi-byte output intact, and runs 25 commands at once", async () => {
      const text = "ünïcødé ✓ line\n".repeat(200_000);
      await writeFile(join(dir(), "big.txt"), text);
      expect((await host().run(["cat", join(dir(), "big.txt")])).stdout === text).toBe(true);
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => host().run(["echo", String(i)])));
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    });
  });

  describe("files", () => {
    it("writeFile: atomic, the mode applied, no temp file left; readFile reads back, null when missing; mkdirp's mode", async () => {
      const d = join(dir(), "files");
      await host().mkdirp(d, { mode: 0o750 });
      await host().mkdirp(d, { mode: 0o750 });
      expect((await host().run(["stat", "-c", "%a", d])).stdout.trim()).toBe("750");
      const file = join(d, "release.json");
      await host().writeFile(file, '{"a":"it\'s"}', { mode: 0o600 });
      await host().writeFile(file, Buffer.from("two ✓\n"), { mode: 0o640 });
      expect(await host().readFile(file)).toBe("two ✓\n");
      expect((await host().run(["stat", "-c", "%a", file])).stdout.trim()).toBe("640");
      expect(await readdir(d)).toEqual(["release.json"]);
      expect(await host().readFile(join(d, "missing"))).toBeNull();
      await expect(host().writeFile(join(dir(), "no-dir", "f"), "x")).rejects.toThrow();
      expect(await host().exists(join(dir(), "no-dir"))).toBe(false);
    });

    it("symlinkAtomic creates and replaces a link, even one to a directory; readlink is null for a file or nothing", async () => {
      const d = join(dir(), "traffic");
      await mkdir(join(d, "v1"), { recursive: true });
      await mkdir(join(d, "v2"));
      const link = join(d, "live.sock");
      await host().symlinkAtomic("v1", link);
      expect(await host().readlink(link)).toBe("v1");
      await host().symlinkAtomic("v2", link);
      expect(await host().readlink(link)).toBe("v2");
      expect(await host().list(join(d, "v1"))).toEqual([]);
      expect(await host().list(d)).toEqual(["live.sock", "v1", "v2"]);
      await writeFile(join(d, "plain"), "x");
      expect(await host().readlink(join(d, "plain"))).toBeNull();
      expect(await host().readlink(join(d, "v1"))).toBeNull();
      expect(await host().readlink(join(d, "absent"))).toBeNull();
    });

    it("symlinksAtomic moves many links, in order; none is an empty call; a missing directory is an error", async () => {
      const d = join(dir(), "buckets");
      await mkdir(d);
      const links = Array.from({ length: 100 }, (_, i) => ({ target: i < 5 ? "../canary.sock" : "../live.sock", linkPath: join(d, `${String(i).padStart(2, "0")}.sock`) }));
      await host().symlinksAtomic(links);
      expect(await host().readlink(join(d, "04.sock"))).toBe("../canary.sock");
      expect(await host().readlink(join(d, "99.sock"))).toBe("../live.sock");
      expect((await host().list(d)).length).toBe(100);
      await host().symlinksAtomic([]);
      await expect(host().symlinksAtomic([{ target: "x", linkPath: join(dir(), "no-dir", "l") }])).rejects.toThrow();
    });

    it("stageSymlinks: links wait under temporary names until go() renames them in order; cancel() removes them", async () => {
      const d = join(dir(), "staged");
      await mkdir(d);
      await host().symlinkAtomic("old", join(d, "live"));
      const staged = await host().stageSymlinks([{ target: "new", linkPath: join(d, "live") }, { target: "p", linkPath: join(d, "prev") }]);
      expect(await host().readlink(join(d, "live"))).toBe("old");
      expect((await host().list(d)).length).toBe(3); // live and two temporary links
      const at = await staged.go();
      expect(Math.abs(at - Date.now())).toBeLessThan(5_000);
      expect([await host().readlink(join(d, "live")), await host().readlink(join(d, "prev"))]).toEqual(["new", "p"]);
      await staged.cancel(); // after go: nothing to do
      const again = await host().stageSymlinks([{ target: "newer", linkPath: join(d, "live") }]);
      await again.cancel();
      await again.cancel();
      expect(await host().list(d)).toEqual(["live", "prev"]);
      expect(await host().readlink(join(d, "live"))).toBe("new");
      await expect(host().stageSymlinks([{ target: "x", linkPath: join(d, "none", "l") }])).rejects.toThrow(/no such file/i);
    });

    it("list (sorted, dot files, odd names, [] when missing), exists (a dangling link too), remove (twice; never /)", async () => {
      const d = join(dir(), "l");
      expect(await host().list(d)).toEqual([]);
      expect(await host().exists(d)).toBe(false);
      await mkdir(join(d, "sub"), { recursive: true });
      await writeFile(join(d, "b"), "");
      await writeFile(join(d, ".hidden"), "");
      await writeFile(join(d, "odd\nname"), "");
      await symlink("nowhere", join(d, "dangling"));
      expect(await host().list(d)).toEqual([".hidden", "b", "dangling", "odd\nname", "sub"]);
      expect(await host().exists(join(d, "dangling"))).toBe(true);
      expect(await host().exists(join(d, "b", "under-a-file"))).toBe(false);
      await host().remove(d);
      await host().remove(d);
      expect(await host().exists(d)).toBe(false);
      await expect(host().remove("/")).rejects.toThrow(/refusing/);
      await expect(host().remove("relative")).rejects.toThrow(/refusing/);
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

  });

  describe("unix sockets and HTTP", () => {
    let server: Server;
    let sock = "";
    let seen: { method: string; type: string; body: string } | undefined;
    beforeAll(async () => {
      sock = join(parent(), `contract-app-${process.pid}.sock`);
      server = createServer((req, res) => {
        if (req.url === "/slow") return void setTimeout(() => res.end("late"), 3_000);
        let body = "";
        req.setEncoding("utf8").on("data", (c: string) => (body += c));
        req.on("end", () => {
          seen = { method: req.method!, type: req.headers["content-type"] ?? "", body };
          res.setHeader("x-seen-host", req.headers.host ?? "");
          res.statusCode = req.url === "/health" || req.url === "/RPC2" ? 200 : 404;
          res.end(`path=${req.url}\r\n\r\nmore ✓`);
        });
      });
      await new Promise<void>((resolve) => server.listen(sock, resolve));
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it("connectUnix streams both ways to a unix socket on the host; nothing listening is an error naming the socket", async () => {
      const echoSock = join(dir(), "echo.sock");
      const echo = createNetServer((c) => c.pipe(c));
      await new Promise<void>((resolve) => echo.listen(echoSock, resolve));
      try {
        const s = await host().connectUnix(echoSock);
        const got = new Promise<string>((resolve) => s.once("data", (b: Buffer) => resolve(b.toString())));
        s.write("ping ✓");
        expect(await got).toBe("ping ✓");
        s.end();
        await expect(host().connectUnix(join(dir(), "none.sock"))).rejects.toThrow(/none\.sock/);
      } finally {
        echo.close();
      }
    });

    it("httpGetUnix sends the Host header and returns status, headers and body", async () => {
      const r = await host().httpGetUnix(sock, "/health", { host: "2024.01.02.03.04.app1.localhost", timeoutMs: 5_000 });
      expect(r).toMatchObject({ status: 200, body: "path=/health\r\n\r\nmore ✓" });
      expect(r.headers["x-seen-host"]).toBe("2024.01.02.03.04.app1.localhost");
      expect(seen?.method).toBe("GET");
      expect((await host().httpGetUnix(sock, "/x?y=1", { host: "h", timeoutMs: 5_000 })).status).toBe(404);
    });

    it("httpGetUnix: the timeout holds, nothing listening is an error naming the socket, header injection is refused", async () => {
      const t0 = Date.now();
      await expect(host().httpGetUnix(sock, "/slow", { host: "h", timeoutMs: 300 })).rejects.toThrow(/^.*GET http:\/\/h\/slow via .*: timed out after 300 ms$/);
      expect(Date.now() - t0).toBeLessThan(2_000);
      await expect(host().httpGetUnix(join(dir(), "none.sock"), "/", { host: "h", timeoutMs: 1_000 })).rejects.toThrow(/GET http:\/\/h\/ via .*none\.sock: /);
      await expect(host().httpGetUnix(sock, "/", { host: "h\r\nX-Evil: 1", timeoutMs: 1_000 })).rejects.toThrow(/invalid Host/);
    });

    it("httpPostUnix sends the body with its Content-Type", async () => {
      const body = '<?xml version="1.0"?><methodCall><methodName>supervisor.getState</methodName></methodCall>';
      const r = await host().httpPostUnix(sock, "/RPC2", { host: "localhost", contentType: "text/xml", body, timeoutMs: 5_000 });
      expect(r.status).toBe(200);
      expect(seen).toEqual({ method: "POST", type: "text/xml", body });
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
  });

  describe("tunnel and connection", () => {
    it("tunnelToHere: a port on the host's loopback that reaches this machine's; close() ends it", async () => {
      const here = createServer((_req, res) => res.end("from here"));
      await new Promise<void>((resolve) => here.listen(0, "127.0.0.1", resolve));
      const t = await host().tunnelToHere((here.address() as AddressInfo).port);
      try {
        const r = await host().run(["curl", "-sS", "--max-time", "5", `http://127.0.0.1:${t.port}/`], { allowFailure: true });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe("from here");
      } finally {
        await t.close();
        here.close();
      }
    });

    it("close() ends the connection; reconnect() makes the same object work again", async () => {
      const h = await fresh();
      expect((await h.run(["echo", "one"])).stdout).toBe("one\n");
      await h.close();
      await h.reconnect();
      expect((await h.run(["echo", "two"])).stdout).toBe("two\n");
      expect(await h.readFile(join(dir(), "absent"))).toBeNull();
      await h.close();
    });
  });
}
