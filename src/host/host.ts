import type { Duplex, Readable } from "node:stream";

export interface LoopbackRequest {
  host: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  tls?: boolean;
}

export interface RunOptions {
  /** Data written to the command's standard input. */
  stdin?: string | Buffer | Readable;
  /** Return the result instead of throwing CommandError on a non-zero exit. */
  allowFailure?: boolean;
  /** Extra environment variables (never secrets on argv: use stdin or files). */
  env?: Record<string, string>;
  /** Called with output as it arrives (progress display, --verbose). */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StagedLinks {
  /** Renames every staged link into place; resolves with the host's clock (ms since the epoch) just after the last rename. */
  go(): Promise<number>;
  /** Removes the staged links: nothing was changed. Safe after go() failed, and twice. */
  cancel(): Promise<void>;
}

export interface Tunnel {
  port: number;
  bytes(): number;
  close(): Promise<void>;
}

export interface FileStat {
  name: string;
  size: number;
  mtimeMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The only way depl touches a machine. LocalHost uses child processes and fs;
 * SshHost uses node-ssh. Every command is an argv array (never a shell string
 * built from input); run() throws CommandError on a non-zero exit unless
 * allowFailure is set.
 */
export interface Host {
  /** "local" or "user@address[:port]", used in messages and logs. */
  readonly name: string;
  readonly isLocal: boolean;
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** null when the file does not exist. */
  readFile(path: string): Promise<string | null>;
  /** Atomic: written to a temp file beside it, then renamed. */
  writeFile(path: string, content: string | Buffer, opts?: { mode?: number }): Promise<void>;
  mkdirp(path: string, opts?: { mode?: number }): Promise<void>;
  /** Points linkPath at target with one rename(2): readers never see it missing. */
  symlinkAtomic(target: string, linkPath: string): Promise<void>;
  /** symlinkAtomic for each pair, in order, in one round trip where the host is remote. */
  symlinksAtomic(links: readonly { target: string; linkPath: string }[]): Promise<void>;
  /**
   * Phase one of a switch: makes each link under a temporary name beside its
   * path now, and returns go() and cancel(). go() renames them into place in
   * order (each one rename(2)) in one step already waiting on the host, so
   * that several hosts switch within a few milliseconds of each other.
   */
  stageSymlinks(links: readonly { target: string; linkPath: string }[]): Promise<StagedLinks>;
  /** The symlink's target, or null when linkPath is not a symlink. */
  readlink(linkPath: string): Promise<string | null>;
  exists(path: string): Promise<boolean>;
  /** rm -rf; a missing path is not an error. */
  remove(path: string): Promise<void>;
  /** Lists names in a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Every symlink directly in dir, name -> target, in one round trip; empty when dir does not exist. */
  readlinks(dir: string): Promise<Map<string, string>>;
  /** Name, size and mtime of the regular files directly in dir, in one round trip; [] when it does not exist. */
  statFiles(dir: string): Promise<FileStat[]>;
  /** Appends to the file (created if missing) with O_APPEND: a line is written whole. */
  appendFile(path: string, content: string): Promise<void>;
  /**
   * Creates the file with O_EXCL: true when this call created it, false when
   * it was there already; throws "cannot create <path>: <why>" otherwise.
   */
  createExclusive(path: string, content: string): Promise<boolean>;
  /**
   * A stream to a unix socket on that host (supervisord's, an app's): a
   * net.Socket here, a channel of the existing SSH connection over SSH. The
   * caller ends or destroys it. Rejects when nothing can be connected.
   */
  connectUnix(path: string): Promise<Duplex>;
  /** One HTTP GET over a unix socket on that host. */
  httpGetUnix(
    socketPath: string,
    path: string,
    opts: { host: string; timeoutMs: number },
  ): Promise<HttpResponse>;
  /**
   * One HTTP GET to 127.0.0.1:port on that host (nginx, as a user on it would
   * reach it); with tls, HTTPS naming opts.host (SNI), whatever certificate it
   * shows (this checks routing, not certificates). Rejects when there is no answer.
   */
  httpGetLoopback(
    port: number,
    path: string,
    opts: LoopbackRequest,
  ): Promise<HttpResponse>;
  /** One HTTP POST over a unix socket on that host (supervisord's XML-RPC). */
  httpPostUnix(
    socketPath: string,
    path: string,
    opts: { host: string; contentType: string; body: string; timeoutMs: number },
  ): Promise<HttpResponse>;
  close(): Promise<void>;
  /**
   * A port on the host's loopback that leads to localPort on this machine's
   * loopback (ssh -R), until close(); bytes() counts what went from here to
   * the host. On the local host it is localPort itself.
   */
  tunnelToHere(localPort: number): Promise<Tunnel>;
  /** A new connection in place of a lost or closed one (the same object works again); a local host has nothing to do. */
  reconnect(): Promise<void>;
}
