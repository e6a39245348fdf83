import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { NodeSSH, type Config as SshConfig } from "node-ssh";
import type { ServerHostKeyAlgorithm } from "ssh2";
import type { SshHostConfig } from "../config/schema.js";
import { DeplError } from "../errors.js";
import { checkHostKey, hostKeyAlgorithms, knownHostsName, parseKnownHosts, type KnownHost } from "./known-hosts.js";
import { SSH_CLOSE_MS, SSH_KEEPALIVE_MS, SSH_READY_MS } from "../timeouts.js";

type Endpoint = { address: string; user: string; port: number; key?: string | undefined };
type KnownHosts = { file: string; entries: KnownHost[] };

export function sshLabel(e: Endpoint): string {
  return `${e.user}@${e.address}:${e.port}`;
}

/**
 * Connects to hc, through each of hc.jump in turn when set (ssh -J a,b): every
 * hop's connection carries the next one. Every host key is checked against
 * hc.known_hosts (default ~/.ssh/known_hosts); there is no way to skip it.
 * `jumps` are the hops' connections, to be ended after ssh.
 */
export async function openSsh(hc: SshHostConfig): Promise<{ ssh: NodeSSH; jumps: NodeSSH[] }> {
  const name = sshLabel(hc);
  const file = expandHome(hc.known_hosts ?? "~/.ssh/known_hosts");
  const text = await readFile(file, "utf8").catch((err: Error) => {
    throw new DeplError(`${name}: cannot read known_hosts file ${file}: ${err.message}`);
  });
  const known = { file, entries: parseKnownHosts(text) };
  const jumps: NodeSSH[] = [];
  try {
    const hops: Endpoint[] = [...hc.jump.map((j) => ({ ...j, key: j.key ?? hc.key })), hc];
    let sock: SshConfig["sock"];
    for (let i = 0; i < hops.length; i++) {
      const conn = await open(hops[i]!, known, sock);
      if (i === hops.length - 1) return { ssh: conn, jumps };
      jumps.push(conn);
      const next = hops[i + 1]!;
      sock = await conn.forwardOut("127.0.0.1", 0, next.address, next.port).catch((err: Error) => {
        throw new DeplError(`${name}: jump host ${sshLabel(hops[i]!)} cannot reach ${next.address}:${next.port}: ${err.message}`);
      });
    }
    throw new Error("unreachable");
  } catch (err) {
    for (const j of jumps.reverse()) await endSsh(j);
    throw err;
  }
}

async function open(e: Endpoint, known: KnownHosts, sock?: SshConfig["sock"]): Promise<NodeSSH> {
  const name = knownHostsName(e.address, e.port);
  const algorithms = hostKeyAlgorithms(known.entries, name);
  if (algorithms.length === 0) {
    throw new DeplError(
      `${sshLabel(e)}: no host key for ${name} in ${known.file}; check the server's fingerprint, then add it (ssh-keyscan -p ${e.port} ${e.address})`,
    );
  }
  const auth = await credentials(e);
  let refused: string | undefined;
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: e.address,
      port: e.port,
      username: e.user,
      sock,
      ...auth,
      readyTimeout: SSH_READY_MS,
      keepaliveInterval: SSH_KEEPALIVE_MS,
      algorithms: { serverHostKey: algorithms as ServerHostKeyAlgorithm[] },
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(known.entries, name, key);
        if (!verdict.ok) refused = verdict.reason;
        return verdict.ok;
      },
    });
    return ssh;
  } catch (err) {
    ssh.dispose();
    if (refused) throw new DeplError(`${sshLabel(e)}: host key check against ${known.file} failed: ${refused}`);
    throw new DeplError(`${sshLabel(e)}: cannot connect: ${(err as Error).message}`);
  }
}

/** The configured key, else the agent, else the first default identity file (as ssh does). */
async function credentials(e: Endpoint): Promise<Pick<SshConfig, "privateKey" | "agent">> {
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  if (e.key) {
    const file = expandHome(e.key);
    const privateKey = await readFile(file, "utf8").catch((err: Error) => {
      throw new DeplError(`${sshLabel(e)}: cannot read ssh key ${file}: ${err.message}`);
    });
    return { privateKey, agent };
  }
  if (agent) return { agent };
  for (const f of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
    const privateKey = await readFile(join(homedir(), ".ssh", f), "utf8").catch(() => undefined);
    if (privateKey) return { privateKey };
  }
  return {};
}

export function endSsh(ssh: NodeSSH): Promise<void> {
  const conn = ssh.connection;
  if (!conn) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, SSH_CLOSE_MS).unref();
    conn.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    conn.end();
  });
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}
