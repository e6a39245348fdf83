import { connect } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depl } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { removeApp, sh, testApp, writeAppConfig, deployLive } from "../helpers/app.js";
import { record } from "./figures.js";

// Hostile input: every kind of value a user or a visitor controls. Each is
// refused with one clear line (exit 2) or handled safely, and what runs is unharmed.

const t = testApp("hostile");
let config: string;
let v1: string;
const LONG = "a".repeat(300);

/** One raw HTTP/1.1 request to nginx (undici refuses to send malformed headers; attackers do not). */
function raw(host: string, extraHeaders = ""): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(t.port, "127.0.0.1");
    let text = "";
    s.setTimeout(10_000, () => s.destroy(new Error("timeout")));
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("error", reject);
    s.on("close", () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text }));
    s.write(`GET /health HTTP/1.1\r\nHost: ${host}\r\n${extraHeaders}Connection: close\r\n\r\n`, "latin1");
  });
}

beforeAll(async () => {
  ({ config, version: v1 } = await deployLive(t));
});

afterAll(() => removeApp(t));

const usage = async (args: string[], what: RegExp) => {
  const r = await depl(["-c", config, ...args]);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
  const lines = r.stderr.trim().split("\n");
  expect(lines, args.join(" ")).toHaveLength(1);
  expect(lines[0]).toMatch(what);
};

describe("hostile command-line input", () => {
  const versions = ["../x", "2026.01.01.00.00;rm -rf /", "a\nb", "%2e%2e", LONG, "`id`", "$(id)", "x}", "", "foo"];
  it("refuses bad version names in every command that takes one", async () => {
    let tried = 0;
    for (const v of versions) {
      for (const cmd of [["promote", v], ["rollback", v], ["canary", v, "5%"], ["remove", v], ["install", v]]) {
        await usage(cmd, v === "foo" ? /subdomains/ : /invalid version/);
        tried++;
      }
    }
    record({ group: "hostile input", case: "version names x commands", outcome: `${tried} refused, exit 2` });
  });

  it("refuses bad branch names and percentages", async () => {
    // What git itself refuses; names git allows ("a;b", "$(id)") become plain labels (unit-tested).
    const branches = ["../../etc", "x\ny", LONG, "-rf", "a..b", "x:y", "feature/.hidden", "a b"];
    for (const b of branches) await usage(["buildinst", "--branch", b], /invalid branch|option/);
    const percents = ["0%", "100%", "-1%", "5.5%", "abc", "5%%", "1e1%", "05%", "50"];
    for (const p of percents) await usage(["canary", v1, p], /invalid (percentage|canary share)/);
    record({ group: "hostile input", case: "branches and percentages", outcome: `${branches.length + percents.length} refused, exit 2` });
  });

  it("refuses hostile config values before touching a host", async () => {
    const cases: [string, RegExp][] = [
      ["app: ../x", /app: expected/],
      ['domain: "a.localhost; }"', /domain: expected/],
      ['domain: "x.localhost\\nserver {"', /domain: expected/],
      ['env: { A: "one\\ntwo" }', /env\.A: must not contain a newline/],
      ['env: { "A B": "x" }', /env\.A B: expected an environment variable name/],
      ['hooks: { post_install: ["python", "a\\u0000b"] }', /hooks\.post_install\.1: must not contain/],
      ["root: /srv/../etc", /root: expected an absolute path/],
      ['subdomains: ["a.b"]', /subdomains\.0: expected a DNS label/],
      ["nginx: { listen: 99999 }", /nginx\.listen/],
    ];
    const before = sh(`ls ${t.root}/${t.app}/releases; cat /etc/nginx/conf.d/depl-${t.app}.conf`);
    for (const [yaml, what] of cases) {
      // The hostile line replaces the key it redefines.
      const key = yaml.split(":")[0]!;
      const path = writeAppConfig(t, "hostile.yml");
      writeFileSync(path, readFileSync(path, "utf8").replace(new RegExp(`^${key}:.*$`, "m"), "") + yaml + "\n");
      const r = await depl(["-c", path, "setup"]);
      expect(r.code, yaml).toBe(2);
      expect(r.stderr.trim().split("\n"), yaml).toHaveLength(1);
      expect(r.stderr).toMatch(what);
    }
    expect(sh(`ls ${t.root}/${t.app}/releases; cat /etc/nginx/conf.d/depl-${t.app}.conf`)).toBe(before);
    record({ group: "hostile input", case: "config values", outcome: `${cases.length} refused before any host was touched` });
  });
});

describe("hostile requests", () => {
  it("answers Host headers and cookies an attacker sends with 200 from live, 400 or 404, never another version or a 5xx", async () => {
    const hosts = [
      `../x.${t.domain}`, `%2e%2e.${t.domain}`, `..${t.domain}`, `a\0b.${t.domain}`, `${"a".repeat(64)}.${t.domain}`,
      `${LONG}.${t.domain}`, `x;y.${t.domain}`, `$(id).${t.domain}`, "`id`." + t.domain, `}.${t.domain}`,
      `${v1}/../x.${t.domain}`, `${v1}.${v1}.${t.domain}`, `${t.domain}:80:80`, `${t.domain}\tx`,
    ];
    const cookies = [
      "depl_version=../../etc", "depl_version=%2e%2e", `depl_version=${v1};`, "depl_version=2026.01.01.00.00",
      "depl_bucket=../../x", "depl_bucket=99}", `depl_bucket=${LONG}`, "depl_bucket=0\0", "depl_version=`id`", "depl_version=$(id)",
    ];
    let tried = 0;
    for (const h of hosts) {
      const r = await raw(h);
      expect([200, 400, 404], JSON.stringify(h)).toContain(r.status);
      if (r.status === 200) expect(r.text, h).toMatch(new RegExp(`X-Depl-Version: ${v1.replace(/\./g, "\\.")}`, "i"));
      tried++;
    }
    for (const c of cookies) {
      const r = await raw(t.domain, `Cookie: ${c}\r\n`);
      expect([200, 400, 404], JSON.stringify(c)).toContain(r.status);
      if (r.status === 200) expect(r.text, c).toMatch(new RegExp(`X-Depl-Version: ${v1.replace(/\./g, "\\.")}`, "i"));
      tried++;
    }
    // nginx still serves live, and nothing was created outside the layout.
    expect((await get(t.port, t.domain, "/health")).headers["x-depl-version"]).toBe(v1);
    expect(sh("ls /srv /tmp | grep -c '^x$' || true").trim()).toBe("0");
    record({ group: "hostile input", case: "Host headers and cookies", outcome: `${tried} requests: 200 from live, 400 or 404` });
  });
});
