import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalHost } from "../../src/host/local.js";
import { layout } from "../../src/naming/layout.js";
import { switchFleet } from "../../src/release/fleet.js";
import type { OnHost } from "../../src/release/on-host.js";
import { planSetLive } from "../../src/switch/plan.js";
import { ensureTrafficDirs, parseTrafficListing, readTraffic, readTrafficLinks, setCanary, setLive } from "../../src/switch/traffic.js";
import type { Config } from "../../src/config/schema.js";

// Three "hosts", each a LocalHost on its own root in a temporary directory:
// the real file system calls of a switch, without SSH.

class NamedLocal extends LocalHost {
  constructor(override readonly name: string) {
    super();
  }
}

async function fleet(n: number): Promise<OnHost[]> {
  const dir = mkdtempSync(join(tmpdir(), "depl-fleet-"));
  const hosts: OnHost[] = [];
  for (let i = 1; i <= n; i++) {
    const host = new NamedLocal(`web${i}`) as unknown as LocalHost;
    const l = layout(join(dir, `h${i}`), "shop");
    await ensureTrafficDirs(host, l);
    await setLive(host, l, "2026.01.01.00.00");
    hosts.push({ host, layout: l, config: {} as Config, actor: "test", say: () => undefined });
  }
  return hosts;
}

const V2 = "2026.01.02.00.00";
const lives = (hosts: OnHost[]) => Promise.all(hosts.map(async (a) => (await readTraffic(a.host, a.layout)).live));

describe("switchFleet", () => {
  it("switches every host, and measures the renames' spread", async () => {
    const hosts = await fleet(3);
    const r = await switchFleet(hosts, { action: "promote", plan: async (a, links) => ({ ops: planSetLive(a.layout, links, V2) }) });
    expect(await lives(hosts)).toEqual([V2, V2, V2]);
    expect(Object.keys(r.renamedAt)).toEqual(["web1", "web2", "web3"]);
    expect(r.skewMs).toBeGreaterThanOrEqual(0);
    expect((await readTraffic(hosts[0]!.host, hosts[0]!.layout)).previous).toBe("2026.01.01.00.00");
  });

  it("switches no host when one refuses in the first phase, and leaves no staged link behind", async () => {
    const hosts = await fleet(3);
    const err = await switchFleet(hosts, {
      action: "promote",
      plan: async (a, links) => {
        if (a.host.name === "web2") throw new Error(`web2: version ${V2} is not running (supervisord: STOPPED)`);
        return { ops: planSetLive(a.layout, links, V2) };
      },
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe(`promote refused on web2 (version ${V2} is not running (supervisord: STOPPED)); no host was switched`);
    expect(await lives(hosts)).toEqual(Array(3).fill("2026.01.01.00.00"));
    for (const a of hosts) expect((await a.host.list(a.layout.traffic)).filter((f) => f.includes(".depl-"))).toEqual([]);
  });

  it("puts every host back on its exact links when one fails after its rename", async () => {
    const hosts = await fleet(3);
    const before = await Promise.all(hosts.map((a) => readTraffic(a.host, a.layout)));
    const err = await switchFleet(hosts, {
      action: "promote",
      plan: async (a, links) => ({ ops: planSetLive(a.layout, links, V2) }),
      verify: async (a) => {
        if (a.host.name === "web3") throw new Error("after switching, nginx served no version with status 502");
      },
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe("promote failed on web3 (after switching, nginx served no version with status 502); every host is switched back to the links it had");
    expect(await Promise.all(hosts.map((a) => readTraffic(a.host, a.layout)))).toEqual(before);
  });
});

describe("reading every traffic link at once (as over SSH)", () => {
  it("parses find's listing into the links that one readlink each gives", async () => {
    const [a] = await fleet(1);
    await setLive(a!.host, a!.layout, V2);
    await setCanary(a!.host, a!.layout, "2026.01.01.00.00", 7);
    const r = await a!.host.run(["find", a!.layout.traffic, "-mindepth", "1", "-maxdepth", "2", "-type", "l", "-printf", "%P\\t%l\\0"]);
    expect(parseTrafficListing(a!.layout, r.stdout)).toEqual(await readTrafficLinks(a!.host, a!.layout));
    expect(parseTrafficListing(a!.layout, "").buckets.every((b) => b === null)).toBe(true);
  });
});
