// npm run bench:size: testapp built two-stage (depl's way) and single-stage
// (compiler left in). Prints image sizes, cold builds (no layer cache) and
// warm builds after a change to the app's code only, the bytes of new layers
// a warm build adds (what must be shipped), and whether gcc/cc is present.
// Figures only: no thresholds. Needs Docker and the base image (bootstrapped
// when missing). Pass --keep to keep the images.
import { appendFile, cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { buildRelease, type BuiltImage } from "../src/build/build.js";
import { validateConfig } from "../src/config/load.js";
import { LocalHost } from "../src/host/local.js";
import { bootstrapBaseImage } from "../src/images/bootstrap.js";

const TESTAPP = fileURLToPath(new URL("../testapp", import.meta.url));
const APP = "depl-bench";
const keep = process.argv.includes("--keep");
const docker = new Docker();
const host = new LocalHost();
const config = validateConfig({
  app: APP,
  domain: "app1.localhost",
  build: { context: "testapp" },
  run: { wsgi: "testapp.app:application" },
});
const meta = { commit: null, dirty: false, branch: null, builtAt: new Date().toISOString(), builtBy: "bench@depl" };
const MB = (n: number) => (n / 1e6).toFixed(1);

interface Row {
  kind: "multi" | "single";
  cold: BuiltImage;
  warm: BuiltImage;
  newLayerBytes: number;
  compiler: string | null;
}

/** Bytes of the warm image's layers that the cold image does not have: what a code change ships. */
async function newLayerBytes(cold: string, warm: string): Promise<number> {
  const ids = new Set((await docker.getImage(cold).history()).map((h: { Id: string }) => h.Id));
  const rows = (await docker.getImage(warm).history()) as { Id: string; Size: number }[];
  return rows.filter((h) => h.Id === "<missing>" || !ids.has(h.Id)).reduce((n, h) => n + h.Size, 0);
}

async function compilerIn(image: string): Promise<string | null> {
  const r = await host.run(["docker", "run", "--rm", image, "sh", "-c", "command -v gcc cc"], { allowFailure: true });
  return r.code === 0 || r.stdout.trim() ? r.stdout.trim().replace(/\n/g, ", ") : null;
}

async function measure(kind: Row["kind"], work: string): Promise<Row> {
  const build = (version: string, tag: string, noCache: boolean) =>
    buildRelease({ config, configDir: work, version, meta, verbose: false, log: () => {}, stages: kind, tag, noCache });
  console.error(`${kind}-stage: cold build (no layer cache)...`);
  const cold = await build("2026.01.01.00.00", `${APP}-${kind}:cold`, true);
  await appendFile(join(work, "testapp", "testapp", "app.py"), `\n# bench: code change ${Date.now()}\n`);
  console.error(`${kind}-stage: warm build after a code change...`);
  const warm = await build("2026.01.01.00.01", `${APP}-${kind}:warm`, false);
  return { kind, cold, warm, newLayerBytes: await newLayerBytes(cold.imageId, warm.imageId), compiler: await compilerIn(warm.image) };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  await bootstrapBaseImage({ tag: config.build.base_image, log: (m) => console.error(m), host });
  const baseBytes = (await docker.getImage(config.build.base_image).inspect()).Size;
  if (Date.now() - t0 > 5000) console.error(`base image bootstrapped in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const rows: Row[] = [];
  const work = await mkdtemp(join(tmpdir(), "depl-bench-size-"));
  try {
    for (const kind of ["multi", "single"] as const) {
      await rm(join(work, "testapp"), { recursive: true, force: true });
      await cp(TESTAPP, join(work, "testapp"), { recursive: true });
      rows.push(await measure(kind, work));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    if (!keep) for (const r of rows) await host.run(["docker", "rmi", r.warm.image, r.cold.image], { allowFailure: true });
  }

  console.log(`\ntestapp (C extension), base image ${config.build.base_image}: ${MB(baseBytes)} MB\n`);
  const head = ["build", "image MB", "over base MB", "cold s", "warm s", "warm cached steps", "new layers kB", "gcc/cc in image"];
  const table = rows.map((r) => [
    r.kind === "multi" ? "two-stage (depl)" : "single-stage",
    MB(r.warm.sizeBytes),
    MB(r.warm.sizeBytes - baseBytes),
    r.cold.seconds.toFixed(1),
    r.warm.seconds.toFixed(1),
    `${r.warm.cachedSteps}/${r.warm.steps}`,
    (r.newLayerBytes / 1e3).toFixed(0),
    r.compiler ?? "none",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log([fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...table.map(fmt)].join("\n"));
  const [multi, single] = rows;
  if (multi && single) {
    console.log(`\ntwo-stage image is ${MB(single.warm.sizeBytes - multi.warm.sizeBytes)} MB smaller (${((1 - multi.warm.sizeBytes / single.warm.sizeBytes) * 100).toFixed(0)}%)`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
