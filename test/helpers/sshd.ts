import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { hostSchema, type SshHostConfig } from "../../src/config/schema.js";

/** A private sshd on 127.0.0.1 (own host key, known_hosts and client key in a temp dir): this machine as an SSH host. */
export interface Sshd {
  hc: SshHostConfig;
  stop(): Promise<void>;
}

export async function startSshd(name: string): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), "depl-sshd-"));
  mkdirSync("/run/sshd", { recursive: true });
  const keygen = async (type: string, file: string) => {
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "depl-test", "-f", file]);
    return (await readFile(`${file}.pub`, "utf8")).split(" ").slice(0, 2).join(" ");
  };
  const hostKey = await keygen("ed25519", join(dir, "host_ed25519"));
  await writeFile(join(dir, "authorized_keys"), `${await keygen("ed25519", join(dir, "id_ed25519"))}\n`);
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  await writeFile(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_ed25519")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "AllowTcpForwarding yes",
      "",
    ].join("\n"),
  );
  let log = "";
  const sshd: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  sshd.stderr!.on("data", (b: Buffer) => (log += b.toString()));
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("data", (b) => (resolve(b.toString().startsWith("SSH-2.0")), s.destroy()));
      s.once("error", () => resolve(false));
    });
    if (ok) break;
    if (i > 100) throw new Error(`sshd did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await writeFile(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostKey}\n`);
  const hc = hostSchema.parse({ name, address: "127.0.0.1", port, user: userInfo().username, key: join(dir, "id_ed25519"), known_hosts: join(dir, "known_hosts") }) as SshHostConfig;
  return {
    hc,
    stop: async () => {
      sshd.kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
