import { describe, expect, it } from "vitest";
import { formatBytes, registryRef } from "../../src/images/ship.js";
import { docker } from "../../src/images/docker-argv.js";
import { validateConfig } from "../../src/config/load.js";

const base = { app: "shop", domain: "shop.example.com", run: { wsgi: "shop.app:application" } };

describe("shipping images", () => {
  it("names an image in a registry under depl/", () => {
    expect(registryRef("127.0.0.1:41234", "shop:2026.11.23.05.09")).toBe("127.0.0.1:41234/depl/shop:2026.11.23.05.09");
    expect(registryRef("registry.example.com/team", "shop:v")).toBe("registry.example.com/team/depl/shop:v");
  });

  it("pulls, tags and untags without touching layers", () => {
    expect(docker.pull("r/depl/a:v")).toEqual(["docker", "pull", "r/depl/a:v"]);
    expect(docker.tag("r/depl/a:v", "a:v")).toEqual(["docker", "tag", "r/depl/a:v", "a:v"]);
    expect(docker.untag("r/depl/a:v")).toEqual(["docker", "image", "rm", "--no-prune", "r/depl/a:v"]);
  });

  it("prints sizes people read", () => {
    expect(formatBytes(8636)).toBe("8.6 kB");
    expect(formatBytes(83_782_266)).toBe("83.8 MB");
  });

  it("ships through depl's own registry by default; another registry or save-load when configured", () => {
    expect(validateConfig(base).ship).toEqual({ method: "registry", local_port: 5000 });
    expect(validateConfig({ ...base, ship: { registry: "registry.example.com:5000" } }).ship.registry).toBe("registry.example.com:5000");
    expect(validateConfig({ ...base, ship: { method: "save-load" } }).ship.method).toBe("save-load");
    expect(() => validateConfig({ ...base, ship: { method: "rsync" } })).toThrow(/ship\.method/);
    expect(() => validateConfig({ ...base, ship: { registry: "http://x; rm -rf /" } })).toThrow(/ship\.registry: expected a registry address/);
  });
});
