import { describe, expect, it } from "vitest";
import { DeplError } from "../../src/errors.js";
import type { Host, RunResult } from "../../src/host/host.js";
import { applySite, nginxMessage } from "../../src/nginx/apply.js";
import { HTTP_LEVEL_CONF, httpLevelPath, renderInclude, renderSite, type SiteConfig } from "../../src/nginx/render.js";

// The order of steps and the exact commands, against an in-memory host.
// test/integration/nginx-apply.test.ts runs the same against a real nginx.

const config: SiteConfig = {
  app: "app1",
  domain: "app1.localhost",
  subdomains: [],
  root: "/srv/depl",
  nginx: { listen: 80, conf_dir: "/etc/nginx/conf.d" },
};
const SITE = "/srv/depl/app1/nginx/site.conf";
const INCLUDE = "/etc/nginx/conf.d/depl-app1.conf";
const TMP = "/tmp/depl-nginx-abcd1234";

class FakeHost implements Host {
  readonly name = "fake";
  readonly isLocal = false;
  files = new Map<string, string>([["/etc/nginx/conf.d", "(dir)"]]);
  runs: string[][] = [];
  /** Answers a command; default: success. */
  answer: (argv: readonly string[]) => Partial<RunResult> = () => ({});
  workers = [10, 11];

  async run(argv: readonly string[], opts: { allowFailure?: boolean } = {}): Promise<RunResult> {
    this.runs.push([...argv]);
    if (argv[0] === "mktemp") return { code: 0, stdout: `${TMP}\n`, stderr: "" };
    const r = { code: 0, stdout: "", stderr: "", ...this.answer(argv) };
    if (argv.includes("reload") && r.code === 0) this.workers = [...this.workers, 12];
    if (r.code !== 0 && !opts.allowFailure) throw new Error(`unexpected failure of ${argv.join(" ")}`);
    return r;
  }
  async readFile(path: string): Promise<string | null> {
    if (path === "/run/nginx.pid") return this.files.has("nginx running") ? "7\n" : null;
    if (path === "/proc/7/task/7/children") return `${this.workers.join(" ")} `;
    return this.files.get(path) ?? null;
  }
  async writeFile(path: string, content: string | Buffer): Promise<void> {
    this.files.set(path, content.toString());
  }
  async exists(path: string): Promise<boolean> {
    if (path === "/proc/7") return true;
    return this.files.has(path);
  }
  async remove(path: string): Promise<void> {
    for (const k of [...this.files.keys()]) if (k === path || k.startsWith(`${path}/`)) this.files.delete(k);
  }
  async mkdirp(): Promise<void> {}
  async symlinkAtomic(): Promise<void> {}
  async symlinksAtomic(): Promise<void> {}
  async reconnect(): Promise<void> {}
  async tunnelToHere(): Promise<never> {
    throw new Error("not used by nginx apply");
  }
  async stageSymlinks(): Promise<never> {
    throw new Error("not used by nginx apply");
  }
  async readlink(): Promise<string | null> {
    return null;
  }
  async list(): Promise<string[]> {
    return [];
  }
  async httpGetUnix(): Promise<never> {
    throw new Error("not used");
  }
  async connectUnix(): Promise<never> {
    throw new Error("not used");
  }
  async readlinks(): Promise<Map<string, string>> {
    return new Map();
  }
  async statFiles(): Promise<never[]> {
    return [];
  }
  async appendFile(): Promise<never> {
    throw new Error("not used");
  }
  async createExclusive(): Promise<never> {
    throw new Error("not used");
  }
  async httpGetLoopback(): Promise<never> {
    throw new Error("not used");
  }
  async httpPostUnix(): Promise<never> {
    throw new Error("not used");
  }
  async close(): Promise<void> {}
}

function running(): FakeHost {
  const h = new FakeHost();
  h.files.set("nginx running", "");
  return h;
}

