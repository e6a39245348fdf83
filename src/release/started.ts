import { DeplError } from "../errors.js";
import type { Host } from "../host/host.js";
import { docker } from "../images/docker-argv.js";

// "Up" means the app's container is up: seen running, and still the same
// container (same id, same start) a stable time later, from Docker's own
// state. supervisord's RUNNING is no measure of it: it counts the run
// script's life, and under load the script can live past startsecs before
// the container has even started.

/** How long a process's container must keep running, unrestarted, to count as started. */
export const STABLE_MS = 2000;
/** How long a start may take, on a loaded host, before it counts as failed. */
export const START_TIMEOUT_MS = 90_000;

export interface ContainerState {
  id: string;
  /** Docker's status: created (by docker run, not started yet), running, exited, dead, removing... */
  status: string;
  running: boolean;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
}

/** One `docker inspect` line of docker.inspectState, or null when it is not that. Pure. */
export function parseContainerState(line: string): ContainerState | null {
  const m = /^("[^"]*") (\{.*\})\s*$/.exec(line.trim());
  if (!m) return null;
  try {
    const id = JSON.parse(m[1]!) as string;
    const s = JSON.parse(m[2]!) as Record<string, unknown>;
    if (typeof s.Running !== "boolean") return null;
    return {
      id,
      status: typeof s.Status === "string" ? s.Status : s.Running ? "running" : "exited",
      running: s.Running,
      startedAt: String(s.StartedAt ?? ""),
      finishedAt: String(s.FinishedAt ?? ""),
      exitCode: typeof s.ExitCode === "number" ? s.ExitCode : -1,
    };
  } catch {
    return null;
  }
}

export type StartStep = { kind: "wait" } | { kind: "up"; id: string } | { kind: "failed"; reason: string };

/** Seconds between two of Docker's timestamps, or null. Pure. */
function secondsBetween(from: string, to: string): number | null {
  const a = Date.parse(from);
  const b = Date.parse(to);
  return Number.isFinite(a) && Number.isFinite(b) && b >= a ? (b - a) / 1000 : null;
}

/**
 * Judges a container's start from successive observations (null: no such
 * container). `baseline` is the container that was there before the start
 * (an exited one is not this start's; a running one may be adopted). Pure:
 * the caller inspects and passes the time.
 */
export class StartWatch {
  private seen: { id: string; startedAt: string; since: number } | null = null;
  constructor(
    private readonly baseline: ContainerState | null,
    private readonly stableMs = STABLE_MS,
  ) {}

  observe(state: ContainerState | null, at: number): StartStep {
    const seen = this.seen;
    if (state === null) {
      // It was running and is gone: the run script removed it to start another.
      return seen ? { kind: "failed", reason: "its container stopped and was replaced (it exits and is restarted)" } : { kind: "wait" };
    }
    if (!state.running) {
      if (!seen && this.baseline && state.id === this.baseline.id) return { kind: "wait" }; // the old one, not this start's
      // docker run creates, then starts: a container seen between the two has not run yet.
      if (state.status === "created" && (!seen || seen.id !== state.id)) return { kind: "wait" };
      if (state.status === "removing") return seen ? { kind: "failed", reason: "its container stopped and was replaced (it exits and is restarted)" } : { kind: "wait" };
      const lived = secondsBetween(state.startedAt, state.finishedAt);
      return { kind: "failed", reason: `its container exited with code ${state.exitCode}${lived === null ? "" : ` after ${lived.toFixed(1)} s`}` };
    }
    if (seen && (seen.id !== state.id || seen.startedAt !== state.startedAt)) {
      return { kind: "failed", reason: "its container was restarted (it exits and is started again)" };
    }
    if (!seen) {
      this.seen = { id: state.id, startedAt: state.startedAt, since: at };
      return { kind: "wait" };
    }
    return at - seen.since >= this.stableMs ? { kind: "up", id: state.id } : { kind: "wait" };
  }
}

/** The container's state now, or null when there is none (or the engine does not answer). */
export async function containerState(host: Host, name: string): Promise<ContainerState | null> {
  const r = await host.run(docker.inspectState(name), { allowFailure: true });
  return r.code === 0 ? parseContainerState(r.stdout) : null;
}

export interface WaitUpOptions {
  baseline: ContainerState | null;
  /** A watch that has already seen the start (e.g. during the health check): its observations count. */
  watch?: StartWatch;
  timeoutMs?: number;
  stableMs?: number;
  /** Says why to give up early (e.g. supervisord reports the program FATAL), or null. */
  abort?: () => Promise<string | null>;
}

/** Waits until the container is up (StartWatch); else the reason it is not. */
export async function waitContainerUp(host: Host, name: string, o: WaitUpOptions): Promise<{ ok: true; id: string } | { ok: false; reason: string }> {
  const watch = o.watch ?? new StartWatch(o.baseline, o.stableMs);
  const started = Date.now();
  const timeout = o.timeoutMs ?? START_TIMEOUT_MS;
  for (;;) {
    const step = watch.observe(await containerState(host, name), Date.now());
    if (step.kind === "up") return { ok: true, id: step.id };
    if (step.kind === "failed") return { ok: false, reason: step.reason };
    const stop = o.abort ? await o.abort() : null;
    if (stop) return { ok: false, reason: stop };
    if (Date.now() - started > timeout) return { ok: false, reason: `its container was not running ${Math.round(timeout / 1000)} s after the start` };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A DeplError for a process that did not come up. */
export function notUp(hostName: string, what: string, reason: string, detail = ""): DeplError {
  return new DeplError(`${hostName}: ${what} did not stay up: ${reason}${detail ? `\n${detail}` : ""}`);
}
