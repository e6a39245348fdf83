import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import { mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { hostSchema, type SshHostConfig } from "../../src/config/schema.js";
import { CommandError } from "../../src/errors.js";
import { connectHost } from "../../src/host/connect.js";
import type { Host } from "../../src/host/host.js";
import { SshHost } from "../../src/host/ssh.js";
import { allProgramStates, programState } from "../../src/supervisor/ctl.js";
import { hostContract } from "../helpers/host-contract.js";
import { LocalHost } from "../../src/host/local.js";
import { layout } from "../../src/naming/layout.js";
import { openConnections } from "../../src/release/drain.js";
import { expectExit } from "../helpers/cli.js";

// A real sshd of our own on 127.0.0.1 (config, keys and authorized_keys in a temp dir).

let dir: string;
let sshd: ChildProcess;
let sshdLog = "";
let port: number;
let hc: SshHostConfig;
let host: Host;
const user = userInfo().username;

function keygen(type: string, file: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "depl-test", "-f", file]);
  return execFileSync("cat", [`${file}.pub`], { encoding: "utf8" }).split(" ").slice(0, 2).join(" ");
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function waitForBanner(p: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(p, "127.0.0.1");
      s.once("data", (b) => {
        resolve(b.toString().startsWith("SSH-2.0"));
        s.destroy();
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not start:\n${sshdLog}`);
}

async function knownHosts(name: string, line: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `# written by the test\n[127.0.0.1]:${port} ${line}\n`);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "depl-sshd-"));
  mkdirSync("/run/sshd", { recursive: true });
  const edHostKey = keygen("ed25519", join(dir, "host_ed25519"));
  keygen("ecdsa", join(dir, "host_ecdsa"));
  const clientKey = keygen("ed25519", join(dir, "id_ed25519"));
  await writeFile(join(dir, "authorized_keys"), `${clientKey}\n`);
  port = await freePort();
  await writeFile(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_ed25519")}`,
      `HostKey ${join(dir, "host_ecdsa")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "AllowTcpForwarding yes",
      "MaxStartups 50",
      "",
    ].join("\n"),
  );
  sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  sshd.stderr!.on("data", (b: Buffer) => (sshdLog += b.toString()));
  await waitForBanner(port);
  hc = ssh({
    address: "127.0.0.1",
    user,
    port,
    key: join(dir, "id_ed25519"),
    known_hosts: await knownHosts("known_hosts", edHostKey),
  });
  host = await connectHost(hc);
});

afterAll(async () => {
  await host?.close();
  sshd?.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
});

describe("SshHost", () => {
  it("is named by its config name, else address:port", async () => {
    expect(host).toBeInstanceOf(SshHost);
    expect(host.name).toBe(`127.0.0.1:${port}`);
    const named = await connectHost(ssh({ ...hc, name: "web7" }));
    expect(named.name).toBe("web7");
    await named.close();
    expect(host.isLocal).toBe(false);
  });
});

describe("SshHost: the host contract", () => {
  hostContract(
    () => host,
    () => dir,
    () => connectHost(hc),
  );
});

describe("SshHost files", () => {
  it("a command that fails on the host is a CommandError", async () => {
    await expect(host.writeFile(join(dir, "no-dir", "f"), "x")).rejects.toBeInstanceOf(CommandError);
    await expect(host.symlinksAtomic([{ target: "x", linkPath: join(dir, "no-dir", "l") }])).rejects.toBeInstanceOf(CommandError);
  });

  it("stageSymlinks: cancel(), or a connection that ends before go(), leaves every link as it was", async () => {
    const d = join(dir, "staged2");
    await host.mkdirp(d);
    await host.symlinksAtomic([{ target: "old", linkPath: join(d, "a") }]);
    const staged = await host.stageSymlinks([{ target: "new", linkPath: join(d, "a") }]);
    await staged.cancel();
    expect(await host.list(d)).toEqual(["a"]);
    const other = await connectHost(hc);
    await other.stageSymlinks([{ target: "new", linkPath: join(d, "a") }]);
    await other.close(); // no go: the waiting script sees EOF
    for (let i = 0; i < 50 && (await host.list(d)).length > 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await host.list(d)).toEqual(["a"]);
    expect(await host.readlink(join(d, "a"))).toBe("old");
    await expect(host.stageSymlinks([{ target: "x", linkPath: join(dir, "no-dir", "l") }])).rejects.toThrow(/staging the links failed: symlink .*No such file/);
    await host.remove(d);
  });
});

describe("SshHost.httpGetUnix", () => {
  let server: Server;
  let sock: string;

  beforeAll(async () => {
    sock = join(dir, "app.sock");
    server = createHttpServer((req, res) => {
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 3_000);
      res.setHeader("x-seen-host", req.headers.host ?? "");
      res.statusCode = req.url === "/health" ? 200 : 404;
      res.end(`path=${req.url}\r\n\r\nmore`);
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("a dead socket: curl on the host says why (sshd's channel cannot tell it from a refused forwarding)", async () => {
    await expect(host.httpGetUnix(join(dir, "none.sock"), "/", { host: "h", timeoutMs: 1_000 })).rejects.toThrow(/curl exited 7/);
  });

  it("runs no process on the host: one channel of the SSH connection per request", async () => {
    const run = vi.spyOn(host, "run");
    try {
      const answers = await Promise.all(Array.from({ length: 16 }, () => host.httpGetUnix(sock, "/health", { host: "h", timeoutMs: 5_000 })));
      expect(answers.map((r) => r.status)).toEqual(Array(16).fill(200));
      expect(run).not.toHaveBeenCalled();
    } finally {
      run.mockRestore();
    }
  });
});

describe("SshHost where sshd forwards no unix sockets", () => {
  let other: ChildProcess | undefined;
  let otherHost: Host | undefined;
  afterAll(async () => {
    await otherHost?.close();
    other?.kill("SIGTERM");
  });

  it("says so for connectUnix, and httpGetUnix falls back to curl on the host", async () => {
    const otherPort = await freePort();
    const conf = (await readFile(join(dir, "sshd_config"), "utf8"))
      .replace(`Port ${port}`, `Port ${otherPort}`)
      .replace(`PidFile ${join(dir, "sshd.pid")}`, `PidFile ${join(dir, "sshd2.pid")}`);
    await writeFile(join(dir, "sshd2_config"), `${conf}AllowStreamLocalForwarding no\n`);
    other = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd2_config")], { stdio: "ignore" });
    await waitForBanner(otherPort);
    const hostKey = (await readFile(join(dir, "host_ed25519.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    const known = join(dir, "known_hosts2");
    await writeFile(known, `[127.0.0.1]:${otherPort} ${hostKey}\n`);
    otherHost = await connectHost({ ...hc, port: otherPort, known_hosts: known });
    const sock = join(dir, "fallback.sock");
    const server = createHttpServer((req, res) => {
      res.setHeader("x-seen-host", req.headers.host ?? "");
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      await expect(otherHost.connectUnix(sock)).rejects.toThrow(/cannot connect to .*fallback\.sock: .*sshd forwards no unix sockets: AllowStreamLocalForwarding/);
      const r = await otherHost.httpGetUnix(sock, "/health", { host: "v1.app1.localhost", timeoutMs: 5_000 });
      expect(r.status).toBe(200);
      // Known from then on: said at once, and curl answers.
      await expect(otherHost.connectUnix(sock)).rejects.toThrow(/cannot connect to .*fallback\.sock: sshd refuses unix socket forwarding \(AllowStreamLocalForwarding in its sshd_config\)$/);
      expect((await otherHost.httpGetUnix(sock, "/", { host: "h", timeoutMs: 5_000 })).body).toBe("ok");
      // supervisord's XML-RPC too: POSTed by curl on the host.
      expect(await programState(otherHost, "depl-no-such-program")).toBe("ABSENT");
      expect(r.body).toBe("ok");
      expect(r.headers["x-seen-host"]).toBe("v1.app1.localhost");
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe("SshHost.connectUnix", () => {
  it("counts a release's open connections with ss on the host, here and over SSH", async () => {
    const l = layout(join(dir, "conns"), "cnt");
    mkdirSync(l.sockDir("v1"), { recursive: true });
    const app = createServer(() => undefined);
    await new Promise<void>((resolve) => app.listen(l.socket("v1"), resolve));
    const clients = [connect(l.socket("v1")), connect(l.socket("v1"))];
    try {
      await Promise.all(clients.map((c) => new Promise((r) => c.once("connect", r))));
      for (const h of [new LocalHost(), host]) {
        // Bound here at its host path (a release's app binds /run/app/app.sock in its container).
        expect((await openConnections(h, l, ["v1", "v2"], l.socket("v1"))).counts).toEqual(new Map([["v1", 2], ["v2", 0]]));
        expect((await openConnections(h, l, ["v1"])).counts).toEqual(new Map([["v1", 0]]));
      }
      clients[0]!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect((await openConnections(host, l, ["v1"], l.socket("v1"))).counts).toEqual(new Map([["v1", 1]]));
    } finally {
      for (const c of clients) c.destroy();
      app.close();
    }
  });

  it("reaches the host's supervisord over XML-RPC, with no supervisorctl", async () => {
    const run = vi.spyOn(host, "run");
    try {
      expect(await allProgramStates(host)).toBeInstanceOf(Map);
      expect(await programState(host, "depl-no-such-program")).toBe("ABSENT");
      expect(run).not.toHaveBeenCalled();
    } finally {
      run.mockRestore();
    }
  });
});

describe("SshHost.tunnelToHere", () => {
  /** An HTTP server on this machine's loopback answering `<tag>` and a body of `size` bytes. */
  async function serve(tag: string, size: number): Promise<{ server: Server; port: number }> {
    const server = createHttpServer((_req, res) => res.end(tag + "x".repeat(size - tag.length)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as { port: number }).port };
  }
  const curl = (port: number) => host.run(["curl", "-sS", "--max-time", "5", `http://127.0.0.1:${port}/`], { allowFailure: true });

  it("a port on the host's loopback reaches this machine's, counting the bytes; two tunnels keep apart; closed, it is gone", async () => {
    const a = await serve("A", 100_000);
    const b = await serve("B", 5_000);
    const ta = await host.tunnelToHere(a.port);
    const tb = await host.tunnelToHere(b.port);
    try {
      // sshd chose the ports: ours are taken here, and the host may run its own service on them.
      expect(ta.port).not.toBe(a.port);
      expect(tb.port).not.toBe(ta.port);
      const ra = await curl(ta.port);
      expect(ra.code, ra.stderr).toBe(0);
      expect(ra.stdout.length).toBe(100_000);
      expect(ra.stdout[0]).toBe("A");
      const rb = await curl(tb.port);
      expect(rb.stdout.length).toBe(5_000);
      expect(rb.stdout[0]).toBe("B");
      // The body plus headers, the response's way, in each tunnel only.
      expect(ta.bytes()).toBeGreaterThan(100_000);
      expect(ta.bytes()).toBeLessThan(101_000);
      expect(tb.bytes()).toBeGreaterThan(5_000);
      expect(tb.bytes()).toBeLessThan(6_000);
      await ta.close();
      expectExit(await curl(ta.port), 7); // connection refused
      expectExit(await curl(tb.port));
    } finally {
      await ta.close();
      await tb.close();
      a.server.close();
      b.server.close();
    }
  });

  it("a tunnel to a port where nothing listens here gives the host a closed connection, not a hang", async () => {
    const dead = await freePort();
    const t = await host.tunnelToHere(dead);
    try {
      const r = await curl(t.port);
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBe(28); // not a timeout
    } finally {
      await t.close();
    }
  });
});

describe("SshHost host keys and jump", () => {
  it("refuses a host whose key does not match known_hosts, naming host and file", async () => {
    const wrong = keygen("ed25519", join(dir, "wrong"));
    const file = await knownHosts("known_hosts_wrong", wrong);
    const err = await connectHost({ ...hc, known_hosts: file }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(new RegExp(`^${user}@127\\.0\\.0\\.1:${port}: host key check against ${file} failed: HOST KEY MISMATCH`));
    expect((err as Error).message).not.toContain("\n");
  });

  it("refuses an unknown host and a missing known_hosts file", async () => {
    const empty = join(dir, "known_hosts_empty");
    await writeFile(empty, "");
    await expect(connectHost({ ...hc, known_hosts: empty })).rejects.toThrow(`no host key for [127.0.0.1]:${port} in ${empty}`);
    await expect(connectHost({ ...hc, known_hosts: join(dir, "absent") })).rejects.toThrow(/cannot read known_hosts file/);
  });

  it("asks for the key type known_hosts holds when the server has several", async () => {
    const ecdsa = (await readFile(join(dir, "host_ecdsa.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    const other = await connectHost({ ...hc, known_hosts: await knownHosts("known_hosts_ecdsa", ecdsa) });
    expect((await other.run(["echo", "ok"])).stdout).toBe("ok\n");
    await other.close();
  });

  it("connects through a jump host", async () => {
    const via = await connectHost(ssh({ ...hc, jump: { address: "127.0.0.1", port, user, key: hc.key } }));
    expect(via.name).toBe(host.name);
    expect((await via.run(["sh", "-c", "echo $SSH_CONNECTION"])).stdout).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+\n$/);
    const text = "ünïcødé ✓ line\n".repeat(200_000);
    await writeFile(join(dir, "big.txt"), text);
    expect(await via.readFile(join(dir, "big.txt"))).toBe(text);
    await via.close();
  });

  it("connects through two jump hosts, each hop carried by the one before", async () => {
    const hop = { address: "127.0.0.1", port, user };
    const via = await connectHost(ssh({ ...hc, name: "behind-two", jump: [hop, hop] }));
    expect(via.name).toBe("behind-two");
    expect((await via.run(["echo", "two hops"])).stdout).toBe("two hops\n");
    await via.close();
  });

  it("checks the jump host's key too", async () => {
    const wrong = keygen("ed25519", join(dir, "wrong2"));
    const file = await knownHosts("known_hosts_jump", wrong);
    await expect(connectHost(ssh({ ...hc, known_hosts: file, jump: { address: "127.0.0.1", port, user } }))).rejects.toThrow(
      /host key check .* failed: HOST KEY MISMATCH/,
    );
  });

  it("reports a key the server does not accept", async () => {
    keygen("ed25519", join(dir, "stranger"));
    await expect(connectHost({ ...hc, key: join(dir, "stranger") })).rejects.toThrow(
      new RegExp(`^${user}@127\\.0\\.0\\.1:${port}: cannot connect: All configured authentication methods failed`),
    );
    await expect(connectHost({ ...hc, key: join(dir, "absent-key") })).rejects.toThrow(new RegExp(`^${user}@127\\.0\\.0\\.1:${port}: cannot read ssh key .*absent-key`));
  });

  it("fails runs after close", async () => {
    const h = await connectHost(hc);
    await h.close();
    await expect(h.run(["true"])).rejects.toThrow(/connection already closed/);
  });
});

/** A host entry as depl.yml's schema makes it (defaults, jump as a list). */
function ssh(raw: Record<string, unknown>): SshHostConfig {
  return hostSchema.parse(raw) as SshHostConfig;
}
