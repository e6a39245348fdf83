import type { Host } from "../host/host.js";
import type { Layout } from "../naming/layout.js";

/** One line of audit.log (JSON lines). */
export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  version?: string;
  from?: unknown;
  to?: unknown;
  result: "ok" | "failed" | "refused";
  detail?: string;
}

/** Appends with O_APPEND semantics on the host (a line is written whole). */
export async function audit(host: Host, l: Layout, entry: Omit<AuditEntry, "at"> & { at?: string }): Promise<void> {
  const line = JSON.stringify({ at: entry.at ?? new Date().toISOString(), ...entry }) + "\n";
  await host.appendFile(l.auditLog, line);
}

export async function readAudit(host: Host, l: Layout): Promise<AuditEntry[]> {
  const text = (await host.readFile(l.auditLog)) ?? "";
  return text
    .split("\n")
    .filter((s) => s.trim())
    .map((s) => JSON.parse(s) as AuditEntry);
}
