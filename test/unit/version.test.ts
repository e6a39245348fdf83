import { describe, expect, it } from "vitest";
import { assertVersion, branchToVersion, isVersion, nextVersion, timestampVersion } from "../../src/naming/version.js";

describe("version names", () => {
  it("formats UTC timestamps", () => {
    expect(timestampVersion(new Date("2026-11-21T22:56:09Z"))).toBe("2026.11.21.22.56");
    expect(timestampVersion(new Date("2026-01-02T03:04:00Z"))).toBe("2026.01.02.03.04");
  });

  it("adds a suffix when two builds share a minute", () => {
    const now = new Date("2026-11-21T22:56:00Z");
    expect(nextVersion(now, [])).toBe("2026.11.21.22.56");
    expect(nextVersion(now, ["2026.11.21.22.56"])).toBe("2026.11.21.22.56-2");
    expect(nextVersion(now, ["2026.11.21.22.56", "2026.11.21.22.56-2"])).toBe("2026.11.21.22.56-3");
  });

  it.each(["2026.11.21.22.56", "2026.11.21.22.56-2", "feature-x", "main"])("accepts %s", (v) => {
    expect(isVersion(v)).toBe(true);
  });

  it.each([
    "", "../x", "%2e%2e", "2026.13.01.00.00", "2026.11.21.24.00", "2026.11.21.22.56-0", "2026.11.21.22",
    "Feature", "-x", "x-", "a b", "a/b", "a.b", "x".repeat(41), "1abc", "v;rm",
  ])("rejects %j with a one-line message", (v) => {
    expect(isVersion(v)).toBe(false);
    expect(() => assertVersion(v)).toThrow(/^invalid version ".*": expected YYYY.MM.DD.HH.MM/);
  });

  it("refuses the app's subdomains as version names", () => {
    expect(() => assertVersion("foo", ["foo"])).toThrow(/one of the app's subdomains/);
  });

  it("normalises branch names to DNS labels", () => {
    expect(branchToVersion("feature/New_Login")).toBe("feature-new-login");
    expect(branchToVersion("123-fix")).toBe("fix");
    expect(() => branchToVersion("///")).toThrow(/not a git branch name/);
    expect(() => branchToVersion("123")).toThrow(/does not give a usable release name/);
  });
});

describe("hostile branch names", () => {
  it("refuses what git refuses, in one line", async () => {
    const { branchToVersion, isGitBranchName } = await import("../../src/naming/version.js");
    for (const b of ["../../etc", "x\ny", "a".repeat(201), "-rf", "a..b", "x:y", "feature/.hidden", "a b", "x\0", "a.lock", "a//b", "@", "a@{1}"]) {
      expect(isGitBranchName(b), b).toBe(false);
      expect(() => branchToVersion(b)).toThrow(/^invalid branch "[^\n]*": not a git branch name$/);
    }
  });
  it("turns names git allows into plain DNS labels", async () => {
    const { branchToVersion } = await import("../../src/naming/version.js");
    expect(branchToVersion("a;b")).toBe("a-b");
    expect(branchToVersion("$(id)")).toBe("id");
    expect(branchToVersion("feature/Login_Page")).toBe("feature-login-page");
  });
});

describe("quote", () => {
  it("keeps a message on one line and short", async () => {
    const { quote } = await import("../../src/errors.js");
    expect(quote("a\nb")).toBe('"a\\nb"');
    expect(quote("x".repeat(300))).toHaveLength(82);
  });
});
