import type { VersionStats } from "./compute.js";

export interface Labelled extends VersionStats {
  role: string;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const ms = (x: number) => `${x.toFixed(1)}ms`;

/** A plain-text table, live and canary first, then a line with their difference. Pure. */
export function formatStats(rows: Labelled[], since: string): string {
  if (rows.length === 0) return `no requests served by any version in the last ${since}`;
  const header = ["version", "role", "requests", "share", "2xx", "3xx", "4xx", "5xx", "5xx rate", "p50", "p95", "p99"];
  const body = rows.map((r) => [
    r.version, r.role, String(r.requests), pct(r.share), String(r.s2xx), String(r.s3xx), String(r.s4xx), String(r.s5xx),
    pct(r.errorRate), ms(r.p50), ms(r.p95), ms(r.p99),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [line(header), ...body.map(line)];
  const live = rows.find((r) => r.role === "live");
  const can = rows.find((r) => r.role.startsWith("canary"));
  if (live && can) {
    const sign = (x: number, f: (n: number) => string) => (x >= 0 ? "+" : "-") + f(Math.abs(x));
    out.push(
      `canary vs live: 5xx rate ${sign(can.errorRate - live.errorRate, pct)}, p50 ${sign(can.p50 - live.p50, ms)}, ` +
        `p95 ${sign(can.p95 - live.p95, ms)}, p99 ${sign(can.p99 - live.p99, ms)}`,
    );
  }
  return out.join("\n");
}
