import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { depl, expectExit } from "../helpers/cli.js";
import { get } from "../helpers/http.js";
import { buildinst, removeApp, testApp, writeAppConfig } from "../helpers/app.js";
import { openWs, type WsClient } from "../helpers/ws.js";

// Open connections hold their release: remove and prune wait for them
// (drain_timeout), refuse or skip when they stay open, and `depl list` counts
// them. Server-sent events go through nginx as they are written.

const t = testApp("drain");
const DRAIN = 6_000;
let config = "";
let v1 = "";
let v2 = "";
let v3 = "";
const open: WsClient[] = [];

function writeConfig(buffering: boolean): void {
  const text = readFileSync(config, "utf8").replace(/^nginx: .*$/m, `nginx: { listen: ${t.port}, buffering: ${buffering} }`);
  writeFileSync(config, text);
}

beforeAll(async () => {
  removeApp(t);
  config = writeAppConfig(t, "depl.yml", `drain_timeout: ${DRAIN / 1000}s\n`);
  writeConfig(false);
  expectExit(await depl(["-c", config, "setup"]));
  v1 = await buildinst(config);
  v2 = await buildinst(config);
  v3 = await buildinst(config);
  expectExit(await depl(["-c", config, "promote", v1]));
});

afterAll(async () => {
  for (const ws of open) ws.close().catch(() => undefined);
  removeApp(t);
});

async function ws(host: string): Promise<WsClient> {
  const c = await openWs(80, host, "/ws", 300_000);
  open.push(c);
  return c;
}

/** An answer within 5 s, or "no answer". */
const askSoon = (c: WsClient, text: string) => Promise.race([c.ask(text), new Promise<string>((r) => setTimeout(() => r("no answer"), 5000))]);

