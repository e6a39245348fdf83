import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { connectionsText, countConnections, DrainTimeoutError, drainVerdict, parseSs, probeArgv, secondsText, ssDevForms } from "../../src/release/drain.js";

// Captured on the development machine (Debian 12, iproute2 6.1) with
// probeArgv before it had ss filter by name, so the host's other sockets are
// in it too and the parser must pass them over: drainx's live release (1737020) held a WebSocket and three
// /slow requests in flight, app1's live release (1523715) one request, its
// previous release (1523729) none, and the fourth socket did not exist.
// Every release's connections show the same name, /run/app/app.sock (the
// path gunicorn bound inside its container).
const probe = readFileSync(new URL("../fixtures/ss/probe-bookworm.txt", import.meta.url), "utf8");
const sockets = [
  "/srv/depl-drainx/drainx/releases/2026.11.23.08.08/sock/app.sock",
  "/srv/depl/app1/releases/2026.11.23.01.58/sock/app.sock",
  "/srv/depl/app1/releases/2026.11.23.01.57/sock/app.sock",
  "/srv/depl-drainx/drainx/releases/gone/sock/app.sock",
];

describe("counting a release's connections", () => {
  it("builds one probe command: stat of each socket, then ss for the name gunicorn binds, paths as arguments", () => {
    const argv = probeArgv(["/srv/a b/sock/app.sock"]);
    expect(argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(argv[2]).toContain('ss -x -e -H state established src "$n"');
    expect(argv.slice(3)).toEqual(["sh", "/run/app/app.sock", "/srv/a b/sock/app.sock"]);
  });

  it("tells releases apart by the inode of their socket file, not by the name ss shows", () => {
    const counts = countConnections(probe, sockets);
    expect([...counts.values()]).toEqual([4, 1, 0, 0]);
    expect(probe.split("\n").filter((l) => l.includes("/run/app/app.sock")).length).toBe(5);
  });

  it("reads the inode and device of bound sockets only (nginx's end has no file)", () => {
    const found = parseSs(probe);
    expect(found.filter((c) => c.ino === 1737020)).toEqual(Array(4).fill({ ino: 1737020, dev: "0/65024" }));
    expect(parseSs("u_str 0 0 * 17418806 * 17418805 <->\n")).toEqual([]);
  });

  it("matches the device as ss prints it: glibc's major/minor of the kernel's encoding", () => {
    // stat: 65024 (/dev/vda, 254:0) -> ss "0/65024"; a tmpfs (0:27) -> "0/27" (measured).
    expect(ssDevForms(65024n)).toEqual(new Set(["0/65024", "254/0"]));
    expect(ssDevForms(27n)).toEqual(new Set(["0/27"]));
    const tmpfs = "2 27\n--\nu_str 0 0 /dev/shm/drain-test.sock 17055368 * 17055367 <-> ino:2 dev:0/27\n";
    expect(countConnections(tmpfs, ["/dev/shm/drain-test.sock"]).get("/dev/shm/drain-test.sock")).toBe(1);
    // The same inode on another file system is not this socket.
    expect(countConnections("2 65024\n--\nu_str 0 0 /x 1 * 2 <-> ino:2 dev:0/27\n", ["/x"]).get("/x")).toBe(0);
  });

  it("refuses output it does not understand rather than counting nothing", () => {
    expect(() => countConnections("1 2\n", ["/a"])).toThrow(/unexpected connection probe output/);
    expect(() => countConnections("--\n", ["/a"])).toThrow(/unexpected/);
  });
});

describe("draining", () => {
  it("stops at once when nothing is open, waits until the deadline, then gives up", () => {
    expect(drainVerdict(0, 1000, 500)).toBe("drained");
    expect(drainVerdict(2, 400, 500)).toBe("wait");
    expect(drainVerdict(2, 500, 500)).toBe("timeout");
  });

  it("refuses in one line naming the host, version, count, wait and --force", () => {
    const e = new DrainTimeoutError("local", "2026.11.23.08.08", 1, 5012);
    expect(e.message).toBe("local: refusing to remove 2026.11.23.08.08: 1 open connection after waiting 5s (drain_timeout); depl remove 2026.11.23.08.08 --force closes it");
    expect(e.message).not.toContain("\n");
    expect(new DrainTimeoutError("web1", "v", 3, 30_000, "not pruning").message).toBe("web1: not pruning v: 3 open connections after waiting 30s (drain_timeout); depl remove v --force closes them");
    expect(e.exitCode).toBe(1);
  });

  it("says counts and durations plainly", () => {
    expect(connectionsText(0)).toBe("0 open connections");
    expect(secondsText(500)).toBe("500ms");
    expect(secondsText(1540)).toBe("1.5s");
    expect(secondsText(120_000)).toBe("2m");
  });
});
