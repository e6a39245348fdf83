import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { depl, REPO, type CliResult } from "../helpers/cli.js";
import { removeApp } from "../helpers/app.js";

// The example apps under examples/, deployed as a user would: the real CLI
// with the example's own depl.yml (or a copy with its own app, domain and root).

export const PORT = 80;

export interface Deployed {
  app: string;
  domain: string;
  root: string;
  config: string;
  /** <root>/<app> */
  base: string;
  run(args: string[]): Promise<CliResult>;
}

export const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { encoding: "utf8" });
const quiet = (cmd: string) => {
  try {
    return execFileSync("sh", ["-c", cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
};

/**
 * The example's depl.yml as is, or (with overrides) a copy in a directory of
 * its own whose build.context points back at the example.
 */
export function example(name: string, overrides: Record<string, unknown> | null = null): Deployed {
  const dir = `${REPO}examples/${name}`;
  let config = `${dir}/depl.yml`;
  const doc = parse(readFileSync(config, "utf8")) as Record<string, unknown> & { build?: Record<string, unknown> };
  if (overrides) {
    const copy: Record<string, unknown> = { ...doc, ...overrides, build: { ...doc.build, context: dir } };
    const cfgDir = `/tmp/depl-${String(copy.app)}-config`;
    mkdirSync(cfgDir, { recursive: true });
    config = `${cfgDir}/depl.yml`;
    writeFileSync(config, stringify(copy));
    Object.assign(doc, copy);
  }
  const app = String(doc.app);
  const root = String(doc.root);
  const env = { DEPL_STATE_DIR: mkdtempSync(join(tmpdir(), `depl-state-${app}-`)) };
  return {
    app,
    domain: String(doc.domain),
    root,
    config,
    base: `${root}/${app}`,
    run: (args) => depl(["-c", config, ...args], { env }),
  };
}

/** buildinst --json; returns the version. */
export async function buildinst(d: Deployed): Promise<string> {
  const r = await d.run(["buildinst", "--json"]);
  if (r.code !== 0) throw new Error(`buildinst of ${d.app} failed (${r.code}):\n${r.stderr.slice(-4000)}`);
  return (JSON.parse(r.stdout) as { version: string }).version;
}

export async function must(d: Deployed, args: string[]): Promise<CliResult> {
  const r = await d.run(args);
  if (r.code !== 0) throw new Error(`depl ${args.join(" ")} failed (${r.code}):\n${r.stderr.slice(-4000)}`);
  return r;
}

/** supervisord's state of one program, or "ABSENT". */
export function programState(name: string): string {
  const out = quiet(`supervisorctl status ${name} || true`);
  const m = /^\S+\s+([A-Z]+)/m.exec(out);
  return m && !/no such process/i.test(out) ? m[1]! : "ABSENT";
}

/** Stops and removes everything of this app (programs, containers, site, layout); never another app's. */
export const cleanupApp = (d: Pick<Deployed, "app" | "root">) => removeApp(d);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() returns a truthy value, or throws with the last value seen. */
export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await check();
    if (last) return last;
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
