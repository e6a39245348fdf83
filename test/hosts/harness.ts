import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Three app servers and a jump host, each a container with its own sshd (and,
// once `depl setup` has run, its own dockerd, nginx and supervisord): real
// machines to depl, reached over real SSH. The recipe is DESIGN.md's
// "Containers as test hosts". Only 127.0.0.1 ports are published; web3's sshd
// is not published at all: it is reached through the jump host, by its name
// on the suite's docker network.

export const TESTHOST_IMAGE = "depl-testhost:bookworm";
const NETWORK = "depl-testnet";

export interface TestHost {
  name: string;
  container: string;
  /** nginx's port 80, published on 127.0.0.1. */
  httpPort: number;
  /** The entry for depl.yml's hosts. */
  config: Record<string, unknown>;
}

export interface TestFleet {
  hosts: TestHost[];
  jump: { container: string; sshPort: number };
  key: string;
  knownHosts: string;
  dir: string;
  /** hosts: as a YAML flow list for depl.yml. */
  hostsYaml(names?: string[]): string;
  stop(): void;
}

function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 }).trim();
}

function dockerOk(...args: string[]): boolean {
  try {
    docker(...args);
    return true;
  } catch {
    return false;
  }
}

/** Builds the test host image unless it exists (layer cache makes a rebuild cheap). */
export function buildTestHostImage(): void {
  if (dockerOk("image", "inspect", TESTHOST_IMAGE)) return;
  execFileSync("docker", ["build", "-q", "-t", TESTHOST_IMAGE, join(import.meta.dirname, "testhost")], { stdio: ["ignore", "ignore", "inherit"] });
}

async function waitForBanner(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const banner = await new Promise<string>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.setTimeout(2000, () => s.destroy());
      s.once("data", (d) => (resolve(d.toString()), s.destroy()));
      s.once("error", () => resolve(""));
      s.once("close", () => resolve(""));
    });
    if (banner.startsWith("SSH-")) return;
    if (Date.now() > deadline) throw new Error(`no sshd banner on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function removeContainer(name: string): void {
  dockerOk("rm", "-f", "-v", name);
}

/**
 * Starts web1..web<count> and a jump host, fresh (containers and their
 * /var/lib/docker volumes from an earlier run are removed first). Ports are
 * basePort+i for sshd and basePort+100+i for nginx.
 */
export async function startTestFleet(o: { prefix: string; count?: number; basePort: number }): Promise<TestFleet> {
  const count = o.count ?? 3;
  buildTestHostImage();
  const dir = mkdtempSync(join(tmpdir(), `${o.prefix}-`));
  const key = join(dir, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "depl-hosts-suite", "-f", key]);
  const pub = execFileSync("cat", [`${key}.pub`], { encoding: "utf8" }).trim();
  if (!dockerOk("network", "inspect", NETWORK)) docker("network", "create", NETWORK);

  const names = [...Array.from({ length: count }, (_, i) => `web${i + 1}`), "jump"];
  const container = (n: string) => `${o.prefix}-${n}`;
  for (const n of names) {
    removeContainer(container(n));
    dockerOk("volume", "rm", `${container(n)}-docker`);
  }
  const behindJump = `web${count}`;
  const started: string[] = [];
  const stop = () => {
    for (const c of started) {
      removeContainer(c);
      dockerOk("volume", "rm", `${c}-docker`);
    }
  };
  try {
    names.forEach((n, i) => {
      const publishSsh = n !== behindJump;
      const args = [
        "run", "-d", "--init", "--name", container(n), "--hostname", n, "--network", NETWORK, "--network-alias", container(n),
        "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", `${container(n)}-docker:/var/lib/docker`,
        "-e", `AUTHORIZED_KEY=${pub}`,
        ...(publishSsh ? ["-p", `127.0.0.1:${o.basePort + i}:22`] : []),
        ...(n === "jump" ? [] : ["-p", `127.0.0.1:${o.basePort + 100 + i}:80`]),
        TESTHOST_IMAGE,
      ];
      docker(...args);
      started.push(container(n));
    });
    const hostKey = (n: string) => {
      for (let i = 0; i < 50; i++) {
        try {
          return docker("exec", container(n), "cat", "/etc/ssh/ssh_host_ed25519_key.pub").split(/\s+/).slice(0, 2).join(" ");
        } catch {
          execFileSync("sleep", ["0.2"]);
        }
      }
      throw new Error(`${container(n)}: no host key`);
    };
    const lines: string[] = [];
    names.forEach((n, i) => {
      lines.push(n === behindJump ? `${container(n)} ${hostKey(n)}` : `[127.0.0.1]:${o.basePort + i} ${hostKey(n)}`);
    });
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, lines.join("\n") + "\n");
    const jumpIndex = names.indexOf("jump");
    await Promise.all(names.filter((n) => n !== behindJump).map((n) => waitForBanner(o.basePort + names.indexOf(n))));

    const hosts: TestHost[] = names
      .filter((n) => n !== "jump")
      .map((n, i) => ({
        name: n,
        container: container(n),
        httpPort: o.basePort + 100 + i,
        config:
          n === behindJump
            ? { name: n, address: container(n), port: 22, key, known_hosts: knownHosts, jump: { address: "127.0.0.1", port: o.basePort + jumpIndex } }
            : { name: n, address: "127.0.0.1", port: o.basePort + i, key, known_hosts: knownHosts },
      }));
    return {
      hosts,
      jump: { container: container("jump"), sshPort: o.basePort + jumpIndex },
      key,
      knownHosts,
      dir,
      hostsYaml: (only?: string[]) => `[${hosts.filter((h) => !only || only.includes(h.name)).map((h) => JSON.stringify(h.config)).join(", ")}]`,
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}

/** Runs a command inside a test host (as its root would on the console). */
export function onTestHost(h: TestHost, ...argv: string[]): string {
  return docker("exec", h.container, ...argv);
}
