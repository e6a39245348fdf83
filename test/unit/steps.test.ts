import { describe, expect, it } from "vitest";
import { InterruptedError, runSteps } from "../../src/release/steps.js";

describe("runSteps", () => {
  it("undoes finished steps in reverse order when a later step throws, then rethrows", async () => {
    const log: string[] = [];
    const run = runSteps("op", () => {}, async (s) => {
      await s.step("a", async () => log.push("do a"), async () => log.push("undo a"));
      await s.step("b", async () => 7, async (n) => log.push(`undo b ${n}`));
      await s.step("c", async () => {
        throw new Error("c broke");
      }, async () => log.push("undo c"));
    });
    await expect(run).rejects.toThrow("c broke");
    expect(log).toEqual(["do a", "undo b 7", "undo a"]);
  });

  it("keeps undoing when one undo fails, and says which failed", async () => {
    const log: string[] = [];
    const run = runSteps("op", () => {}, async (s) => {
      await s.step("a", async () => {}, async () => log.push("undo a"));
      await s.step("b", async () => {}, async () => {
        throw new Error("gone");
      });
      throw new Error("boom");
    });
    await expect(run).rejects.toThrow(/boom\nundo failed for b: gone/);
    expect(log).toEqual(["undo a"]);
  });

  it("commit() keeps what is done", async () => {
    const log: string[] = [];
    await expect(
      runSteps("op", () => {}, async (s) => {
        await s.step("a", async () => {}, async () => log.push("undo a"));
        s.commit();
        throw new Error("after the point of no return");
      }),
    ).rejects.toThrow();
    expect(log).toEqual([]);
  });

  it("on SIGINT finishes the current step, starts no other, and undoes", async () => {
    const log: string[] = [];
    const said: string[] = [];
    const run = runSteps("op", (m) => said.push(m), async (s) => {
      await s.step("a", async () => {
        process.emit("SIGINT", "SIGINT");
        log.push("a finished");
      }, async () => log.push("undo a"));
      await s.step("b", async () => log.push("b ran"));
    });
    await expect(run).rejects.toBeInstanceOf(InterruptedError);
    expect(log).toEqual(["a finished", "undo a"]);
    expect(said[0]).toMatch(/SIGINT: finishing the current step of op/);
    expect(process.listenerCount("SIGINT")).toBe(0);
  });
});
