import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, symlink, chmod, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { connect, createConnection } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { Readable, type Duplex } from "node:stream";
import { CommandError } from "../errors.js";
import { assertArgv, assertEnv, assertHttpGet, assertRemovable, exitCode } from "./checks.js";
import type { FileStat, Host, HttpResponse, LoopbackRequest, RunOptions, RunResult, StagedLinks, Tunnel } from "./host.js";
import { connectWithin, HttpTimeoutError, httpOverStream, unixGet, unixPost, unixRequest } from "./http-stream.js";

/** This machine: child processes (argv, never a shell) and node:fs. */
export class LocalHost implements Host {
  readonly name: string = "local";
  readonly isLocal = true;

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    assertArgv(argv);
    assertEnv(opts.env);
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: "pipe" });
      let stdout = "";
      let stderr = "";
      let failure: Error | undefined;
      let spawnError: NodeJS.ErrnoException | undefined;
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
        opts.onStdout?.(s);
      });
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        stderr += s;
        opts.onStderr?.(s);
      });
      child.on("error", (err) => (spawnError = err));
      // EPIPE when the command exits before reading all of its input: its exit code tells the story.
      child.stdin.on("error", () => {});

      const source = opts.stdin instanceof Readable ? opts.stdin : undefined;
      if (source) {
        source.once("error", (err) => {
          failure ??= err;
          // Kill before closing stdin: an EOF would let `sh -c 'cat > f && mv f g'` act on half an input.
          child.kill("SIGTERM");
          source.unpipe(child.stdin);
          child.stdin.destroy();
        });
        source.pipe(child.stdin);
      } else {
        child.stdin.end(opts.stdin);
      }

      child.on("close", (code, signal) => {
        // Nobody reads the rest: let the producer (e.g. `docker save`) see EPIPE rather than hang.
        if (source && !source.readableEnded) source.unpipe(child.stdin).destroy();
        if (failure) return reject(failure);
        const result = spawnError
          ? { code: spawnError.code === "ENOENT" ? 127 : 126, stdout, stderr: stderr + `${spawnError.message}\n` }
          : { code: exitCode(code, signal), stdout, stderr };
        if (result.code !== 0 && !opts.allowFailure) {
          reject(new CommandError(this.name, argv, result.code, result.stdout, result.stderr));
        } else {
          resolve(result);
        }
      });
    });
  }

  async readFile(path: string): Promise<string | null> {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      if (errno(err) === "ENOENT") return null;
      throw err;
    }
  }

  async writeFile(path: string, content: string | Buffer, opts: { mode?: number } = {}): Promise<void> {
    const tmp = tempBeside(path);
    try {
      const fh = await open(tmp, "wx", opts.mode);
      try {
        await fh.writeFile(content);
        if (opts.mode !== undefined) await fh.chmod(opts.mode); // open() applied the umask
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async mkdirp(path: string, opts: { mode?: number } = {}): Promise<void> {
    await mkdir(path, { recursive: true });
    if (opts.mode !== undefined) await chmod(path, opts.mode);
  }

  async symlinkAtomic(target: string, linkPath: string): Promise<void> {
    const tmp = tempBeside(linkPath);
    await symlink(target, tmp);
    try {
      await rename(tmp, linkPath);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async symlinksAtomic(links: readonly { target: string; linkPath: string }[]): Promise<void> {
    for (const { target, linkPath } of links) await this.symlinkAtomic(target, linkPath);
  }

  async stageSymlinks(links: readonly { target: string; linkPath: string }[]): Promise<StagedLinks> {
    const staged: { tmp: string; linkPath: string }[] = [];
    const cancel = async () => {
      await Promise.all(staged.map(({ tmp }) => rm(tmp, { force: true })));
    };
    try {
      for (const { target, linkPath } of links) {
        const tmp = tempBeside(linkPath);
        await symlink(target, tmp);
        staged.push({ tmp, linkPath });
      }
    } catch (err) {
      await cancel();
      throw err;
    }
    return {
      go: async () => {
        try {
          for (const { tmp, linkPath } of staged) await rename(tmp, linkPath);
        } catch (err) {
          await cancel();
          throw err;
        }
        return performance.timeOrigin + performance.now();
      },
      cancel,
    };
  }

  async readlink(linkPath: string): Promise<string | null> {
    try {
      return await readlink(linkPath);
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "EINVAL") return null;
      throw err;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await lstat(path);
      return true;
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") return false;
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    assertRemovable(path);
    await rm(path, { recursive: true, force: true });
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await readdir(dir)).sort();
    } catch (err) {
      if (errno(err) === "ENOENT") return [];
      throw err;
    }
  }

  async readlinks(dir: string): Promise<Map<string, string>> {
    const links = new Map<string, string>();
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errno(err) === "ENOENT") return links;
      throw err;
    }
    const found = await Promise.all(entries.filter((e) => e.isSymbolicLink()).map(async (e) => [e.name, await this.readlink(join(dir, e.name))] as const));
    for (const [name, target] of found) if (target !== null) links.set(name, target);
    return links;
  }

  async statFiles(dir: string): Promise<FileStat[]> {
    let names;
    try {
      names = await readdir(dir);
    } catch (err) {
      if (errno(err) === "ENOENT") return [];
      throw err;
    }
    const stats = await Promise.all(names.map((name) => lstat(join(dir, name)).then((st) => ({ name, st }), () => null)));
    return stats.filter((x) => x !== null && x.st.isFile()).map((x) => ({ name: x!.name, size: x!.st.size, mtimeMs: Math.round(x!.st.mtimeMs) }));
  }

  async appendFile(path: string, content: string): Promise<void> {
    await appendFile(path, content);
  }

  async createExclusive(path: string, content: string): Promise<boolean> {
    try {
      await writeFile(path, content, { flag: "wx" });
      return true;
    } catch (err) {
      if (errno(err) === "EEXIST") return false;
      throw new Error(`cannot create ${path}: ${strerror(err as NodeJS.ErrnoException)}`, { cause: err });
    }
  }

  connectUnix(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(socket);
      });
    });
  }

  async httpGetUnix(socketPath: string, path: string, opts: { host: string; timeoutMs: number }): Promise<HttpResponse> {
    return unixRequest(() => this.connectUnix(socketPath), socketPath, unixGet(path, opts));
  }

  async httpPostUnix(socketPath: string, path: string, opts: { host: string; contentType: string; body: string; timeoutMs: number }): Promise<HttpResponse> {
    return unixRequest(() => this.connectUnix(socketPath), socketPath, unixPost(path, opts));
  }

  async httpGetLoopback(
    port: number,
    path: string,
    opts: LoopbackRequest,
  ): Promise<HttpResponse> {
    assertHttpGet(path, opts.host);
    const connecting = new Promise<Duplex>((resolve, reject) => {
      const socket = opts.tls
        ? tlsConnect({ host: "127.0.0.1", port, servername: opts.host, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] })
        : createConnection(port, "127.0.0.1");
      socket.once("error", reject);
      socket.once(opts.tls ? "secureConnect" : "connect", () => {
        socket.off("error", reject);
        resolve(socket);
      });
    });
    const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}${path}`;
    try {
      const stream = await connectWithin(connecting, opts.timeoutMs);
      return await httpOverStream(stream, { method: "GET", path, headers: { ...opts.headers, host: opts.host }, timeoutMs: opts.timeoutMs });
    } catch (err) {
      const why = err instanceof HttpTimeoutError ? `timed out after ${opts.timeoutMs} ms` : (err as Error).message;
      throw new Error(`GET ${url} (Host: ${opts.host}): ${why}`, { cause: err });
    }
  }

  async reconnect(): Promise<void> {}

  async close(): Promise<void> {}

  async tunnelToHere(localPort: number): Promise<Tunnel> {
    return { port: localPort, bytes: () => 0, close: async () => undefined };
  }
}

const STRERROR: Record<string, string> = {
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EROFS: "Read-only file system",
  ENOENT: "No such file or directory",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  ENOSPC: "No space left on device",
  EDQUOT: "Disk quota exceeded",
};

/** The C library's words for an errno, as a shell would print them. */
function strerror(err: NodeJS.ErrnoException): string {
  return (err.code && STRERROR[err.code]) ?? err.message;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Same directory, so that rename(2) stays on one file system; dot-named so that globs skip it. */
function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.depl-${randomBytes(6).toString("hex")}`);
}
