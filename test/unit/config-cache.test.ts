import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isPlainJson, parseYamlCached } from "../../src/config/parse-cache.js";

const yml = "app: app1\ndomain: app1.localhost\nhosts: [local]\nrun: { workers: 2 }\nenv: { A: '1', B: null }\n";

function counting() {
  let calls = 0;
  return { parse: (t: string) => (calls++, parse(t) as unknown), calls: () => calls };
}

describe("parseYamlCached", () => {
  it("parses once per text: a second load reads the cache, a changed text parses again", () => {
    const dir = mkdtempSync(join(tmpdir(), "depl-cache-"));
    const p = counting();
    const first = parseYamlCached("/x/depl.yml", yml, dir, p.parse);
    expect(first).toEqual(parse(yml));
    expect(parseYamlCached("/x/depl.yml", yml, dir, p.parse)).toEqual(first);
    expect(p.calls()).toBe(1);
    expect(parseYamlCached("/x/depl.yml", yml.replace("2", "3"), dir, p.parse)).toMatchObject({ run: { workers: 3 } });
    expect(p.calls()).toBe(2);
    // One file per config path, readable only by its owner.
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(statSync(join(dir, files[0]!)).mode & 0o777).toBe(0o600);
    parseYamlCached("/y/depl.yml", yml, dir, p.parse);
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it("never keeps secrets, nor what JSON would change", () => {
    const dir = mkdtempSync(join(tmpdir(), "depl-cache-"));
    const p = counting();
    parseYamlCached("/x/a.yml", "app: a\nsecrets: { TOKEN: t0k }\n", dir, p.parse);
    parseYamlCached("/x/b.yml", "app: a\nrun: { memory: .inf }\n", dir, p.parse);
    expect(readdirSync(dir)).toEqual([]);
    parseYamlCached("/x/c.yml", "app: a\nsecrets: {}\n", dir, p.parse);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it("parses again over a corrupt cache, and works with no writable cache at all", () => {
    const dir = mkdtempSync(join(tmpdir(), "depl-cache-"));
    const p = counting();
    parseYamlCached("/x/depl.yml", yml, dir, p.parse);
    writeFileSync(join(dir, readdirSync(dir)[0]!), "{not json");
    expect(parseYamlCached("/x/depl.yml", yml, dir, p.parse)).toEqual(parse(yml));
    expect(p.calls()).toBe(2);
    expect(JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), "utf8"))).toMatchObject({ path: "/x/depl.yml" });
    writeFileSync(join(dir, "afile"), "");
    expect(parseYamlCached("/x/depl.yml", yml, join(dir, "afile", "cache"), p.parse)).toEqual(parse(yml));
  });

  it("throws the parser's error and keeps nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "depl-cache-"));
    expect(() => parseYamlCached("/x/depl.yml", "a: [1\n", dir)).toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("isPlainJson", () => {
  it("accepts what survives a JSON round trip, exactly", () => {
    expect(isPlainJson({ a: [1, "x", true, null, { b: 2.5 }] })).toBe(true);
    for (const v of [Infinity, NaN, -0, undefined, new Date(0), new Map(), 1n, { a: undefined }, JSON.parse('{"__proto__": 1}')]) expect(isPlainJson(v)).toBe(false);
  });
});
