import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { parseSecretsFile, Secret } from "../../src/config/secret.js";
import { validateConfig } from "../../src/config/load.js";
import { parseHostArg } from "../../src/commands/setup.js";

const minimal = { app: "app1", domain: "app1.localhost", run: { wsgi: "testapp.app:application" } };

describe("secrets", () => {
  it("print as [REDACTED] in every form", () => {
    const s = new Secret("hunter2");
    expect(String(s)).toBe("[REDACTED]");
    expect(`${s}`).toBe("[REDACTED]");
    expect(JSON.stringify({ s })).toBe('{"s":"[REDACTED]"}');
    expect(inspect({ s })).not.toContain("hunter2");
    expect(s.reveal()).toBe("hunter2");
  });

  it("parses a secrets file", () => {
    const r = parseSecretsFile("# db\nDB_PASSWORD=a=b c\n\nAPI_KEY=\n", "s.env");
    expect(r.DB_PASSWORD!.reveal()).toBe("a=b c");
    expect(r.API_KEY!.reveal()).toBe("");
    expect(() => parseSecretsFile("oops\n", "s.env")).toThrow("s.env:1: expected KEY=value");
  });

  it("are wrapped by the config schema and never shadow env or DEPL_ variables", () => {
    const c = validateConfig({ ...minimal, secrets: { TOKEN: "t0k" } });
    expect(c.secrets.TOKEN).toBeInstanceOf(Secret);
    expect(JSON.stringify(c)).not.toContain("t0k");
    expect(() => validateConfig({ ...minimal, env: { A: "1" }, secrets: { A: "2" } })).toThrow("depl.yml: secrets.A: is also set in env");
    expect(() => validateConfig({ ...minimal, env: { DEPL_VERSION: "x" } })).toThrow("depl.yml: env.DEPL_VERSION: DEPL_ variables are set by depl");
  });
});

describe("processes, shared, hooks config", () => {
  it("accepts workers, shared dirs and hooks as word lists", () => {
    const c = validateConfig({
      ...minimal,
      processes: { worker: ["python", "-m", "app.worker"] },
      shared: { data: "/app/data" },
      hooks: { post_install: ["python", "-m", "app.migrate"] },
    });
    expect(c.processes.worker).toEqual({ command: ["python", "-m", "app.worker"], every_release: false });
    expect(c.hooks.post_install).toEqual(["python", "-m", "app.migrate"]);
  });

  it("names what is wrong", () => {
    expect(() => validateConfig({ ...minimal, processes: { web: ["x"] } })).toThrow(/processes.web: web is the WSGI process/);
    expect(() => validateConfig({ ...minimal, processes: { worker: "python -m x" } })).toThrow(/processes.worker: /);
    expect(() => validateConfig({ ...minimal, shared: { data: "relative/path" } })).toThrow(/shared.data: expected an absolute path/);
    expect(() => validateConfig({ ...minimal, hooks: { post_deploy: ["x"] } })).toThrow("depl.yml: unknown key hooks.post_deploy");
  });
});

describe("--host", () => {
  it("parses user@address[:port]", () => {
    expect(parseHostArg("deploy@10.0.0.5:2222")).toEqual({ address: "10.0.0.5", user: "deploy", port: 2222 });
    expect(parseHostArg("app1.example.com")).toEqual({ address: "app1.example.com", user: "root", port: 22 });
    expect(parseHostArg("local")).toBe("local");
    expect(() => parseHostArg("a@b@c")).toThrow(/invalid --host/);
  });
});
