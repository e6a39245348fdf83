// Builds, one at a time, every image whose layers the suites share: testapp's
// build and runtime stages, each example app's, and the hosts suite's test
// host image. On a fresh machine the suites that run side by side would
// otherwise each build the same layers at once (Docker's legacy builder does
// not share a build in progress), several times over on 2 cores. On a warm
// machine every step is a cache hit and this takes seconds.
//
//   npm run test:prepare   (scripts/run-suites.sh runs it beside the integration suite)
import { depl } from "../helpers/cli.js";
import { testApp, writeAppConfig } from "../helpers/app.js";
import { example } from "../e2e/apps-helpers.js";
import { buildTestHostImage } from "../hosts/harness.js";

const VERSION = "2000.01.01.00.00";

async function build(what: string, config: string): Promise<void> {
  const started = Date.now();
  const r = await depl(["-c", config, "build", "--version-name", VERSION, "--json"]);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.code !== 0) throw new Error(`prepare: build of ${what} failed (exit ${r.code}) after ${secs} s:\n${r.stderr.slice(-3000)}`);
  console.log(`prepare: ${what} built in ${secs} s`);
}

const started = Date.now();
const t0 = Date.now();
buildTestHostImage();
console.log(`prepare: hosts suite's test host image in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await build("testapp", writeAppConfig(testApp("prep"), "depl.yml"));
for (const name of ["factory", "djangosite", "monorepo"]) {
  const d = example(name, { app: `prep-${name}`, domain: `prep-${name}.localhost`, root: "/srv/depl-prep" });
  await build(`examples/${name}`, d.config);
}
// The builds' tags are kept: removing them would let Docker drop the shared layers with them.
console.log(`prepare: images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
