import { describe, expect, it } from "vitest";
import type { Host, HttpResponse } from "../../src/host/host.js";
import { bodyHead, checkHealthOnce, waitHealthy } from "../../src/release/health.js";

/** A host whose socket answers with `answer(n)` for the n-th request (0-based); time is a fake clock. */
function fake(answer: (n: number) => HttpResponse | Error) {
  let t = 0;
  let n = 0;
  const host = {
    name: "fake",
    httpGetUnix: async () => {
      t += 10; // each request takes 10 ms of fake time
      const a = answer(n++);
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as Host;
  const clock = { now: () => t, sleep: async (ms: number) => void (t += ms) };
  return { host, clock, requests: () => n };
}

const opts = { socketPath: "/x/app.sock", path: "/health", hostHeader: "a.localhost", timeoutMs: 60_000, concurrency: 4 };
const ok: HttpResponse = { status: 200, headers: {}, body: "ok" };
const err500: HttpResponse = { status: 500, headers: {}, body: "Traceback (most recent call last):\n  File app.py\nKeyError: 'DB'\n" };

describe("waitHealthy", () => {
  it("passes after the app starts answering 200, single and concurrent", async () => {
    const f = fake((n) => (n < 10 ? new Error("connect ENOENT /x/app.sock") : ok));
    const r = await waitHealthy(f.host, { ...opts, ...f.clock });
    expect(r.ok).toBe(true);
    expect(f.requests()).toBe(11 + 4);
  });

  it("gives up after a few seconds of the same HTTP failure, with the status and the body's first lines", async () => {
    const f = fake(() => err500);
    const r = await waitHealthy(f.host, { ...opts, ...f.clock });
    expect(r.ok).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(5000);
    expect(r.ms).toBeLessThan(6000);
    if (r.ok) return;
    expect(r.reason).toMatch(/^answered the same failure \d+ times in 5s: GET \/health answered 500:\nTraceback/);
    expect(r.reason).toContain("KeyError: 'DB'");
  });

  it("keeps waiting while the socket is missing or refuses connections, up to the timeout", async () => {
    const f = fake((n) => new Error(n % 2 ? "connect ECONNREFUSED" : "connect ENOENT"));
    const r = await waitHealthy(f.host, { ...opts, timeoutMs: 20_000, ...f.clock });
    expect(r.ok).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(20_000);
    if (!r.ok) expect(r.reason).toMatch(/^not healthy within 20s \(GET \/health: connect/);
  });

  it("does not give up early while the failure changes (an app still warming up)", async () => {
    // 503 with a changing body, then 200 after 15 s of fake time.
    const f = fake((n) => (n < 55 ? { status: 503, headers: {}, body: `warming up ${n}` } : ok));
    const r = await waitHealthy(f.host, { ...opts, ...f.clock });
    expect(r.ok).toBe(true);
    expect(r.ms).toBeGreaterThan(10_000);
  });

  it("starts counting the stable failure anew after a connection error", async () => {
    // 500, refused, 500, refused...: never three identical answers in a row.
    const f = fake((n) => (n % 2 ? new Error("connect ECONNREFUSED") : err500));
    const r = await waitHealthy(f.host, { ...opts, timeoutMs: 15_000, ...f.clock });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^not healthy within 15s/);
  });

  it("fails when the concurrent round fails, naming how many", async () => {
    const f = fake((n) => (n % 5 === 3 ? { status: 502, headers: {}, body: "" } : ok));
    const r = await waitHealthy(f.host, { ...opts, timeoutMs: 3000, ...f.clock });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/1 of 4 concurrent requests failed: GET \/health answered 502/);
  });

  it("stops at once when abort says so", async () => {
    const f = fake(() => new Error("connect ENOENT"));
    const r = await waitHealthy(f.host, { ...opts, ...f.clock, abort: async () => (f.requests() >= 3 ? "supervisord reports x FATAL" : null) });
    expect(r).toMatchObject({ ok: false, reason: "supervisord reports x FATAL" });
  });
});

describe("bodyHead", () => {
  it("keeps the first lines and cuts long ones", () => {
    expect(bodyHead("a\r\nb\nc\nd\ne\nf\n")).toBe("a\nb\nc\nd\ne");
    expect(bodyHead("x".repeat(600))).toBe(`${"x".repeat(500)}...`);
  });
});

describe("checkHealthOnce", () => {
  it("sends one request: 200 passes, anything else says what it answered", async () => {
    const good = fake(() => ok);
    expect(await checkHealthOnce(good.host, opts)).toEqual({ ok: true });
    expect(good.requests()).toBe(1);
    const bad = fake(() => err500);
    expect(await checkHealthOnce(bad.host, opts)).toEqual({ ok: false, reason: "GET /health answered 500:\nTraceback (most recent call last):\n  File app.py\nKeyError: 'DB'" });
    expect(bad.requests()).toBe(1);
    const dead = fake(() => new Error("connect ECONNREFUSED /x/app.sock\nmore"));
    expect(await checkHealthOnce(dead.host, opts)).toEqual({ ok: false, reason: "GET /health: connect ECONNREFUSED /x/app.sock" });
  });
});
