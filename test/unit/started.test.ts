import { describe, expect, it } from "vitest";
import { parseContainerState, StartWatch, type ContainerState } from "../../src/release/started.js";

// A line docker inspect printed here (Docker Engine 20.10) for a container that ran `exit 3`.
const EXITED =
  '"f8d9810a46f2eab952838bd00c4fab7c9eb7dc7dd4e0b02d30f89ad11726cd11" {"Dead":false,"Error":"","ExitCode":3,"FinishedAt":"2026-12-06T02:22:43.789662289Z","OOMKilled":false,"Paused":false,"Pid":0,"Restarting":false,"Running":false,"StartedAt":"2026-12-06T02:22:43.783313423Z","Status":"exited"}\n';

const running = (id: string, startedAt = "2026-12-06T02:00:00.000Z"): ContainerState => ({ id, status: "running", running: true, startedAt, finishedAt: "0001-01-01T00:00:00Z", exitCode: 0 });
const created = (id: string): ContainerState => ({ id, status: "created", running: false, startedAt: "0001-01-01T00:00:00Z", finishedAt: "0001-01-01T00:00:00Z", exitCode: 0 });
const exited = (id: string, exitCode = 1): ContainerState => ({ id, status: "exited", running: false, startedAt: "2026-12-06T02:00:00.000Z", finishedAt: "2026-12-06T02:00:00.500Z", exitCode });

describe("docker inspect state", () => {
  it("reads id, running, start, finish and exit code", () => {
    expect(parseContainerState(EXITED)).toEqual({
      id: "f8d9810a46f2eab952838bd00c4fab7c9eb7dc7dd4e0b02d30f89ad11726cd11",
      status: "exited",
      running: false,
      startedAt: "2026-12-06T02:22:43.783313423Z",
      finishedAt: "2026-12-06T02:22:43.789662289Z",
      exitCode: 3,
    });
  });

  it("is null for anything else (no such container prints nothing on stdout)", () => {
    expect(parseContainerState("")).toBeNull();
    expect(parseContainerState('"x" {"Running":"yes"}')).toBeNull();
    expect(parseContainerState('"x" {not json}')).toBeNull();
  });
});

describe("a process's start, judged from Docker's state", () => {
  it("is up once the same container has run for the stable time", () => {
    const w = new StartWatch(null, 2000);
    expect(w.observe(null, 0).kind).toBe("wait"); // the run script has not started it yet
    expect(w.observe(running("a"), 500).kind).toBe("wait");
    expect(w.observe(running("a"), 2000).kind).toBe("wait");
    expect(w.observe(running("a"), 2500)).toEqual({ kind: "up", id: "a" });
  });

  it("waits while docker run has created the container but not started it (seen under load)", () => {
    const w = new StartWatch(null, 2000);
    expect(w.observe(created("a"), 0).kind).toBe("wait");
    expect(w.observe(running("a"), 400).kind).toBe("wait");
    expect(w.observe(running("a"), 2400).kind).toBe("up");
  });

  it("fails at once when the new container has exited, with its exit code and how long it lived", () => {
    const w = new StartWatch(null, 2000);
    expect(w.observe(exited("a", 1), 100)).toEqual({ kind: "failed", reason: "its container exited with code 1 after 0.5 s" });
  });

  it("fails when the container it saw running is replaced (exits at once and is started again)", () => {
    const w = new StartWatch(null, 2000);
    w.observe(running("a"), 0);
    expect(w.observe(running("b"), 300)).toEqual({ kind: "failed", reason: "its container was restarted (it exits and is started again)" });
    const gone = new StartWatch(null, 2000);
    gone.observe(running("a"), 0);
    expect(gone.observe(null, 300).kind).toBe("failed");
    const restarted = new StartWatch(null, 2000);
    restarted.observe(running("a", "2026-12-06T02:00:00Z"), 0);
    expect(restarted.observe(running("a", "2026-12-06T02:00:01Z"), 300).kind).toBe("failed");
  });

  it("passes over the exited container of an earlier start (the run script replaces it)", () => {
    const old = exited("old", 137);
    const w = new StartWatch(old, 2000);
    expect(w.observe(old, 0).kind).toBe("wait");
    expect(w.observe(running("new"), 100).kind).toBe("wait");
    expect(w.observe(running("new"), 2200)).toEqual({ kind: "up", id: "new" });
  });

  it("adopts a container of the same spec that was already running", () => {
    const w = new StartWatch(running("kept"), 2000);
    expect(w.observe(running("kept"), 0).kind).toBe("wait");
    expect(w.observe(running("kept"), 2000)).toEqual({ kind: "up", id: "kept" });
  });

  it("does not take the stable time from the machine's clock against Docker's: only from its own observations", () => {
    // StartedAt an hour ago (another clock) changes nothing: the container must be seen running for the stable time.
    const w = new StartWatch(null, 2000);
    expect(w.observe(running("a", "2026-12-06T01:00:00Z"), 10_000).kind).toBe("wait");
    expect(w.observe(running("a", "2026-12-06T01:00:00Z"), 11_000).kind).toBe("wait");
    expect(w.observe(running("a", "2026-12-06T01:00:00Z"), 12_000).kind).toBe("up");
  });
});