async function connections(): Promise<Record<string, number | null>> {
  const r = await depl(["-c", config, "list", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries((JSON.parse(r.stdout) as { version: string; connections: number | null }[]).map((x) => [x.version, x.connections]));
}

describe("drain", () => {
  it("a socket open on a retired version holds it: remove waits, refuses, and succeeds once the socket closes; prune skips it", async () => {
    const base = await ws(t.domain);
    expect(await base.ask("hello")).toBe(`${v1}: hello`);
    const preview = await ws(`${v1}.${t.domain}`);
    expect(await preview.ask("p")).toBe(`${v1}: p`);
    expectExit(await depl(["-c", config, "promote", v2]));
    expectExit(await depl(["-c", config, "promote", v3]));
    // v1 is neither live nor previous now; short requests are not counted once answered.
    expect((await get(80, t.domain, "/slow?ms=10")).headers["x-depl-version"]).toBe(v3);
    expect(await connections()).toEqual({ [v1]: 2, [v2]: 0, [v3]: 0 });
    const table = (await depl(["-c", config, "list"])).stdout.split("\n");
    expect(table[0]).toMatch(/^VERSION\s+STATE\s+HEALTH\s+CONNS\s/);
    expect(table.find((l) => l.startsWith(v1))).toMatch(new RegExp(`^${v1.replace(/\./g, "\\.")}\\s+installed\\s+healthy\\s+2\\s`));

    const started = Date.now();
    const refused = await depl(["-c", config, "remove", v1]);
    const took = Date.now() - started;
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(`local: ${v1}: waiting for 2 open connections to close`);
    expect(refused.stderr.trim().split("\n").at(-1)).toBe(
      `depl: local: refusing to remove ${v1}: 2 open connections after waiting ${DRAIN / 1000}s (drain_timeout); depl remove ${v1} --force closes them`,
    );
    expect(took).toBeGreaterThanOrEqual(DRAIN);
    console.log(`remove refused after ${took} ms (drain_timeout ${DRAIN} ms, CLI start included)`);
    // Untouched: both sockets still talk to v1, its preview route is back, it still runs.
    expect(await askSoon(base, "still?")).toBe(`${v1}: still?`);
    expect(await askSoon(preview, "still?")).toBe(`${v1}: still?`);
    expect((await get(80, `${v1}.${t.domain}`, "/health")).headers["x-depl-version"]).toBe(v1);

    const pruned = await depl(["-c", config, "prune", "--keep", "1"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).toContain(`local: not pruning ${v1}: 2 open connections after waiting`);
    expect(pruned.stdout.trim()).toBe("Nothing to prune");
    expect(existsSync(`${t.root}/${t.app}/releases/${v1}`)).toBe(true);
    expect(await askSoon(base, "after prune")).toBe(`${v1}: after prune`);

    const history = (await depl(["-c", config, "history"])).stdout;
    expect(history).toMatch(new RegExp(`remove ${v1.replace(/\./g, "\\.")}  refused: 2 open connections`));
    expect(history).toMatch(new RegExp(`prune ${v1.replace(/\./g, "\\.")}  refused: 2 open connections`));

    await preview.close();
    expect(await connections()).toMatchObject({ [v1]: 1 });
    // remove again; the last socket closes while it waits.
    let closing: Promise<void> | null = null;
    const t0 = Date.now();
    const removed = await depl(["-c", config, "remove", v1], {
      onStderr: (all) => {
        if (!closing && all.includes(`${v1}: waiting for 1 open connection`)) closing = base.close();
      },
    });
    expect(removed.code, removed.stderr).toBe(0);
    expect(closing).not.toBeNull();
    expect(removed.stderr).toMatch(new RegExp(`local: ${v1.replace(/\./g, "\\.")}: no open connection left after \\d`));
    expect(removed.stdout.trim()).toBe(`Removed ${v1}`);
    expect(Date.now() - t0).toBeLessThan(DRAIN + 10_000);
    console.log(`remove with the socket closed while it waited: ${Date.now() - t0} ms`);
    expect(existsSync(`${t.root}/${t.app}/releases/${v1}`)).toBe(false);
    expect((await get(80, `${v1}.${t.domain}`, "/health")).status).toBe(404);
  });

  it("remove --force does not wait: stopping the release closes its sockets", async () => {
    const v4 = await buildinst(config);
    const held = await ws(`${v2}.${t.domain}`);
    expect(await held.ask("x")).toBe(`${v2}: x`);
    expectExit(await depl(["-c", config, "promote", v4]));
    expect(await connections()).toMatchObject({ [v2]: 1 });
    const t0 = Date.now();
    const r = await depl(["-c", config, "remove", v2, "--force"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`local: ${v2}: closing 1 open connection (--force)`);
    expect(r.stderr).not.toContain("waiting for");
    expect(Date.now() - t0).toBeLessThan(15_000);
    console.log(`remove --force with 1 open socket: ${Date.now() - t0} ms`);
    await Promise.race([held.closed, new Promise((_, rej) => setTimeout(() => rej(new Error("socket to the removed version still open")), 10_000))]);
    expect(await connections()).toEqual({ [v3]: 0, [v4]: 0 });
  });
});

interface Event {
  data: string;
  sentMs: number;
  arrivedMs: number;
}

/** GET through nginx on a raw socket: each "data:" line with the time it arrived and the time the app sent it. */
function events(host: string, path: string): Promise<{ head: string; events: Event[] }> {
  return new Promise((resolve, reject) => {
    const sock = connect(80, "127.0.0.1");
    let text = "";
    let seen = 0;
    const got: Event[] = [];
    sock.setTimeout(30_000, () => sock.destroy(new Error("events: timed out")));
    sock.on("error", reject);
    sock.on("connect", () => sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    sock.on("data", (d: Buffer) => {
      const now = Date.now();
      text += d.toString();
      const lines = text.split("\n");
      for (const line of lines.slice(seen, -1)) {
        const m = /^data: (.* sent (\d+\.\d+))$/.exec(line);
        if (m) got.push({ data: m[1]!, sentMs: Number(m[2]) * 1000, arrivedMs: now });
      }
      seen = lines.length - 1;
    });
    sock.on("end", () => resolve({ head: text.slice(0, text.indexOf("\r\n\r\n")), events: got }));
  });
}

describe("server-sent events", () => {
  const gap = 700;

  it("with nginx.buffering: false, each event arrives as the app sends it", async () => {
    const { head, events: ev } = await events(t.domain, `/events?n=4&ms=${gap}`);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/content-type: text\/event-stream/i);
    const live = (await get(80, t.domain, "/health")).headers["x-depl-version"] as string;
    expect(ev.map((e) => e.data.replace(/ sent .*/, ""))).toEqual([1, 2, 3, 4].map((i) => `${live} event ${i}`));
    // The first event is through before the last is even written, and none waits in nginx.
    expect(ev[0]!.arrivedMs).toBeLessThan(ev[3]!.sentMs - 2 * gap);
    for (const e of ev) expect(e.arrivedMs - e.sentMs).toBeLessThan(300);
    console.log(`buffering off: arrival - sent per event (ms): ${ev.map((e) => e.arrivedMs - Math.round(e.sentMs)).join(", ")}`);
  });

  it("with nginx.buffering: true every event still arrives, measured and logged (nginx 1.22 passed each chunk on at once here)", async () => {
    writeConfig(true);
    expectExit(await depl(["-c", config, "setup"]));
    expect(readFileSync(`${t.root}/${t.app}/nginx/site.conf`, "utf8")).toContain("proxy_buffering on;");
    const { events: ev } = await events(t.domain, `/events?n=4&ms=${gap}`);
    expect(ev).toHaveLength(4);
    console.log(`buffering on: arrival - sent per event (ms): ${ev.map((e) => e.arrivedMs - Math.round(e.sentMs)).join(", ")}`);
  });
});
