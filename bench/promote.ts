// npm run bench:promote: the wall time of `depl promote` as a process (the
// built CLI, bin/depl.js -> dist/) on the local host, alternating between two
// installed versions of testapp, next to the start-up time of `node -e 0`.
// Goal (issue 9): the median promote at most 2.5 times node's start-up.
// Runs against the real services: hold the services lock (flock -s /tmp/depl-services.lock).
// BENCH_PROMOTES (default 20), DEPL_BIN (default this repo's bin/depl.js: `npm run build` first).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const APP = "benchpromote";
const ROOT = `/srv/depl-${APP}`;
const dir = `/tmp/depl-${APP}`;
const config = `${dir}/depl.yml`;
const repo = new URL("..", import.meta.url).pathname;
const bin = process.env.DEPL_BIN ?? `${repo}bin/depl.js`;
const PROMOTES = Number(process.env.BENCH_PROMOTES ?? 20);

// Setup and installs go through the TypeScript sources, so that only the timed promotes use `bin`.
const deplSrc = (...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", `${repo}src/cli.ts`, "-c", config, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

function timed(argv: string[]): number {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function installedVersions(): string[] {
  const releases = `${ROOT}/${APP}/releases`;
  if (!existsSync(releases)) return [];
  return readdirSync(releases)
    .filter((v) => existsSync(`${releases}/${v}/release.json`))
    .filter((v) => (JSON.parse(readFileSync(`${releases}/${v}/release.json`, "utf8")) as { state?: string }).state === "installed")
    .sort();
}

function main() {
  if (!existsSync(bin)) throw new Error(`${bin} not found: npm run build first`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(config, `app: ${APP}\ndomain: ${APP}.localhost\nroot: ${ROOT}\nhosts: [local]\nbuild: { context: ${repo}testapp }\nrun: { wsgi: "testapp.app:application", workers: 2, threads: 8 }\n`);
  // The app stays installed between runs (its own name, root and domain): a second run only times.
  let versions = installedVersions();
  if (versions.length < 2) {
    deplSrc("setup");
    while (versions.length < 2) {
      deplSrc("buildinst", "--json");
      versions = installedVersions();
    }
  }
  const [a, b] = versions.slice(-2) as [string, string];
  execFileSync(process.execPath, [bin, "-c", config, "promote", a], { stdio: "ignore" });

  const node: number[] = [];
  const promote: number[] = [];
  for (let i = 0; i < PROMOTES; i++) {
    node.push(timed([process.execPath, "-e", "0"]));
    promote.push(timed([process.execPath, bin, "-c", config, "promote", i % 2 === 0 ? b : a]));
  }
  const n = median(node);
  const p = median(promote);
  console.log(`depl promote (${bin}), ${PROMOTES} promotes alternating ${a} / ${b} on the local host:`);
  console.log(`  promote median ${p.toFixed(0)} ms (min ${Math.min(...promote).toFixed(0)}, max ${Math.max(...promote).toFixed(0)})`);
  console.log(`  node -e 0 median ${n.toFixed(0)} ms`);
  console.log(`  ratio ${(p / n).toFixed(2)} (goal <= 2.5)`);
}

main();
