import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { hostContract } from "../helpers/host-contract.js";

const host = new LocalHost();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "depl-local-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("LocalHost: the host contract", () => {
  hostContract(
    () => host,
    () => dir,
    async () => new LocalHost(),
  );
});

describe("LocalHost", () => {
  it("is named local, and is local: a tunnel to here is the port itself", async () => {
    expect(host).toMatchObject({ name: "local", isLocal: true });
    const t = await host.tunnelToHere(8123);
    expect([t.port, t.bytes()]).toEqual([8123, 0]);
  });

  it("says why a program could not start, and a write into a missing directory fails with the system's word", async () => {
    const r = await host.run(["depl-no-such-program"], { allowFailure: true });
    expect(r.stderr).toContain("ENOENT");
    await expect(host.writeFile(join(dir, "nope", "f"), "x")).rejects.toThrow(/ENOENT/);
  });
});