describe("applySite", () => {
  it("tests the site alone, puts it in place, tests everything, reloads", async () => {
    const host = running();
    expect(await applySite(host, config)).toEqual({ changed: true, reloaded: true });
    expect(host.runs).toEqual([
      ["mktemp", "-d", "/tmp/depl-nginx-XXXXXXXX"],
      ["nginx", "-t", "-p", `${TMP}/`, "-c", `${TMP}/nginx.conf`],
      ["nginx", "-t"],
      ["nginx", "-s", "reload"],
    ]);
    expect(host.files.get(SITE)).toBe(renderSite(config));
    expect(host.files.get(INCLUDE)).toBe(renderInclude(config));
    expect([...host.files.keys()].some((k) => k.startsWith(TMP))).toBe(false);
  });

  it("listens on IPv6 too exactly when the host lists an IPv6 address, and writes the shared http-level file", async () => {
    const v4 = running();
    await applySite(v4, config);
    expect(v4.files.get(SITE)).toBe(renderSite(config, { ipv6: false }));
    expect(v4.files.get(SITE)).not.toContain("[::]");
    expect(v4.files.get(httpLevelPath(config))).toBe(HTTP_LEVEL_CONF);
    const v6 = running();
    v6.files.set("/proc/net/if_inet6", "00000000000000000000000000000001 01 80 10 80       lo\n");
    await applySite(v6, config);
    expect(v6.files.get(SITE)).toBe(renderSite(config, { ipv6: true }));
    expect(v6.files.get(SITE)).toContain("listen [::]:80;");
  });

  it("uses systemctl where systemd runs, and the given instance otherwise", async () => {
    const host = running();
    host.files.set("/run/systemd/system", "");
    await applySite(host, config);
    expect(host.runs.at(-1)).toEqual(["systemctl", "reload", "nginx"]);

    const mine = running();
    mine.files.set("/run/systemd/system", "");
    await applySite(mine, config, { instanceArgs: ["-p", "/x/", "-c", "/x/nginx.conf"] });
    expect(mine.runs.slice(2)).toEqual([
      ["nginx", "-p", "/x/", "-c", "/x/nginx.conf", "-t"],
      ["nginx", "-p", "/x/", "-c", "/x/nginx.conf", "-s", "reload"],
    ]);
  });

  it("does nothing when both files already hold the rendered text", async () => {
    const host = running();
    host.files.set(SITE, renderSite(config));
    host.files.set(INCLUDE, renderInclude(config));
    host.files.set(httpLevelPath(config), HTTP_LEVEL_CONF);
    expect(await applySite(host, config)).toEqual({ changed: false, reloaded: false });
    expect(host.runs).toEqual([]);
  });

  it("leaves the files alone when nginx rejects the site by itself", async () => {
    const host = running();
    host.files.set(SITE, "old site");
    host.answer = (argv) => (argv.includes("-p") ? { code: 1, stderr: 'nginx: [emerg] unknown directive "x" in /tmp/s:1\n' } : {});
    await expect(applySite(host, config)).rejects.toThrow(/fake: nginx rejects the new site: \[emerg\] unknown directive "x"/);
    expect(host.files.get(SITE)).toBe("old site");
    expect(host.files.has(INCLUDE)).toBe(false);
    expect(host.runs.some((r) => r.includes("reload"))).toBe(false);
  });

  it("puts the old files back (and removes new ones) when the full test fails", async () => {
    const host = running();
    host.files.set(SITE, "old site");
    host.answer = (argv) => (argv.join(" ") === "nginx -t" ? { code: 1, stderr: "nginx: [emerg] bad thing in /etc/nginx/x.conf:3\nnginx: configuration file /etc/nginx/nginx.conf test failed\n" } : {});
    const err = await applySite(host, config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeplError);
    expect((err as Error).message).toBe(`fake: nginx -t failed with the new site ${SITE}: [emerg] bad thing in /etc/nginx/x.conf:3`);
    expect(host.files.get(SITE)).toBe("old site");
    expect(host.files.has(INCLUDE)).toBe(false);
  });

  it("keeps the tested files but reports no reload when nginx is not running", async () => {
    const host = new FakeHost();
    host.answer = (argv) => (argv.includes("reload") ? { code: 1, stderr: 'nginx: [error] open() "/run/nginx.pid" failed (2: No such file or directory)\n' } : {});
    expect(await applySite(host, config)).toEqual({ changed: true, reloaded: false });
    expect(host.files.get(SITE)).toBe(renderSite(config));
  });

  it("fails, and restores, when the master starts no new worker", async () => {
    const host = running();
    host.files.set(SITE, "old site");
    host.run = async (argv) => (host.runs.push([...argv]), { code: 0, stdout: argv[0] === "mktemp" ? TMP : "", stderr: "" });
    await expect(applySite(host, config, { reloadTimeoutMs: 200 })).rejects.toThrow(/did not load the new config within 200 ms/);
    expect(host.files.get(SITE)).toBe("old site");
  });

  it("refuses a conf_dir that does not exist", async () => {
    const host = running();
    await expect(applySite(host, { ...config, nginx: { listen: 80, conf_dir: "/nope" } })).rejects.toThrow(/\/nope \(nginx\.conf_dir\) does not exist/);
  });
});

describe("nginxMessage", () => {
  it("keeps nginx's complaint and drops the noise", () => {
    const stderr =
      "2026/01/01 10:00:00 [emerg] 12#12: invalid port in \"1:99999\" of the \"listen\" directive in /x/site.conf:5\n" +
      "nginx: configuration file /x/nginx.conf test failed\n";
    expect(nginxMessage(stderr)).toBe('[emerg] 12#12: invalid port in "1:99999" of the "listen" directive in /x/site.conf:5');
    expect(nginxMessage("something odd\n")).toBe("something odd");
  });
});
