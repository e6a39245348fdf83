import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { validateConfig } from "../../src/config/load.js";

const minimal = { app: "app1", domain: "app1.localhost", run: { wsgi: "testapp.app:application" } };
const err = (raw: unknown) => {
  try {
    validateConfig(raw);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("validateConfig", () => {
  it("accepts the repo's depl.yml and fills defaults", () => {
    const c = validateConfig(parse(readFileSync("depl.yml", "utf8")));
    expect(c.app).toBe("app1");
    expect(c.hosts).toEqual(["local"]);
    expect(c.health.timeout).toBe(60_000);
    expect(c.run.backlog).toBe(2048);
  });

  it("applies defaults to a minimal config", () => {
    const c = validateConfig(minimal);
    expect(c.root).toBe("/srv/depl");
    expect(c.nginx.listen).toBe(80);
    expect(c.build.base_image).toBe("depl-base:bookworm");
    expect(c.subdomains).toEqual([]);
  });

  it("takes a release phase as a list of words, with release_timeout (10m by default, at least 1s)", () => {
    expect(validateConfig(minimal).release).toBeUndefined();
    expect(validateConfig(minimal).release_timeout).toBe(600_000);
    const c = validateConfig({ ...minimal, release: ["python", "manage.py", "migrate", "--noinput"], release_timeout: "90s" });
    expect(c.release).toEqual(["python", "manage.py", "migrate", "--noinput"]);
    expect(c.release_timeout).toBe(90_000);
    expect(err({ ...minimal, release: "python manage.py migrate" })).toMatch(/^depl.yml: release: /);
    expect(err({ ...minimal, release: [] })).toMatch(/^depl.yml: release: expected a command as a list of words/);
    expect(err({ ...minimal, release: ["migrate\nrm -rf /"] })).toMatch(/^depl.yml: release\.0: must not contain a newline/);
    expect(err({ ...minimal, release_timeout: "500ms" })).toMatch(/^depl.yml: release_timeout: must be at least 1s/);
  });

  it("parses drain_timeout like other durations: 30s by default, 0 allowed, at most 24h", () => {
    expect(validateConfig(minimal).drain_timeout).toBe(30_000);
    expect(validateConfig({ ...minimal, drain_timeout: "2m" }).drain_timeout).toBe(120_000);
    expect(validateConfig({ ...minimal, drain_timeout: "0s" }).drain_timeout).toBe(0);
    expect(err({ ...minimal, drain_timeout: "forever" })).toMatch(/^depl.yml: drain_timeout: expected a duration/);
    expect(err({ ...minimal, drain_timeout: "25h" })).toBe("depl.yml: drain_timeout: must be at most 24h");
  });

  it("rejects unknown keys with their path", () => {
    expect(err({ ...minimal, colour: "red" })).toBe("depl.yml: unknown key colour");
    expect(err({ ...minimal, nginx: { listen: 80, lisen: 81 } })).toBe("depl.yml: unknown key nginx.lisen");
  });

  it("names a missing key", () => {
    expect(err({ domain: "a.b", run: minimal.run })).toBe("depl.yml: app: is required");
  });

  it.each([
    ["app1 .localhost", "domain"],
    ["app1.localhost;", "domain"],
    ["{app1}.localhost", "domain"],
    ["App1.localhost", "domain"],
    ["localhost", "domain"],
  ])("rejects the domain %j", (domain, key) => {
    expect(err({ ...minimal, domain })).toMatch(new RegExp(`^depl.yml: ${key}: expected a lower-case domain`));
  });

  it("rejects bad values naming the path", () => {
    expect(err({ ...minimal, subdomains: ["ok", "no pe"] })).toMatch(/^depl.yml: subdomains.1: expected a DNS label/);
    expect(err({ ...minimal, root: "/srv/../etc" })).toMatch(/^depl.yml: root: expected an absolute path/);
    expect(err({ ...minimal, root: "/srv/de pl" })).toMatch(/^depl.yml: root: /);
    expect(err({ ...minimal, nginx: { listen: 70000 } })).toMatch(/^depl.yml: nginx.listen: /);
    expect(err({ ...minimal, health: { timeout: "soon" } })).toMatch(/^depl.yml: health.timeout: expected a duration/);
    expect(err({ ...minimal, build: { packages: { build: ["gcc; rm -rf /"] } } })).toMatch(
      /^depl.yml: build.packages.build.0: expected a Debian package name/,
    );
    expect(err({ ...minimal, run: { wsgi: "app" } })).toMatch(/^depl.yml: run.wsgi: expected module.path:callable/);
    expect(err({ ...minimal, env: { "BAD-NAME": "x" } })).toMatch(/^depl.yml: env.BAD-NAME: /);
  });

  it("validates ssh hosts and reports the deepest error", () => {
    const c = validateConfig({ ...minimal, hosts: [{ address: "10.0.0.5", user: "deploy" }] });
    expect(c.hosts[0]).toMatchObject({ address: "10.0.0.5", user: "deploy", port: 22 });
    expect(err({ ...minimal, hosts: [{ address: "10.0.0.5", port: "22x" }] })).toMatch(/^depl.yml: hosts.0.port: /);
    expect(err({ ...minimal, hosts: [{ address: "a b" }] })).toMatch(/^depl.yml: hosts.0.address: expected a host name/);
  });
});

describe("values that reach env files and argv", () => {
  const minimal = { app: "app1", domain: "app1.localhost", run: { wsgi: "m:app" } };
  it("refuses a newline or NUL in env and secret values and in command words, naming the key", async () => {
    const { validateConfig } = await import("../../src/config/load.js");
    expect(() => validateConfig({ ...minimal, env: { A: "x\ny" } })).toThrow(/env\.A: must not contain a newline or NUL/);
    expect(() => validateConfig({ ...minimal, secrets: { S: "x\r" } })).toThrow(/secrets\.S: must not contain a newline or NUL/);
    expect(() => validateConfig({ ...minimal, hooks: { post_install: ["python", "a\0b"] } })).toThrow(/hooks\.post_install\.1: must not contain/);
    expect(validateConfig({ ...minimal, env: { A: "x=y; `id` $(id)" } }).env.A).toBe("x=y; `id` $(id)");
  });
});
