import { mkdir, mkdtemp, readlink, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { layout, type Layout } from "../../src/naming/layout.js";
import {
  ensureTrafficDirs,
  readTraffic,
  readTrafficLinks,
  restoreTraffic,
  routeVersion,
  setCanary,
  setLive,
  stopCanary,
  unrouteVersion,
} from "../../src/switch/traffic.js";

// Real links in a temp directory: the pointer moves are file-system work.
const host = new LocalHost();
const A = "2024.05.01.10.00";
const B = "feature-x";
let root: string;
let l: Layout;

async function fakeRelease(v: string): Promise<void> {
  await mkdir(l.sockDir(v), { recursive: true });
  await writeFile(l.socket(v), "");
}

const bucket = (n: string) => readlink(join(l.bucketsDir, `${n}.sock`));

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "depl-traffic-"));
  l = layout(root, "app1");
  await fakeRelease(A);
  await fakeRelease(B);
  await ensureTrafficDirs(host, l);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("traffic links on disk", () => {
  it("starts with 100 buckets on live.sock and nothing live", async () => {
    expect(await host.list(l.bucketsDir)).toHaveLength(100);
    expect(await bucket("00")).toBe("../live.sock");
    expect(await bucket("99")).toBe("../live.sock");
    expect(await readTraffic(host, l)).toEqual({ live: null, previous: null, canary: null });
  });

  it("routes a version's preview with a relative link that resolves to its socket", async () => {
    await routeVersion(host, l, B);
    expect(await readlink(l.versionLink(B))).toBe(`../../releases/${B}/sock/app.sock`);
    expect(await realpath(l.versionLink(B))).toBe(await realpath(l.socket(B)));
    await unrouteVersion(host, l, B);
    expect(await host.exists(l.versionLink(B))).toBe(false);
    expect(await host.exists(l.socket(B))).toBe(true);
  });

  it("moves live and keeps the old target as previous", async () => {
    await setLive(host, l, A);
    expect(await readTraffic(host, l)).toEqual({ live: A, previous: null, canary: null });
    await setLive(host, l, B);
    expect(await readTraffic(host, l)).toEqual({ live: B, previous: A, canary: null });
    expect(await realpath(join(l.bucketsDir, "42.sock"))).toBe(await realpath(l.socket(B)));
    expect(await readlink(l.liveLink)).toBe(`../releases/${B}/sock/app.sock`);
  });

  it("runs a canary, changes its share, and stops it", async () => {
    await setLive(host, l, A);
    await setCanary(host, l, B, 5);
    expect(await readTraffic(host, l)).toEqual({ live: A, previous: null, canary: { version: B, percent: 5 } });
    expect(await bucket("04")).toBe("../canary.sock");
    expect(await bucket("05")).toBe("../live.sock");
    expect(await realpath(join(l.bucketsDir, "00.sock"))).toBe(await realpath(l.socket(B)));

    await setCanary(host, l, B, 20);
    expect((await readTraffic(host, l)).canary).toEqual({ version: B, percent: 20 });
    await ensureTrafficDirs(host, l); // leaves a running canary alone
    expect((await readTraffic(host, l)).canary).toEqual({ version: B, percent: 20 });

    await stopCanary(host, l);
    expect(await readTraffic(host, l)).toEqual({ live: A, previous: null, canary: null });
    expect(await host.exists(l.canaryLink)).toBe(false);
    expect(await bucket("00")).toBe("../live.sock");
    // Nothing but the 100 links is left behind in buckets/.
    expect(await host.list(l.bucketsDir)).toHaveLength(100);
  });

  it("refuses bad input before touching a link", async () => {
    await setLive(host, l, A);
    await expect(setCanary(host, l, B, 0)).rejects.toThrow(/1 to 99/);
    await expect(setCanary(host, l, B, 100)).rejects.toThrow(/1 to 99/);
    await expect(setLive(host, l, "../../etc")).rejects.toThrow(/invalid version/);
    await expect(routeVersion(host, l, "a/b")).rejects.toThrow(/invalid version/);
    expect(await readTraffic(host, l)).toEqual({ live: A, previous: null, canary: null });
  });
});

describe("restoreTraffic", () => {
  it("puts every link back as read, live and previous alike, on a real directory", async () => {
    const C = "2024.05.03.12.00";
    await fakeRelease(C);
    await setLive(host, l, A);
    await setLive(host, l, B); // live B, previous A
    await setCanary(host, l, C, 20);
    const snapshot = await readTrafficLinks(host, l);
    await setLive(host, l, C); // live C, previous B: what a failed promote leaves
    await stopCanary(host, l);
    await restoreTraffic(host, l, snapshot);
    expect(await readTrafficLinks(host, l)).toEqual(snapshot);
    expect(await readTraffic(host, l)).toEqual({ live: B, previous: A, canary: { version: C, percent: 20 } });
  });
});
