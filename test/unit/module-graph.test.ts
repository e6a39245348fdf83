import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
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

// Folders are layers, lowest first: a module imports only from its own folder,
// a lower layer, or a folder beside it in its layer (never in a cycle). The
// root files errors.ts, timeouts.ts and cli.ts are folders of their own.
const LAYERS: readonly (readonly string[])[] = [
  ["errors", "timeouts", "naming", "config"], // names, paths, fixed waits and validated config: no host, no I/O beyond reading depl.yml
  ["host"], // the one place that runs processes, opens SSH, speaks HTTP over a unix socket
  ["images", "supervisor", "tls", "nginx", "switch", "logs"], // one outside tool or one concern each, on one host
  ["release"], // operations on a host's releases (steps, journal, lock), their lifecycle, traffic across hosts
  ["build", "stats", "canary"], // built on releases: building a version, reading its traffic, judging a canary
  ["commands"], // one handler per CLI verb: context, locks, hooks, output
  ["dashboard"], // the web UI, driving the same handlers
  ["cli"], // declares the commands, loads a handler lazily
];

interface Import {
  from: string; // src-relative file
  to: string; // src-relative file
  line: number;
  text: string;
}

/** Every import of a src file by a src file: static, type-only, re-exports and dynamic import(). */
function srcImports(): Import[] {
  const src = join(REPO, "src");
  const out: Import[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) {
        const text = readFileSync(p, "utf8");
        const re = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\sfrom\s+)?["'](\.[^"']+)["']|\bimport\(\s*["'](\.[^"']+)["']\s*\)/gm;
        for (const m of text.matchAll(re)) {
          const spec = (m[1] ?? m[2])!;
          const to = relative(src, resolve(dirname(p), spec.replace(/\.js$/, ".ts")));
          out.push({ from: relative(src, p), to, line: text.slice(0, m.index).split("\n").length, text: m[0].trim() });
        }
      }
    }
  };
  walk(src);
  return out;
}

/** "release/fleet.ts" -> "release"; a root file "cli.ts" -> "cli". */
function folderOf(file: string): string {
  return file.includes("/") ? file.split("/")[0]! : file.replace(/\.ts$/, "");
}

/** The imports that go from a lower layer to a higher one, one line each; a folder in no layer is named too. */
export function upwardImports(imports: readonly Import[], layers: readonly (readonly string[])[]): string[] {
  const rank = new Map(layers.flatMap((l, i) => l.map((f) => [f, i] as const)));
  const bad: string[] = [];
  for (const folder of new Set(imports.flatMap((i) => [folderOf(i.from), folderOf(i.to)]))) {
    if (!rank.has(folder)) bad.push(`src/${folder}: in no layer of LAYERS`);
  }
  for (const i of imports) {
    const a = rank.get(folderOf(i.from));
    const b = rank.get(folderOf(i.to));
    if (a !== undefined && b !== undefined && b > a) {
      bad.push(`src/${i.from}:${i.line} imports src/${i.to} (${folderOf(i.from)}, layer ${a + 1}, up to ${folderOf(i.to)}, layer ${b + 1}): ${i.text}`);
    }
  }
  return bad;
}

/** Each cycle of the graph (one per strongly connected component), as "a -> b -> a". */
export function importCycles(edges: readonly (readonly [string, string])[]): string[] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) if (a !== b) next.set(a, [...(next.get(a) ?? []), b]);
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const comps: string[][] = [];
  const strong = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) comps.push(comp);
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) strong(v);
  // Name one cycle through each component: the shortest path back to its first node.
  return comps.map((comp) => {
    const inComp = new Set(comp);
    const start = [...comp].sort()[0]!;
    const prev = new Map<string, string>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of next.get(v) ?? []) {
        if (!inComp.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
          return [...path, start].join(" -> ");
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return comp.join(" -> ");
  });
}

describe("layers (src/ folders, lowest first: LAYERS)", () => {
  const imports = srcImports();

  it("no import goes from a lower layer to a higher one (type-only and dynamic imports included)", () => {
    expect(upwardImports(imports, LAYERS)).toEqual([]);
  });

  it("no import cycle between folders", () => {
    // Each step of a cycle with the first import that makes it.
    const named = importCycles(imports.map((i) => [folderOf(i.from), folderOf(i.to)] as const)).map((cycle) => {
      const hops = cycle.split(" -> ");
      const why = hops.slice(1).map((b, k) => imports.find((i) => folderOf(i.from) === hops[k] && folderOf(i.to) === b)!);
      return `${cycle} (${why.map((i) => `src/${i.from}:${i.line} imports src/${i.to}`).join("; ")})`;
    });
    expect(named).toEqual([]);
  });

  it("no import cycle between files", () => {
    expect(importCycles(imports.map((i) => [i.from, i.to] as const))).toEqual([]);
  });

  it("reads the imports of src: static, type-only, re-exports and dynamic", () => {
    const of = (from: string) => imports.filter((i) => i.from === from).map((i) => i.to);
    expect(of("cli.ts")).toContain("commands/traffic.ts"); // import("./commands/traffic.js")
    expect(of("release/on-host.ts")).toEqual(["config/schema.ts", "host/host.ts", "naming/layout.ts"]); // all type-only
  });
});

describe("upwardImports and importCycles", () => {
  const layers = [["low"], ["mid", "side"], ["top"]];
  const imp = (from: string, to: string): Import => ({ from, to, line: 3, text: `import { x } from "${to}"` });

  it("name the file, line and import that goes up, and a folder in no layer", () => {
    expect(upwardImports([imp("top/a.ts", "low/b.ts"), imp("mid/a.ts", "side/b.ts"), imp("low/c.ts", "mid/a.ts"), imp("new/x.ts", "low/b.ts")], layers)).toEqual([
      "src/new: in no layer of LAYERS",
      `src/low/c.ts:3 imports src/mid/a.ts (low, layer 1, up to mid, layer 2): import { x } from "mid/a.ts"`,
    ]);
  });

  it("name each cycle, and none in a graph without one", () => {
    expect(importCycles([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"], ["x", "y"], ["y", "x"], ["a", "a"]])).toEqual(["a -> b -> c -> a", "x -> y -> x"]);
    expect(importCycles([["a", "b"], ["b", "c"], ["a", "c"]])).toEqual([]);
  });
});
