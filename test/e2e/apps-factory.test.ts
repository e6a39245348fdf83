import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get } from "../helpers/http.js";
import { buildinst, cleanupApp, example, must, PORT } from "./apps-helpers.js";

// examples/factory: a Flask app factory (create_app()) packaged with flit_core,
// Flask from Debian, a subdomain and a static file; built offline, installed,
// previewed, promoted with the real CLI and services.

const d = example("factory");
let v1: string;

beforeAll(async () => {
  cleanupApp(d);
  await must(d, ["setup"]);
  v1 = await buildinst(d);
});

afterAll(() => cleanupApp(d));

describe("examples/factory (flit, create_app())", () => {
  it("answers at its preview URL with the version it runs", async () => {
    const r = await get(PORT, `${v1}.${d.domain}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain("Hello from the factory app");
    expect(r.body).toContain(`<span id="version">${v1}</span>`);
  });

  it("answers as its subdomain at the subdomain preview", async () => {
    const r = await get(PORT, `${v1}.api.${d.domain}`);
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ app: "factory", role: "api", version: v1 });
  });

  it("serves the package's static file", async () => {
    const r = await get(PORT, `${v1}.${d.domain}`, "/static/hello.txt");
    expect(r.status).toBe(200);
    expect(r.body).toBe("static file of factory_app\n");
  });

  it("was built by flit_core (PEP 517) into a wheel, with Flask from Debian", async () => {
    const r = await d.run([
      "exec", v1, "--", "python", "-c",
      "import importlib.metadata as m, flask; print(m.distribution('factory_app').read_text('WHEEL')); print('flask', flask.__file__)",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Generator: flit/);
    expect(r.stdout).toMatch(/flask \/usr\/lib\/python3\/dist-packages\/flask\//);
  });

  it("exec runs python in the release and passes its exit code", async () => {
    const ok = await d.run(["exec", v1, "--", "python", "-c", "import factory_app; print(factory_app.create_app().name)"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("factory_app");
    const three = await d.run(["exec", v1, "--", "python", "-c", "import sys; sys.exit(3)"]);
    expect(three.code, three.stderr).toBe(3);
  });

  it("promote puts it on the base domain and its subdomain", async () => {
    await must(d, ["promote", v1]);
    const base = await get(PORT, d.domain);
    expect(base.status).toBe(200);
    expect(base.body).toContain(`<span id="version">${v1}</span>`);
    const api = await get(PORT, `api.${d.domain}`);
    expect(JSON.parse(api.body)).toMatchObject({ role: "api", version: v1 });
  });
});
