import { describe, expect, it } from "vitest";
import { withLiveRestore } from "../../src/host/engine.js";

describe("Docker Engine's live-restore in daemon.json", () => {
  it("is added to a missing or empty file", () => {
    expect(JSON.parse(withLiveRestore(null)!)).toEqual({ "live-restore": true });
    expect(JSON.parse(withLiveRestore("  \n")!)).toEqual({ "live-restore": true });
  });

  it("keeps every other setting", () => {
    const next = withLiveRestore('{"log-driver": "journald", "live-restore": false, "registry-mirrors": ["http://m"]}');
    expect(JSON.parse(next!)).toEqual({ "log-driver": "journald", "live-restore": true, "registry-mirrors": ["http://m"] });
  });

  it("changes nothing when it is already on", () => {
    expect(withLiveRestore('{"live-restore": true}')).toBeNull();
  });

  it("refuses a file that is not a JSON object, in one line", () => {
    expect(() => withLiveRestore("{live-restore: true")).toThrow(/^\/etc\/docker\/daemon.json is not valid JSON \(.*\); fix it/);
    expect(() => withLiveRestore("[1]")).toThrow(/not a JSON object/);
  });
});
