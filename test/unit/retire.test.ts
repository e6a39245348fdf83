import { describe, expect, it } from "vitest";
import { pruneCandidates } from "../../src/release/retire.js";
import type { ReleaseMeta } from "../../src/release/metadata.js";

const now = new Date("2026-11-21T12:00:00Z");
const rel = (version: string, daysAgo: number, state: ReleaseMeta["state"] = "installed", keep_until: string | null = null): ReleaseMeta => ({
  app: "app1", version, image: `app1:${version}`, image_id: "sha256:x",
  git: { commit: null, dirty: false, branch: null },
  built_at: new Date(now.getTime() - daysAgo * 86_400_000).toISOString(), built_by: "me",
  installed_at: null, installed_by: null, state, error: null, keep_until,
});
const noTraffic = { live: null, previous: null, canary: null };

describe("pruneCandidates", () => {
  const releases = [rel("v1", 10), rel("v2", 9), rel("v3", 8), rel("v4", 7), rel("v5", 6, "failed"), rel("v6", 5), rel("v7", 4)];

  it("keeps the newest N successful releases; failed ones do not count", () => {
    expect(pruneCandidates(releases, noTraffic, { keep: 2, keepDays: null, now })).toEqual(["v5", "v4", "v3", "v2", "v1"]);
    expect(pruneCandidates(releases, noTraffic, { keep: 3, keepDays: null, now })).toEqual(["v5", "v3", "v2", "v1"]);
  });

  it("never prunes live, previous, canary or a release kept until later", () => {
    const t = { live: "v1", previous: "v2", canary: { version: "v3", percent: 5 } };
    const kept = [...releases.slice(0, 3), rel("k", 20, "installed", "2026-12-01T00:00:00Z"), ...releases.slice(3)];
    expect(pruneCandidates(kept, t, { keep: 1, keepDays: null, now })).toEqual(["v6", "v5", "v4"]);
  });

  it("keeps releases built within keepDays", () => {
    expect(pruneCandidates(releases, noTraffic, { keep: 1, keepDays: 7, now })).toEqual(["v4", "v3", "v2", "v1"]);
  });

  it("prunes an expired keep_until", () => {
    const old = [rel("a", 3, "installed", "2026-11-20T00:00:00Z"), rel("b", 1)];
    expect(pruneCandidates(old, noTraffic, { keep: 1, keepDays: null, now })).toEqual(["a"]);
  });
});
