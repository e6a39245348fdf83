import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.js";
import { LocalHost } from "../../src/host/local.js";
import { planRotation, rotateLogs, rotatedName, versionsOfLog, type LogFile } from "../../src/logs/rotate.js";
import { layout } from "../../src/naming/layout.js";
import { StatsAccumulator } from "../../src/stats/compute.js";
import { filesToRead, streamAccessLogs } from "../../src/stats/read.js";

const MB = 1024 * 1024;
const DAY = 86_400_000;
const now = new Date("2026-11-23T02:00:00.000Z");
const limits = { maxBytes: 100 * MB, keep: 3, maxAgeMs: 30 * DAY };
const f = (name: string, size: number, ageMs = 0): LogFile => ({ name, size, mtimeMs: now.getTime() - ageMs });
const V = "2026.11.21.22.56";

describe("logs config", () => {
  const base = { app: "app1", domain: "app1.localhost", run: { wsgi: "a:b" } };
  it("has sane defaults", () => {
    expect(validateConfig(base).logs).toEqual({ max_size: 100 * MB, keep: 10, max_age: 30 * DAY });
  });
  it("takes sizes and ages", () => {
    expect(validateConfig({ ...base, logs: { max_size: "1GB", keep: 3, max_age: "12h" } }).logs).toEqual({ max_size: 1024 * MB, keep: 3, max_age: 12 * 3_600_000 });
  });
  it.each([[{ max_size: "10 parsecs" }, /logs\.max_size: expected a size/], [{ max_size: "10KB" }, /at least 1MB/], [{ keep: 0 }, /logs\.keep/], [{ max_age: "soon" }, /logs\.max_age: expected an age/], [{ rotate: true }, /rotate/]])(
    "refuses %j",
    (logs, msg) => expect(() => validateConfig({ ...base, logs })).toThrow(msg),
  );
});

describe("planRotation", () => {
  it("rotates access.log past max_size to a name that sorts by time", () => {
    expect(planRotation([f("access.log", 100 * MB)], new Set(), limits, now)).toEqual({ rotateTo: "access.log-20261123T020000000Z", remove: [] });
    expect(planRotation([f("access.log", 100 * MB - 1)], new Set(), limits, now).rotateTo).toBeNull();
    expect(rotatedName(new Date("2026-01-02T03:04:05.678Z")) < rotatedName(new Date("2026-01-02T03:04:06.000Z"))).toBe(true);
  });

  it("keeps the newest `keep` rotated files, none older than max_age", () => {
    const files = [f("access.log", 1), ...[1, 2, 3, 4].map((d) => f(rotatedName(new Date(now.getTime() - d * DAY)), 5, d * DAY)), f(rotatedName(new Date(now.getTime() - 40 * DAY)), 5, 40 * DAY)];
    const plan = planRotation(files, new Set(), limits, now);
    expect(plan.remove).toEqual([files[4]!.name, files[5]!.name]);
    // Rotating now makes room for the new one.
    files[0] = f("access.log", 200 * MB);
    expect(planRotation(files, new Set(), limits, now).remove).toEqual([files[3]!.name, files[4]!.name, files[5]!.name]);
  });

  it("removes what is left of versions no longer installed, never of installed ones", () => {
    const old = 2 * 3_600_000;
    const files = [f(`${V}.log`, 1, old), f(`${V}.log.2`, 1, old), f(`${V}-worker.log.1`, 1, old), f("2026.11.20.10.00.log.3", 1, old), f("2026.11.20.10.00-worker.log", 1, old), f("2026.11.20.10.00.log", 1, 60_000), f("notes.txt", 1, old)];
    expect(planRotation(files, new Set([V]), limits, now).remove).toEqual(["2026.11.20.10.00.log.3", "2026.11.20.10.00-worker.log"]);
  });

  it("knows which versions a log may be of (a branch name may end in -word)", () => {
    expect(versionsOfLog(`${V}-2.log.1`)).toEqual([`${V}-2`]);
    expect(versionsOfLog("feature-x-worker.log")).toEqual(["feature-x-worker", "feature-x"]);
    expect(versionsOfLog("access.log")).toEqual(["access"]);
    expect(versionsOfLog("x.txt")).toEqual([]);
  });
});

describe("stats over rotated logs", () => {
  const root = mkdtempSync(join(tmpdir(), "depl-logs-"));
  const l = layout(root, "app1");
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const line = (t: number, v: string, status = 200) => JSON.stringify({ msec: t.toFixed(3), status: String(status), request_time: "0.004", version: v }) + "\n";
  const sec = now.getTime() / 1000;

  it("reads access.log and the rotated files newest first, stopping at the first older than --since", async () => {
    mkdirSync(l.logDir, { recursive: true });
    const write = (name: string, from: number, n: number, v: string) => {
      const p = join(l.logDir, name);
      writeFileSync(p, Array.from({ length: n }, (_, i) => line(from + i, v)).join(""));
      utimesSync(p, (from + n) , from + n);
    };
    write(rotatedName(new Date((sec - 7200) * 1000)), sec - 7300, 50, "old"); // last write 2 h ago
    write(rotatedName(new Date((sec - 600) * 1000)), sec - 900, 300, "mid");
    write("access.log", sec - 600, 500, "new");
    writeFileSync(join(l.logDir, "access.log"), "{\"half", { flag: "a" }); // a line being written
    const acc = new StatsAccumulator(sec - 1800);
    const seen: string[] = [];
    // Tiny chunks: lines cross every chunk boundary.
    const files = await streamAccessLogs(new LocalHost(), l, sec - 1800, (r) => { acc.add(r); seen.push(r.version!); }, 1000);
    expect(files).toEqual(["access.log", rotatedName(new Date((sec - 600) * 1000))]);
    expect(acc.result().map((r) => [r.version, r.requests])).toEqual([["new", 500], ["mid", 300]]);
    expect(seen).toHaveLength(800);
  });

  it("filesToRead stops at the first rotated file older than the window", () => {
    const files = [f("access.log", 1), f("access.log-20261123T010000000Z", 1, 3_600_000), f("access.log-20261122T010000000Z", 1, DAY), f("access.log-20261121T010000000Z", 1, 2 * DAY)];
    expect(filesToRead(files, now.getTime() / 1000 - 7200).map((x) => x.name)).toEqual(["access.log", "access.log-20261123T010000000Z"]);
  });

  it("rotateLogs renames a full access.log and leaves a small one alone", async () => {
    const acc = join(l.logDir, "access.log");
    writeFileSync(acc, "x".repeat(2 * MB));
    const plan = await rotateLogs(new LocalHost(), l, { maxBytes: MB, keep: 10, maxAgeMs: 365 * DAY }, { pidFile: join(root, "no-nginx.pid"), now });
    expect(plan.rotateTo).toBe(rotatedName(now));
    await expect(new LocalHost().list(l.logDir)).resolves.toContain(rotatedName(now));
    expect(await new LocalHost().exists(acc)).toBe(false);
    expect((await rotateLogs(new LocalHost(), l, { maxBytes: MB, keep: 10, maxAgeMs: 365 * DAY }, { pidFile: join(root, "no-nginx.pid") })).rotateTo).toBeNull();
  });
});
