import type { Config } from "../config/schema.js";
import type { Host } from "../host/host.js";
import { inspectImage } from "../images/ship.js";
import { allProgramStates, type ProgramState } from "../supervisor/ctl.js";
import { releaseProcesses } from "./workers.js";
import { readTraffic, type TrafficState } from "../switch/traffic.js";
import { programName, type Layout } from "../naming/layout.js";
import { readRelease, type ReleaseMeta } from "./metadata.js";
import { openConnections } from "./drain.js";
import { LIST_HEALTH_MS } from "../timeouts.js";

export type Role = "live" | "canary" | "previous" | null;

export interface ReleaseRow {
  host: string;
  version: string;
  /** live, canary N%, previous, installed, failed, stopped, installing */
  state: string;
  role: Role;
  health: "healthy" | "unhealthy" | "down";
  process: ProgramState;
  /** Every process of the release (web first) and its supervisord state. */
  processes: ProcessRow[];
  meta: ReleaseMeta | null;
  imageBytes: number | null;
  /** Established connections to its socket on this host (WebSockets, streams, requests in flight); null: cannot count. */
  connections: number | null;
}

export interface ProcessRow {
  name: string;
  state: ProgramState;
  /** Runs in every release (web always); the others run in the live release only. */
  every_release: boolean;
}

/** "web:running worker:stopped". Pure. */
export function processSummary(ps: readonly ProcessRow[]): string {
  return ps.map((p) => `${p.name}:${p.state === "ABSENT" ? "-" : p.state.toLowerCase()}`).join(" ");
}

/** The role a version plays in the traffic state. Pure. */
export function roleOf(version: string, t: TrafficState): Role {
  if (t.live === version) return "live";
  if (t.canary?.version === version) return "canary";
  if (t.previous === version) return "previous";
  return null;
}

/** What `depl list` shows for a release. Pure. */
export function stateLabel(role: Role, t: TrafficState, meta: ReleaseMeta | null, process: ProgramState): string {
  if (role === "canary") return `canary ${t.canary!.percent}%`;
  if (role) return role;
  if (!meta) return "unknown";
  if (meta.state === "installed" && process !== "RUNNING") return "stopped";
  return meta.state;
}

export async function inventory(host: Host, config: Config, l: Layout): Promise<{ traffic: TrafficState; rows: ReleaseRow[] }> {
  const traffic = await readTraffic(host, l);
  const rows: ReleaseRow[] = [];
  const states = await allProgramStates(host);
  const stateOf = (version: string, p: string) => states.get(programName(config.app, version, p)) ?? "ABSENT";
  const versions = await host.list(l.releases);
  // Counted before the health requests below, which would count themselves.
  const { counts } = await openConnections(host, l, versions);
  for (const version of versions) {
    const meta = await readRelease(host, l, version);
    const process = stateOf(version, "web");
    const processes: ProcessRow[] = [
      { name: "web", state: process, every_release: true },
      ...Object.entries(releaseProcesses(meta, config)).map(([name, spec]) => ({ name, state: stateOf(version, name), every_release: spec.every_release })),
    ];
    const role = roleOf(version, traffic);
    let health: ReleaseRow["health"] = "down";
    if (process === "RUNNING") {
      const r = await host
        .httpGetUnix(l.socket(version), config.health.path, { host: config.domain, timeoutMs: LIST_HEALTH_MS })
        .catch(() => null);
      health = r?.status === 200 ? "healthy" : "unhealthy";
    }
    const image = await inspectImage(host, `${config.app}:${version}`);
    rows.push({
      host: host.name,
      version,
      state: stateLabel(role, traffic, meta, process),
      role,
      health,
      process,
      processes,
      meta,
      imageBytes: image?.sizeBytes ?? null,
      connections: counts?.get(version) ?? null,
    });
  }
  rows.sort((a, b) => (a.meta?.built_at ?? "").localeCompare(b.meta?.built_at ?? "") || a.version.localeCompare(b.version));
  return { traffic, rows };
}
