import { describe, expect, it } from "vitest";
import { describeLock, isStale } from "../../src/release/lock.js";
import { historyLine, table } from "../../src/commands/list.js";

const lock = { actor: "ann@deploy1", command: "promote 2026.11.21.22.56", since: "2026-11-21T22:57:00Z", machine: "deploy1", pid: 4242 };

describe("locks", () => {
  it("describes the holder", () => {
    expect(describeLock(lock, false)).toBe("held by ann@deploy1 since 2026-11-21T22:57:00Z (promote 2026.11.21.22.56, pid 4242 on deploy1)");
    expect(describeLock(lock, true)).toMatch(/STALE: that process is gone/);
  });

  it("is stale only when its process is gone on this machine", () => {
    expect(isStale({ ...lock, machine: "m", pid: process.pid }, "m")).toBe(false);
    expect(isStale({ ...lock, machine: "m", pid: 2 ** 22 + 17 }, "m")).toBe(true);
    expect(isStale({ ...lock, machine: "other", pid: 2 ** 22 + 17 }, "m")).toBe(false);
  });
});

describe("list and history formatting", () => {
  it("aligns columns", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y");
  });
  it("writes one history line", () => {
    expect(
      historyLine({ at: "2026-11-21T22:57:01.000Z", actor: "ann", action: "promote", version: "v2", from: { live: "v1", canary: null }, to: { live: "v2", canary: null }, result: "ok" }),
    ).toBe("2026-11-21 22:57:01  ann  promote v2 live=v1 -> live=v2  ok");
  });
});
