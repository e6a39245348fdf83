// npm run bench:hosts: several app servers (the hosts suite's container
// hosts: own sshd, dockerd, nginx, supervisord; web3 behind a jump host).
// Prints, for 1 and 3 hosts: buildinst wall time and bytes shipped (a first
// version, then a code-only change), the median promote wall time
// (BENCH_PROMOTES, default 10, alternating two versions), and the spread of the
// renames between hosts (depl's --json rename_skew_ms).
// Goals (issue 9): promote on 3 hosts at most 2x promote on one; skew under 50 ms;
// a code-only version ships under 10% of the first one's bytes.
// Needs the services (hold flock -s /tmp/depl-services.lock) and `npm run build`.
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startTestFleet } from "../test/hosts/harness.js";

const repo = new URL("..", import.meta.url).pathname;
const bin = process.env.DEPL_BIN ?? `${repo}bin/depl.js`;
const PROMOTES = Number(process.env.BENCH_PROMOTES ?? 10);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const fleet = await startTestFleet({ prefix: "depl-bh", basePort: 22500 });
try {
  const config = join(fleet.dir, "depl.yml");
  cpSync(`${repo}testapp`, join(fleet.dir, "app"), { recursive: true });
  writeFileSync(
    config,
    `app: benchhosts\ndomain: benchhosts.localhost\nroot: /srv/depl-benchhosts\nrun: { wsgi: "testapp.app:application", workers: 1, threads: 4 }\n` +
      `build: { context: ${join(fleet.dir, "app")} }\nretention: { keep: 20 }\nhosts: ${fleet.hostsYaml()}\n`,
  );
  const env = { ...process.env, DEPL_STATE_DIR: join(fleet.dir, "state") };
  const depl = (...args: string[]) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, [bin, "-c", config, ...args], { encoding: "utf8", env });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`depl ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return { ms, stdout: r.stdout };
  };
  const version = (out: string) => (JSON.parse(out.trim().split("\n").pop()!) as { version: string }).version;
  depl("setup");

  const rows: string[][] = [];
  for (const [label, hostArgs] of [["1 host", ["--host", "web1"]], ["3 hosts", []]] as const) {
    // The first version carries the base layers to a host that has none; the second is the steady state.
    const first = depl(...hostArgs, "buildinst", "--json");
    appendFileSync(join(fleet.dir, "app", "testapp", "app.py"), `\n# code change ${label}\n`);
    const second = depl(...hostArgs, "buildinst", "--json");
    const shipped = (out: string) => Object.values((JSON.parse(out.trim().split("\n").pop()!) as { shipped: Record<string, number> }).shipped).reduce((a, b) => a + b, 0);
    const vs = [version(first.stdout), version(second.stdout)];
    depl(...hostArgs, "promote", vs[0]!);
    const times: number[] = [];
    const skews: number[] = [];
    for (let i = 0; i < PROMOTES; i++) {
      const r = depl(...hostArgs, "promote", vs[(i + 1) % 2]!, "--json");
      times.push(r.ms);
      const skew = (JSON.parse(r.stdout) as { rename_skew_ms: number | null }).rename_skew_ms;
      if (skew !== null) skews.push(skew);
    }
    rows.push([
      label,
      `${(first.ms / 1000).toFixed(1)} s, ${(shipped(first.stdout) / 1e6).toFixed(1)} MB`,
      `${(second.ms / 1000).toFixed(1)} s, ${(shipped(second.stdout) / 1e6).toFixed(2)} MB (${((100 * shipped(second.stdout)) / shipped(first.stdout)).toFixed(2)}%)`,
      `${Math.round(median(times))} ms`,
      skews.length ? `${median(skews).toFixed(1)} ms (max ${Math.max(...skews).toFixed(1)})` : "-",
    ]);
  }
  const header = ["HOSTS", "BUILDINST 1st (time, shipped)", "BUILDINST 2nd, code change (time, shipped)", `PROMOTE (median of ${PROMOTES})`, "RENAME SKEW (median)"];
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(w[i]!)).join("  "));
  const p1 = Number(rows[0]![3]!.split(" ")[0]);
  const p3 = Number(rows[1]![3]!.split(" ")[0]);
  console.log(`promote on 3 hosts / on 1 host: ${(p3 / p1).toFixed(2)} (goal <= 2)`);
} finally {
  fleet.stop();
}
