import { existsSync, readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get } from "../helpers/http.js";
import { buildinst, cleanupApp, example, must, PORT, programState, sleep, until } from "./apps-helpers.js";
import { expectExit } from "../helpers/cli.js";

// examples/monorepo: requirements.txt names ./libs/fastcount (C extension) and
// -e ./libs/common; a worker run as `python -m monoweb.worker` writes a
// heartbeat into shared/ and runs only in the live release.

const d = example("monorepo");
let v1: string;
let v2: string;
const worker = (v: string) => programState(`${d.app}-${v}-worker`);
const beatFile = (v: string) => `${d.base}/shared/data/heartbeat-${v}`;
const heartbeat = () => (existsSync(`${d.base}/shared/data/heartbeat`) ? readFileSync(`${d.base}/shared/data/heartbeat`, "utf8") : "");
/** The worker of v is beating: its heartbeat file changes within a few seconds. */
async function beating(v: string): Promise<boolean> {
  const before = existsSync(beatFile(v)) ? readFileSync(beatFile(v), "utf8") : "";
  await sleep(3000);
  return existsSync(beatFile(v)) && readFileSync(beatFile(v), "utf8") !== before;
}

beforeAll(async () => {
  cleanupApp(d);
  await must(d, ["setup"]);
  v1 = await buildinst(d);
});

afterAll(() => cleanupApp(d));

describe("examples/monorepo (local path requirements, C extension, python -m worker)", () => {
  it("answers at its preview with the version and the C extension's result", async () => {
    const r = await get(PORT, `${v1}.${d.domain}`);
    expect(r.status, r.body).toBe(200);
    expect(r.body).toContain("monorepo web app");
    expect(r.body).toContain(`<span id="version">${v1}</span>`);
    expect(r.body).toContain('<span id="vowels">4</span> (c)');
    const count = await get(PORT, `${v1}.${d.domain}`, "/count?education");
    expect(JSON.parse(count.body)).toEqual({ text: "education", vowels: 5, impl: "c" });
    expect((await get(PORT, `${v1}.${d.domain}`, "/health")).body).toBe("ok\n");
  });

  it("installed both libraries of the repo, the C one compiled, and no compiler in the image", async () => {
    const r = await d.run([
      "exec", v1, "--", "python", "-c",
      "import fastcount._fast as f, common, shutil; print(f.__file__); print(common.__file__); print('cc', shutil.which('cc') or shutil.which('gcc'))",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [ext, common, cc] = r.stdout.trim().split("\n");
    expect(ext).toMatch(/^\/app\/venv\/lib\/python3[.0-9]*\/site-packages\/fastcount\/_fast\.cpython-[^/]*\.so$/);
    expect(common).toMatch(/\/common\/__init__\.py$/);
    expect(cc).toBe("cc None");
  });

  it("exec passes exit codes", async () => {
    expect((await d.run(["exec", v1, "--", "python", "-c", "import sys; sys.exit(7)"])).code).toBe(7);
    expectExit(await d.run(["exec", v1, "--", "python", "-c", "import monoweb.app"]));
    const failed = await d.run(["exec", v1, "--", "python", "-m", "no_such_module"]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr + failed.stdout).toContain("No module named no_such_module");
  });

  it("runs the worker only in the live release", async () => {
    expect(worker(v1)).not.toBe("RUNNING");
    expect(existsSync(beatFile(v1))).toBe(false);

    await must(d, ["promote", v1]);
    await until(`worker of ${v1} running`, () => worker(v1) === "RUNNING");
    await until(`heartbeat of ${v1}`, () => heartbeat().startsWith(`${v1} `));
    expect(await beating(v1)).toBe(true);
    expect((await get(PORT, d.domain)).body).toMatch(new RegExp(`<span id="heartbeat">${v1.replace(/\./g, "\\.")} \\d+`));

    v2 = await buildinst(d);
    expect(worker(v2)).not.toBe("RUNNING");
    expect(worker(v1)).toBe("RUNNING");

    await must(d, ["promote", v2]);
    await until(`worker of ${v2} running`, () => worker(v2) === "RUNNING");
    await until(`worker of ${v1} stopped`, () => worker(v1) !== "RUNNING");
    await until(`heartbeat of ${v2}`, () => heartbeat().startsWith(`${v2} `));
    expect(await beating(v2)).toBe(true);
    expect(await beating(v1)).toBe(false);
    // The web process of v1 stays warm (previous) for a rollback.
    expect(programState(`${d.app}-${v1}`)).toBe("RUNNING");

    await must(d, ["rollback"]);
    await until(`worker of ${v1} running again`, () => worker(v1) === "RUNNING");
    await until(`worker of ${v2} stopped`, () => worker(v2) !== "RUNNING");
    expect(await beating(v1)).toBe(true);
    // Shared data outlived both switches: v2's last heartbeat is still there.
    expect(statSync(beatFile(v2)).size).toBeGreaterThan(0);
    expect((await get(PORT, d.domain)).headers["x-depl-version"]).toBe(v1);
  });
});
