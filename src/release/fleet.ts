import { DeplError } from "../errors.js";
import type { StagedLinks } from "../host/host.js";
import { fanOut, reasonOf } from "../host/fanout.js";
import { applyLinkOps, readTrafficLinks, restoreTraffic } from "../switch/traffic.js";
import type { LinkOp, TrafficLinks } from "../switch/plan.js";
import { dropAfterRename, faultPoint } from "./fault.js";
import type { OnHost } from "./on-host.js";

// One switch for all hosts, in three phases (DESIGN.md, "Switching traffic"):
//   1. every host is checked and its link changes are staged (made under
//      temporary names; nothing serves them yet);
//   2. every host renames them into place at once (a step already waiting on
//      each host, so the renames are a few ms apart);
//   3. each host is verified through its own nginx.
// A failure in phase 1 cancels every staged change: no host was switched. A
// failure after any rename puts every host back to exactly the links it had.

export interface HostChange {
  /** The host's link changes, in order: the link moves up to the first unlink are renamed at once, the rest follow. */
  ops: LinkOp[];
}

export interface FleetSwitch {
  /** Hosts whose links moved, with their clock (ms since the epoch) right after their renames. */
  renamedAt: Record<string, number>;
  /** Between the first and the last host's renames, by the hosts' clocks; null with fewer than two. */
  skewMs: number | null;
  /** From sending "go" to the last host's answer, by this machine's clock. */
  goMs: number;
}

export interface SwitchOptions {
  /** "promote", "rollback", "canary"...: names fault points and messages. */
  action: string;
  /** Phase 1, on each host: checks, and the changes (from the links as found). Throws to refuse. */
  plan: (h: OnHost, links: TrafficLinks) => Promise<HostChange>;
  /** Phase 3, on each host whose switch went through: throws when it does not serve what it should. */
  verify?: (h: OnHost) => Promise<void>;
}

export class FleetSwitchError extends DeplError {
  constructor(
    message: string,
    /** Whether any host's links were moved (and then put back). */
    readonly switched: boolean,
  ) {
    super(message);
  }
}

interface Staged {
  h: OnHost;
  snapshot: TrafficLinks;
  rest: LinkOp[];
  staged: StagedLinks | null;
}

function failures(outcomes: { host: string; ok: boolean; error?: Error }[]): string {
  return outcomes.filter((o) => !o.ok).map((o) => `${o.host} (${reasonOf(o.host, o.error!)})`).join(", ");
}

/** Two-phase switch of every host; throws FleetSwitchError naming each failed host and why, after putting every host back. */
export async function switchFleet(hosts: readonly OnHost[], o: SwitchOptions): Promise<FleetSwitch> {
  const named = hosts.map((h) => ({ name: h.host.name, h }));
  // Phase 1: check and stage everywhere.
  const prepared = await fanOut(named, async ({ h }): Promise<Staged> => {
    const snapshot = await readTrafficLinks(h.host, h.layout);
    const { ops } = await o.plan(h, snapshot);
    const firstUnlink = ops.findIndex((op) => op.op === "unlink");
    const moves = (firstUnlink < 0 ? ops : ops.slice(0, firstUnlink)) as Extract<LinkOp, { op: "link" }>[];
    const rest = firstUnlink < 0 ? [] : ops.slice(firstUnlink);
    const staged = moves.length ? await h.host.stageSymlinks(moves.map((m) => ({ target: m.target, linkPath: m.path }))) : null;
    return { h, snapshot, rest, staged };
  }, hosts.length);
  const ready = prepared.flatMap((p) => (p.ok ? [p.value!] : []));
  if (ready.length < prepared.length) {
    await Promise.all(ready.map((s) => s.staged?.cancel().catch(() => undefined)));
    throw new FleetSwitchError(`${o.action} refused on ${failures(prepared)}; no host was switched`, false);
  }
  faultPoint(`${o.action}:staged`);

  // Phase 2: every host's renames at once. Each go() writes to its host before the first await.
  const sent = performance.now();
  const going = ready.map(async (s) => {
    if (!s.staged) return null;
    const at = await s.staged.go();
    if (dropAfterRename(s.h.host.name)) {
      await s.h.host.close(); // a real loss of the connection: the undo must open a new one
      throw new Error(`${s.h.host.name}: connection lost after the rename (DEPL_FAULT_DROP)`);
    }
    return at;
  });
  const renamed = await Promise.allSettled(going);
  const goMs = performance.now() - sent;
  const renamedAt: Record<string, number> = {};
  renamed.forEach((r, i) => {
    if (r.status === "fulfilled" && r.value !== null) renamedAt[ready[i]!.h.host.name] = r.value;
  });
  const times = Object.values(renamedAt);
  const result: FleetSwitch = { renamedAt, skewMs: times.length > 1 ? Math.max(...times) - Math.min(...times) : null, goMs };
  faultPoint(`${o.action}:switched`);

  // Phase 3: what follows the renames, then each host through its nginx.
  const after = await fanOut(
    ready.map((s, i) => ({ name: s.h.host.name, s, i })),
    async ({ s, i }) => {
      const r = renamed[i]!;
      if (r.status === "rejected") throw r.reason as Error;
      if (s.rest.length) await applyLinkOps(s.h.host, s.rest);
      if (o.verify) await o.verify(s.h);
    },
    hosts.length,
  );
  if (after.every((a) => a.ok)) return result;

  // Undo: every host back to the links it had, over a new connection where its own was lost.
  const undone = await fanOut(ready.map((s) => ({ name: s.h.host.name, s })), async ({ s }) => {
    const { host, layout } = s.h;
    try {
      await restoreTraffic(host, layout, s.snapshot);
    } catch {
      await host.reconnect();
      await restoreTraffic(host, layout, s.snapshot);
    }
  }, hosts.length);
  const notUndone = undone.filter((u) => !u.ok);
  const back = notUndone.length
    ? `could not switch back ${failures(undone)}: run depl doctor there`
    : hosts.length === 1 ? "switched back to the links it had" : "every host is switched back to the links it had";
  throw new FleetSwitchError(`${o.action} failed on ${failures(after)}; ${back}`, true);
}

/** "skew 3.1 ms between 3 hosts" for messages; "" for one host. Pure. */
export function describeSkew(s: FleetSwitch): string {
  const n = Object.keys(s.renamedAt).length;
  return s.skewMs === null ? "" : `renames ${s.skewMs.toFixed(1)} ms apart on ${n} hosts`;
}
