import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deepMerge, destinationDocument, loadConfig, validateConfig } from "../../src/config/load.js";
import { hostName, hostRoles } from "../../src/config/schema.js";
import { selectHosts } from "../../src/commands/context.js";
import { fanOut, prefixFor, summaryLines } from "../../src/host/fanout.js";
import { prefixedLines } from "../../src/commands/logs.js";

const base = { app: "shop", domain: "shop.example.com", run: { wsgi: "shop.app:application" } };

describe("hosts in depl.yml", () => {
  it("names a host by its name, else its address (with a port off 22)", () => {
    const c = validateConfig({ ...base, hosts: [{ address: "10.0.0.5" }, { address: "10.0.0.5", port: 2222 }, { name: "web3", address: "h3" }, "local"] });
    expect(c.hosts.map(hostName)).toEqual(["10.0.0.5", "10.0.0.5:2222", "web3", "local"]);
  });

  it("refuses two hosts with one name", () => {
    expect(() => validateConfig({ ...base, hosts: [{ name: "web", address: "a" }, { name: "web", address: "b" }] })).toThrow(
      /hosts\.1: a second host named "web": give each host its own name/,
    );
  });

  it("takes one jump host or a list of hops, always as a list", () => {
    const c = validateConfig({ ...base, hosts: [{ address: "a", jump: { address: "bastion" } }, { address: "b", jump: [{ address: "j1" }, { address: "j2", port: 2200 }] }, { address: "c" }] });
    const jumps = c.hosts.map((h) => (h === "local" ? [] : h.jump.map((j) => `${j.address}:${j.port}`)));
    expect(jumps).toEqual([["bastion:22"], ["j1:22", "j2:2200"], []]);
  });

  it("gives hosts both roles by default and refuses a fleet without a web host", () => {
    const c = validateConfig({ ...base, hosts: [{ address: "a" }, { address: "b", roles: ["worker"] }] });
    expect(c.hosts.map(hostRoles)).toEqual([["web", "worker"], ["worker"]]);
    expect(() => validateConfig({ ...base, hosts: [{ address: "b", roles: ["worker"] }] })).toThrow(/no host has the web role/);
    expect(() => validateConfig({ ...base, hosts: [{ address: "b", roles: ["db"] }] })).toThrow(/hosts\.0\.roles\.0/);
  });

  it("--host narrows to named hosts, in the config's order, and names the unknown one", () => {
    const c = validateConfig({ ...base, hosts: [{ name: "web1", address: "a" }, { name: "web2", address: "b" }, { name: "web3", address: "c" }] });
    expect(selectHosts(c.hosts, "web3,web1").map(hostName)).toEqual(["web1", "web3"]);
    expect(selectHosts(c.hosts, undefined)).toHaveLength(3);
    expect(() => selectHosts(c.hosts, "web1,web9")).toThrow('unknown host "web9" in --host: the config\'s hosts are web1, web2, web3');
    expect(() => selectHosts(c.hosts, ",")).toThrow(/expected one or more host names/);
  });
});

describe("destinations", () => {
  const doc = {
    ...base,
    env: { MODE: "prod", SHARED: "1" },
    hosts: [{ name: "p1", address: "10.0.0.1" }],
    destinations: {
      staging: { domain: "staging.shop.example.com", env: { MODE: "staging" }, hosts: [{ name: "s1", address: "10.0.1.1" }] },
      production: {},
    },
  };

  it("merges a destination's overrides over the top level, maps key by key and lists replaced", () => {
    const d = destinationDocument(doc, "staging");
    expect(d.app).toBe("shop-staging");
    expect(d.domain).toBe("staging.shop.example.com");
    expect(d.env).toEqual({ MODE: "staging", SHARED: "1" });
    expect(d.hosts).toEqual([{ name: "s1", address: "10.0.1.1" }]);
    expect(d).not.toHaveProperty("destinations");
    expect(destinationDocument(doc, "production").app).toBe("shop-production");
    expect(deepMerge({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });

  it("requires -d when destinations exist, and names the known ones", () => {
    expect(() => destinationDocument(doc, null)).toThrow("depl.yml defines destinations (staging, production): choose one with -d/--destination");
    expect(() => destinationDocument(doc, "prod")).toThrow('unknown destination "prod": depl.yml defines staging, production');
    expect(() => destinationDocument(doc, "../x")).toThrow(/invalid destination/);
    expect(() => destinationDocument({ ...doc, destinations: { staging: { app: "other" } } }, "staging")).toThrow("destinations.staging.app: cannot be set per destination");
  });

  it("validates every destination while loading one", () => {
    const dir = mkdtempSync(join(tmpdir(), "depl-dest-"));
    const file = join(dir, "depl.yml");
    writeFileSync(file, JSON.stringify({ ...doc, destinations: { ...doc.destinations, staging: { parallel: 0 } } }));
    expect(() => loadConfig(file, {}, "production")).toThrow(/destination staging\): parallel/);
    writeFileSync(file, JSON.stringify(doc));
    const l = loadConfig(file, {}, "staging");
    expect([l.config.app, l.destination, l.config.hosts.map(hostName)]).toEqual(["shop-staging", "staging", ["s1"]]);
  });
});

describe("fan-out over hosts", () => {
  it("runs at most `limit` at once and keeps every host's outcome", async () => {
    let running = 0;
    let most = 0;
    const hosts = ["a", "b", "c", "d", "e"].map((name) => ({ name }));
    const out = await fanOut(
      hosts,
      async (h) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        if (h.name === "c") throw new Error("c: refused");
        return h.name.toUpperCase();
      },
      2,
    );
    expect(most).toBe(2);
    expect(out.map((o) => [o.host, o.ok, o.value ?? o.error!.message])).toEqual([
      ["a", true, "A"], ["b", true, "B"], ["c", false, "c: refused"], ["d", true, "D"], ["e", true, "E"],
    ]);
    const lines = summaryLines(out);
    expect(lines[2]).toBe("c  FAILED  refused");
    expect(lines[0]).toMatch(/^a  ok  0\.\d s$/);
  });

  it("prefixes progress with the host once", () => {
    const p = prefixFor("web1");
    expect(p("shipping")).toBe("web1: shipping");
    expect(p("web1: shipping")).toBe("web1: shipping");
    expect(p("a\nb")).toBe("web1: a\nweb1: b");
  });

  it("prefixes whole output lines of a host, however the chunks fall", () => {
    const got: string[] = [];
    const l = prefixedLines("h2", (s) => got.push(s));
    l.write("one\ntw");
    l.write("o\nthr");
    l.flush();
    expect(got.join("")).toBe("h2: one\nh2: two\nh2: thr\n");
  });
});
