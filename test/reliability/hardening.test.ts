import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { buildinst, removeApp, sh, testApp, writeAppConfig } from "../helpers/app.js";
import { record } from "./figures.js";

// The web container of a real release, inspected: non-root, no capabilities,
// no-new-privileges, no Docker socket, read-only root (run.read_only), memory
// and pids limits from depl.yml; its secret nowhere but the 0600 env file.

const t = testApp("rhard");
const SECRET = "s3cr3t-rhard-7f1c9a";
let config: string;
let v1: string;
let inspect: {
  Config: { User: string; Env: string[] };
  HostConfig: { CapDrop: string[] | null; CapAdd: string[] | null; SecurityOpt: string[] | null; ReadonlyRootfs: boolean; Memory: number; MemorySwap: number; PidsLimit: number; Privileged: boolean; Tmpfs: Record<string, string> | null };
  Mounts: { Source: string; Destination: string; RW: boolean }[];
};

beforeAll(async () => {
  removeApp(t);
  config = writeAppConfig(t, "depl.yml", `secrets: { API_TOKEN: "${SECRET}" }\n`);
  // run: is a flow map in the helper's YAML: rewrite it with the limits.
  sh(`sed -i 's/^run: { wsgi: "testapp.app:application", workers: 2, threads: 8 }$/run: { wsgi: "testapp.app:application", workers: 2, threads: 8, read_only: true, memory: 256MB, pids: 128 }/' ${config}`);
  expect(sh(`cat ${config}`)).toContain("read_only: true");
  expectExit(await depl(["-c", config, "setup"]));
  v1 = await buildinst(config);
  expectExit(await depl(["-c", config, "promote", v1]));
  inspect = JSON.parse(sh(`docker inspect depl-${t.app}-${v1}`))[0];
});

afterAll(() => removeApp(t));

describe("the web container", () => {
  it("serves with a read-only root file system", async () => {
    const r = await get(t.port, t.domain, "/health");
    expect(r.status).toBe(200);
    expect(r.headers["x-depl-version"]).toBe(v1);
    expect(sh(`docker exec depl-${t.app}-${v1} sh -c 'touch /app/x 2>&1; echo rc=$?'`)).toMatch(/Read-only file system\s+rc=1/);
    sh(`docker exec depl-${t.app}-${v1} sh -c 'touch /tmp/x && rm /tmp/x'`); // /tmp is a tmpfs
  });

  it("runs as non-root with every capability dropped, no-new-privileges, limits, no Docker socket", () => {
    const h = inspect.HostConfig;
    expect(inspect.Config.User).toMatch(/^10001:\d+$/);
    expect(sh(`docker exec depl-${t.app}-${v1} id -u`).trim()).toBe("10001");
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.CapAdd ?? []).toEqual([]);
    expect(h.Privileged).toBe(false);
    expect(h.SecurityOpt).toContain("no-new-privileges");
    expect(h.ReadonlyRootfs).toBe(true);
    expect(Object.keys(h.Tmpfs ?? {})).toEqual(["/tmp"]);
    expect(h.Memory).toBe(256 * 1024 * 1024);
    expect(h.MemorySwap).toBe(256 * 1024 * 1024);
    expect(h.PidsLimit).toBe(128);
    expect(inspect.Mounts.map((m) => m.Source).join(" ")).not.toMatch(/docker\.sock/);
    expect(inspect.Mounts.map((m) => m.Destination)).toEqual(["/run/app"]);
    // Processes inside: none holds a capability (CapEff 0).
    const caps = sh(`docker exec depl-${t.app}-${v1} sh -c 'grep CapEff /proc/*/status'`);
    expect(caps.split("\n").filter(Boolean).every((l) => /CapEff:\s+0+$/.test(l))).toBe(true);
    record({ group: "hardening", case: "web container (docker inspect)", outcome: `user ${inspect.Config.User}, CapDrop ALL, no-new-privileges, read-only root, memory 256MB, pids 128, no docker.sock` });
  });

  it("keeps the secret out of layers, logs, process lists and --json output", async () => {
    const env = `${t.root}/${t.app}/releases/${v1}/env`;
    expect(sh(`stat -c '%a %U' ${env}`).trim()).toBe("600 root");
    expect(sh(`cat ${env}`)).toContain(`API_TOKEN=${SECRET}`);
    const seen = (what: string, text: string) => expect(text.includes(SECRET), `${what} holds the secret`).toBe(false);
    seen("image history", sh(`docker history --no-trunc ${t.app}:${v1}`));
    seen("image config", sh(`docker image inspect ${t.app}:${v1}`));
    seen("process list", sh("ps -eo args"));
    seen("logs", sh(`cat ${t.root}/${t.app}/log/* ${t.root}/${t.app}/audit.log 2>/dev/null || true`));
    seen("supervisord files", sh(`cat ${t.root}/${t.app}/supervisor/*.conf ${t.root}/${t.app}/releases/${v1}/run-web.sh`));
    for (const cmd of [["list", "--json"], ["history", "--json"], ["stats", "--json"]]) {
      const r = await depl(["-c", config, ...cmd]);
      expect(r.code, r.stderr).toBe(0);
      seen(`depl ${cmd.join(" ")}`, r.stdout + r.stderr);
    }
    const v = await depl(["-c", config, "-v", "install", v1]);
    seen("depl -v install", v.stdout + v.stderr);
    // Root on the host can read a container's environment (Docker's own limit, documented).
    expect(inspect.Config.Env).toContain(`API_TOKEN=${SECRET}`);
  });
});
