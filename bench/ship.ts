// npm run bench:ship: bytes and seconds to ship a first version and then a
// second, code-only one to an SSH host, through depl's registry (push here,
// pull by the host through a reverse tunnel on its SSH connection) and with
// `docker save | docker load`. The host is this machine through a private
// sshd (as in test/integration/ssh-host.test.ts); it shares this Docker
// Engine, so each image is removed after it was pushed or saved, and the host
// really receives what it lacks. The images: FROM scratch, a dependencies
// layer of BENCH_SHIP_MB (default 50) random MB, then a 20 kB code layer that
// differs between the versions. Random data does not compress: a real
// image's layers shrink in the registry's gzip, and cost its CPU.
// Needs depl's registry (scripts/services.sh start registry) and Docker Engine
// (hold flock -s /tmp/depl-services.lock).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectHost } from "../src/host/connect.js";
import { docker } from "../src/images/docker-argv.js";
import { formatBytes, imageIdOn, registryRef } from "../src/images/ship.js";
import { startSshd } from "../test/helpers/sshd.js";

const PORT = Number(process.env.DEPL_REGISTRY_PORT ?? 5000);
const MB = Number(process.env.BENCH_SHIP_MB ?? 50);
const APP = "depl-benchship";
const versions = ["v1", "v2"] as const;
const ref = (v: string) => `${APP}:${v}`;
const sh = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const rmi = (r: string) => {
  try {
    sh("image", "rm", r);
  } catch {
    /* not there */
  }
};
const secs = (t0: number) => (performance.now() - t0) / 1000;

const answers = await fetch(`http://127.0.0.1:${PORT}/v2/`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status === 200, () => false);
if (!answers) {
  console.error(`depl's registry does not answer on 127.0.0.1:${PORT}: scripts/services.sh start registry`);
  process.exit(1);
}

const dir = await mkdtemp(join(tmpdir(), "depl-bench-ship-"));
const sshd = await startSshd("benchhost");
const host = await connectHost(sshd.hc);
const rows: { method: string; version: string; bytes: number; here: number; there: number }[] = [];
try {
  for (const v of versions) rmi(ref(v));
  await writeFile(join(dir, "deps.bin"), randomBytes(MB * 1e6));
  await writeFile(join(dir, "Dockerfile"), `FROM scratch\nCOPY deps.bin /app/deps.bin\nCOPY code.bin /app/code.bin\nLABEL depl.app=${APP}\n`);
  const ids: Record<string, string> = {};
  for (const v of versions) {
    await writeFile(join(dir, "code.bin"), randomBytes(20_000));
    sh("build", "-q", "-t", ref(v), dir);
    ids[v] = sh("image", "inspect", "--format", "{{.Id}}", ref(v));
  }

  // Both sides of each method, while the images are here: the push, the save.
  const pushS: Record<string, number> = {};
  const saveS: Record<string, number> = {};
  for (const v of versions) {
    const target = registryRef(`127.0.0.1:${PORT}`, ref(v));
    let t0 = performance.now();
    sh("tag", ref(v), target);
    sh("push", target);
    pushS[v] = secs(t0);
    rmi(target);
    t0 = performance.now();
    sh("save", "-o", join(dir, `${v}.tar`), ref(v));
    saveS[v] = secs(t0);
  }

  // Registry: the host has neither version; it pulls the first, then the second.
  for (const v of versions) rmi(ref(v));
  for (const v of versions) {
    const t0 = performance.now();
    const tunnel = await host.tunnelToHere(PORT);
    const source = registryRef(`127.0.0.1:${tunnel.port}`, ref(v));
    try {
      await host.run(docker.pull(source));
      await host.run(docker.tag(source, ref(v)));
      await host.run(docker.untag(source));
    } finally {
      await tunnel.close();
    }
    if ((await imageIdOn(host, ref(v))) !== ids[v]) throw new Error(`registry: ${ref(v)} arrived with another id`);
    rows.push({ method: "registry", version: v, bytes: tunnel.bytes(), here: pushS[v]!, there: secs(t0) });
  }

  // save | load: again from nothing; the second load has the first version's layers, yet gets the whole image.
  for (const v of versions) rmi(ref(v));
  for (const v of versions) {
    const file = join(dir, `${v}.tar`);
    const t0 = performance.now();
    await host.run(docker.load(), { stdin: createReadStream(file) });
    if ((await imageIdOn(host, ref(v))) !== ids[v]) throw new Error(`save-load: ${ref(v)} arrived with another id`);
    rows.push({ method: "save-load", version: v, bytes: statSync(file).size, here: saveS[v]!, there: secs(t0) });
  }
} finally {
  await host.close();
  await sshd.stop();
  for (const v of versions) rmi(ref(v));
  try {
    sh("image", "prune", "-f", "--filter", `label=depl.app=${APP}`);
  } catch {
    /* nothing to prune */
  }
  await rm(dir, { recursive: true, force: true });
}

console.log(`ship: ${MB} MB dependencies layer + 20 kB code layer, one SSH host (this machine through its own sshd)`);
// here: docker push (compresses each new layer) or docker save; host: the pull through the tunnel or the load over SSH.
console.log(`${"method".padEnd(10)} ${"version".padEnd(20)} ${"bytes".padStart(10)} ${"here s".padStart(7)} ${"host s".padStart(7)} ${"total s".padStart(8)}`);
for (const r of rows) {
  const label = r.version === "v1" ? "first" : "second (code only)";
  const f = (n: number, w: number) => n.toFixed(2).padStart(w);
  console.log(`${r.method.padEnd(10)} ${label.padEnd(20)} ${formatBytes(r.bytes).padStart(10)} ${f(r.here, 7)} ${f(r.there, 7)} ${f(r.here + r.there, 8)}`);
}
const reg2 = rows.find((r) => r.method === "registry" && r.version === "v2")!;
const sl2 = rows.find((r) => r.method === "save-load" && r.version === "v2")!;
console.log(`second version: the registry moved ${((100 * reg2.bytes) / sl2.bytes).toFixed(3)}% of save-load's bytes`);
