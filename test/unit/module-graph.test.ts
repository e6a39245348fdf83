import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/cli.js";

// A command loads what its module imports statically, and what those import;
// dynamic import() loads only when reached. Heavy packages must stay behind
// an import() that a local promote never reaches.

/** Packages and src files reached by static imports from `entry` (type-only imports excluded). */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else if (!spec.startsWith("node:")) packages.add(spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/"));
    }
  };
  visit(join(REPO, entry));
  return { files, packages };
}

describe("modules a command loads", () => {
  it("depl promote, rollback and canary load no Docker, SSH, template, tar or HTTP-client package", () => {
    const cli = staticGraph("src/cli.ts");
    const traffic = staticGraph("src/commands/traffic.ts");
    const packages = new Set([...cli.packages, ...traffic.packages]);
    // yaml only when depl.yml changed since its last parse (src/config/parse-cache.ts).
    expect([...packages].sort()).toEqual(["commander", "zod"]);
  });

  it("the CLI alone (depl --help) loads only commander", () => {
    expect([...staticGraph("src/cli.ts").packages]).toEqual(["commander"]);
  });
});

describe("staticGraph", () => {
  it("sees the heavy packages where they are imported statically", () => {
    const all = new Set([...staticGraph("src/host/ssh-connect.ts").packages, ...staticGraph("src/nginx/render.ts").packages]);
    expect(all).toContain("node-ssh");
    expect(all).toContain("handlebars");
  });
});
