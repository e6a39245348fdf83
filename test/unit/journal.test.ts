import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Journal } from "../../src/release/journal.js";

describe("step journal", () => {
  beforeEach(() => {
    process.env.DEPL_STATE_DIR = mkdtempSync(join(tmpdir(), "depl-journal-"));
  });

  it("records finished steps and skips them when resumed", async () => {
    const j = Journal.fresh("buildinst", "app1", { branch: null });
    const ran: string[] = [];
    await j.step("build", async () => void ran.push("build"));
    await j.fact("version", "2026.11.21.22.56");
    await expect(j.step("install:local", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await j.finish("failed", "boom");

    const again = (await Journal.load("buildinst", "app1"))!;
    expect(again.data).toMatchObject({ status: "failed", error: "boom", done: ["build"], facts: { version: "2026.11.21.22.56" } });
    let skipped = false;
    await again.step("build", async () => void ran.push("build again"), () => (skipped = true));
    await again.step("install:local", async () => void ran.push("install"));
    expect(skipped).toBe(true);
    expect(ran).toEqual(["build", "install"]);
  });

  it("finds nothing to resume when there is no journal", async () => {
    expect(await Journal.load("promote", "nope")).toBeNull();
  });
});
